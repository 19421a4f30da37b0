"""bench_batch_width.py groups a trace's model calls into the batches they were decoded in (calls of
one batch share the batch's timing) and reports tokens per second per batch width."""

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).parents[1] / "benchmark"


def _script(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # the script imports provenance.py beside it
    spec = importlib.util.spec_from_file_location("bench_batch_width", BENCH / "bench_batch_width.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _call(elapsed, tokens):
    return {"kind": "llm_call", "data": {"elapsed_s": elapsed, "decode_s": elapsed - 0.5, "completion_tokens": tokens}}


def test_calls_sharing_a_batchs_timing_count_as_one_batch_of_that_width(tmp_path, monkeypatch):
    mod = _script(monkeypatch)
    events = [_call(2.0, 100), _call(4.0, 100), _call(4.0, 140), {"kind": "phase_finished", "data": {}},
              _call(2.0, 120)]  # a single call timed like the first one, but not next to it
    (tmp_path / "traces").mkdir()
    (tmp_path / "traces" / "t.json").write_text(json.dumps({"events": events}))
    res = mod.analyse(tmp_path)
    by = {r["width"]: r for r in res["by_width"]}
    assert by[1]["batches"] == 2 and by[1]["tokens"] == 220 and by[1]["tok_s"] == 55.0
    assert by[2]["batches"] == 1 and by[2]["tokens"] == 240 and by[2]["tok_s"] == 60.0
    assert by[2]["tok_s_vs_one_sequence"] == 1.09
