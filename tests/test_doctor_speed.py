"""`atlas doctor` measures the default model's decode speed now, on this machine, and says it."""

from atlas_kernel.doctor import SPEED_TOKENS, format_doctor, measure_decode_speed
from atlas_kernel.models.registry import DEFAULT_MODEL
from atlas_kernel.pipeline.events import Event

from widgets.stepper import speed_of


def test_doctor_measures_the_default_models_speed_with_and_without_prompt_lookup():
    speed = measure_decode_speed(DEFAULT_MODEL)
    assert isinstance(speed, dict) and speed["tokens"] == SPEED_TOKENS
    assert speed["plain_tok_s"] > 0 and speed["prompt_lookup_tok_s"] > 0
    from atlas_kernel.models.registry import load_model

    m = load_model(DEFAULT_MODEL)
    try:
        assert speed["draft_policy"] == m.draft_policy  # "profile" on CPU, "all" with GPU offload
    finally:
        m.close()
    report = {"atlas_kernel": "x", "python": "3.11", "platform": "p", "cpus": 2, "packages": {}, "models": {},
              "cache_dir": "/c", "default_model_speed": speed}
    text = format_doctor(report)
    assert "decode speed (measured now" in text and f"(draft policy: {speed['draft_policy']})" in text


def test_doctor_says_in_one_line_why_it_could_not_measure():
    assert measure_decode_speed("/no/such/model.gguf").startswith("not measured: ")


def test_the_stepper_header_reads_each_steps_speed_from_its_events():
    def call(phase, tok_s, **drafts):
        return Event("llm_call", phase, {"completion_tokens": 30, "elapsed_s": 4.0, "solve_tok_s": tok_s, **drafts})

    def done(phase, tok_s, **drafts):
        return Event("phase_finished", phase, {"elapsed_s": 1.0, "tokens": 30, "model_s": 1.0, "tok_s": tok_s, **drafts})

    assert speed_of([]) == "" and speed_of([Event("phase_finished", "verify", {"elapsed_s": 0.1})]) == ""
    events = [call("probe", 30.0), done("probe", 30.0)]
    assert speed_of(events) == "probe 30 tok/s"  # the step's figure, not the call's 30 tokens / 4 s
    events += [call("repair", 40.0, drafted_tokens=20, accepted_tokens=5, solve_acceptance=0.25),
               done("repair", 60.0, acceptance_rate=0.25), Event("phase_finished", "verify", {"elapsed_s": 0.1})]
    assert speed_of(events) == "repair 60 tok/s, 25% of drafts accepted · solve 40 tok/s, 25% of drafts accepted"


def test_the_brief_doctor_loads_no_model_and_measures_nothing(monkeypatch):
    import atlas_kernel.doctor as doctor

    def refuse(name):
        raise AssertionError("doctor --brief must stay fast: no model load, no measurement")

    monkeypatch.setattr(doctor, "measure_decode_speed", refuse)
    report = doctor.doctor_report(check_models=False)  # what `atlas doctor --brief` (install.sh) runs
    assert "default_model_speed" not in report and "decode speed" not in doctor.format_doctor(report)
