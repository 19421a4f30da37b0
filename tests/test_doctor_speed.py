"""`atlas doctor` measures the default model's decode speed now, on this machine, and says it."""

from atlas_kernel.doctor import SPEED_TOKENS, format_doctor, measure_decode_speed
from atlas_kernel.models.registry import DEFAULT_MODEL

from widgets.stepper import speed_of


def test_doctor_measures_the_default_models_speed_with_and_without_prompt_lookup():
    speed = measure_decode_speed(DEFAULT_MODEL)
    assert isinstance(speed, dict) and speed["tokens"] == SPEED_TOKENS
    assert speed["plain_tok_s"] > 0 and speed["prompt_lookup_tok_s"] > 0
    report = {"atlas_kernel": "x", "python": "3.11", "platform": "p", "cpus": 2, "packages": {}, "models": {},
              "cache_dir": "/c", "default_model_speed": speed}
    assert "decode speed (measured now" in format_doctor(report)


def test_doctor_says_in_one_line_why_it_could_not_measure():
    assert measure_decode_speed("/no/such/model.gguf").startswith("not measured: ")


def test_the_stepper_header_reads_speed_from_the_recorded_calls():
    calls = [{"completion_tokens": 30, "elapsed_s": 1.0}, {"completion_tokens": 30, "elapsed_s": 1.0,
                                                           "drafted_tokens": 20, "accepted_tokens": 5}]
    assert speed_of(calls) == "30 tok/s, 25% of drafts accepted"
    assert speed_of([]) == ""
