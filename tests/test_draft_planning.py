"""How much of a draft a decode step carries: only what pays for itself at the step costs, fixed
(a profile) or measured (atlas_kernel/models/step_cost.py)."""

import pytest

from atlas_kernel.models.step_cost import CPU_STEP_PROFILE, StepCosts, acceptance_estimate, mode_prior, plan_drafts


def _costs(ms: dict[int, float]) -> StepCosts:
    c = StepCosts()
    for n, v in ms.items():
        c.record(n, v / 1e3)
    return c


# two machines measured here (bench_speed.py --only shape): multi-token steps dear, and cheap
DEAR = _costs({1: 14.4, 2: 35.9, 4: 48.6, 8: 63.0})
CHEAP = _costs({1: 16.5, 2: 17.5, 4: 19.0, 8: 26.0, 9: 27.0})


def test_without_measurements_every_drafted_token_is_sent_so_the_costs_get_learnt():
    assert plan_drafts({0: [5, 6, 7]}, {0: 0.1}, StepCosts()) == {0: 3}


def test_a_likely_long_copy_is_drafted_even_where_a_two_token_step_is_dear():
    # 8 tokens at 0.95 per position: about 6.7 expected tokens for 63 ms beats 1 for 14.4 ms
    assert plan_drafts({0: list(range(7))}, {0: 0.95}, DEAR) == {0: 7}


def test_a_doubtful_draft_is_not_sent_where_multi_token_steps_are_dear():
    assert plan_drafts({0: [1, 2, 3]}, {0: 0.6}, DEAR) == {0: 0}


def test_where_steps_are_cheap_a_doubtful_draft_is_sent():
    assert plan_drafts({0: [1, 2, 3]}, {0: 0.6}, CHEAP)[0] > 0


def test_the_likelier_sequence_drafts_first_and_prefixes_are_kept():
    plan = plan_drafts({0: [1, 2, 3, 4], 1: [9, 9, 9, 9], 2: []}, {0: 0.95, 1: 0.3, 2: 0.9}, CHEAP)
    assert plan[2] == 0 and plan[0] >= plan[1] and plan[0] > 0
    assert set(plan) == {0, 1, 2}


def test_step_costs_average_what_was_measured_and_guess_optimistically_in_between():
    c = _costs({1: 10.0, 8: 40.0})
    assert c.estimate(1) == pytest.approx(0.010)
    assert 0.010 < c.estimate(4) < 0.040  # between the sizes seen
    assert c.estimate(16) == pytest.approx(0.040)  # larger than seen: tried as if free, then measured
    c.record(1, 0.020)
    assert c.estimate(1) == pytest.approx(0.012)  # moving average, alpha 0.2
    assert c.table() == {1: 12.0, 8: 40.0}
    assert StepCosts().estimate(3) is None


def test_a_profile_does_not_learn_and_grows_linearly_beyond_its_largest_size():
    p = StepCosts.from_profile(CPU_STEP_PROFILE)
    p.record(1, 5.0)
    assert p.estimate(1) == 1.0 and p.estimate(32) == pytest.approx(2 * CPU_STEP_PROFILE[16])
    with pytest.raises(ValueError, match="at least one size"):
        StepCosts.from_profile({0: 1.0})


def test_the_cpu_profile_drafts_for_confident_copies_and_not_for_guesses():
    p = StepCosts.from_profile(CPU_STEP_PROFILE)
    assert plan_drafts({0: list(range(8))}, {0: 0.92}, p)[0] >= 4
    assert plan_drafts({0: list(range(8))}, {0: 0.6}, p)[0] == 0


def test_acceptance_starts_at_the_modes_record_and_follows_the_sequences_own():
    assert mode_prior(0, 0) == pytest.approx(0.9)
    assert mode_prior(10, 90) < 0.2
    assert acceptance_estimate(0, 0, 0.8) == pytest.approx(0.8)
    assert acceptance_estimate(0, 10, 0.8) < 0.3
    assert acceptance_estimate(50, 1, 0.2) > 0.9


def test_a_sequence_that_stopped_drafting_after_a_miss_drafts_again_after_steps_without_one():
    # the backend weighs misses by 0.85 ** steps since the last miss: one early miss stops drafting a while, not for good
    p = StepCosts.from_profile(CPU_STEP_PROFILE)
    draft = {0: list(range(8))}
    assert plan_drafts(draft, {0: acceptance_estimate(0, 1, 0.9)}, p)[0] == 0
    assert plan_drafts(draft, {0: acceptance_estimate(0, 1 * 0.85 ** 8, 0.9)}, p)[0] > 0
