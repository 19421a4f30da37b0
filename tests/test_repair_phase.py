"""PR-CoT repair with a scripted model and the real sandbox: what a round shows the model, what it
keeps, and which program the next round repairs."""

import importlib.util
import inspect
import json
import sys
from pathlib import Path

import pytest

from atlas_kernel.models.scripted import ScriptedModel
from atlas_kernel.pipeline.config import PipelineConfig
from atlas_kernel.pipeline.phases.repair import PERSPECTIVES
from atlas_kernel.pipeline.pipeline import Pipeline
from atlas_kernel.pipeline.programs import holds_no_program, program_key, without_docstring
from atlas_kernel.problems import load_problem

# count_vowels: "hello" -> 2, "AEIOU xyz" -> 5, "" -> 0
PARENT = 'def count_vowels(s: str) -> int:\n    """Count the vowels of s."""\n    return sum(1 for ch in s if ch in "aeiou")\n'
PARENT_RECOMMENTED = ('def count_vowels(s: str) -> int:\n    # lower-case vowels only\n'
                      '    return sum(1 for ch in s if ch in "aeiou")  # count them\n')
WORSE = 'def count_vowels(s: str) -> int:\n    return len(s) // 3\n'  # passes only ""
RIGHT = 'def count_vowels(s: str) -> int:\n    return sum(1 for ch in s.lower() if ch in "aeiou")\n'
ONLY_D = dict(plansearch=False, self_tests=False, budget_forcing=False, repair_rounds=2)


def fence(code: str) -> str:
    return f"```python\n{code}```"


@pytest.fixture
def problem():
    return load_problem("example:count_vowels")


def repair_prompts(run):
    return [c for c in run.trace.llm_calls if c["phase"] == "repair"]


def test_a_round_keeps_new_programs_and_drops_copies_and_answers_without_code(problem):
    by_hint = {PERSPECTIVES["logic"]: "It forgot upper case.\n" + fence(PARENT_RECOMMENTED),  # the parent again
               PERSPECTIVES["edge_cases"]: "The program should handle upper-case vowels too.",  # prose only
               PERSPECTIVES["assumptions"]: "Count half.\n" + fence(WORSE),
               PERSPECTIVES["alternative"]: "Lower-case first.\n" + fence(RIGHT)}

    def answer(prompt, sampling):
        text = prompt[-1]["content"]
        if "is wrong" in text:
            return next(v for k, v in by_hint.items() if k in text)
        return fence(PARENT)

    run = Pipeline(ScriptedModel(answer), PipelineConfig.for_condition("D", divsampling=False, **ONLY_D),
                   style="chat").start(problem)
    events = list(run)
    assert len(repair_prompts(run)) == 4  # one round: the right program ended it
    repairs = [e.data for e in events if e.kind == "repair"]
    assert [r["perspective"] for r in repairs] == ["logic", "edge_cases", "assumptions", "alternative"]
    assert [r.get("dropped") for r in repairs] == ["same program as its parent", "no program in the answer", None, None]
    kept = [c for c in run.state.candidates if c.origin == "repair"]
    assert [(c.meta["perspective"], c.public_passed) for c in kept] == [("assumptions", 1), ("alternative", 3)]
    assert run.solution.solved_by == "repair" and run.solution.public_passed == 3
    assert "dropped: same program as its parent" in next(e for e in events if e.kind == "repair").describe()


def test_the_prompt_shows_every_failure_what_passes_and_the_program_without_its_docstring(problem):
    def answer(prompt, sampling):
        return "No idea." if "is wrong" in prompt[-1]["content"] else fence(PARENT)

    run = Pipeline(ScriptedModel(answer), PipelineConfig.for_condition("D", divsampling=False, **ONLY_D),
                   style="chat").start(problem)
    list(run)
    calls = repair_prompts(run)
    assert len(calls) == 4  # round 1; round 2 had no other program to repair
    text = calls[0]["prompt"][-1]["content"]
    assert "It passes 2 of 3 examples" in text and 'count_vowels("AEIOU xyz")' in text
    assert "Expected:\n5" in text and "Got:\n0" in text
    assert "Count the vowels of s." not in text and 'ch in "aeiou"' in text
    # the four prompts share everything up to the perspective's hint (one batch evaluates it once)
    texts = [c["prompt"][-1]["content"] for c in calls]
    shared = min(t.index(h) for t, h in zip(texts, PERSPECTIVES.values()))
    assert len({t[:shared] for t in texts}) == 1 and "Got:\n0" in texts[0][:shared]
    assert any(e.kind == "early_stop" and "repaired already" in e.data["reason"] for e in run.trace.events)


def test_the_second_round_repairs_another_program_not_a_copy_of_the_one_repaired(problem):
    # the probe and a DivSampling sample are the same program written differently; round 1
    # repairs one of them into WORSE, so round 2 must take WORSE, not the other copy
    def answer(prompt, sampling):
        text = prompt[-1]["content"] if not isinstance(prompt, str) else prompt
        if "is wrong" in text:
            return fence(RIGHT) if "len(s) // 3" in text else "Halve it.\n" + fence(WORSE)
        return fence(PARENT) if sampling.temperature == 0 else fence(PARENT_RECOMMENTED)

    cfg = PipelineConfig.for_condition("D", k=2, n_plans=0, **ONLY_D)
    run = Pipeline(ScriptedModel(answer), cfg, style="chat").start(problem)
    list(run)
    cands = {c.id: c for c in run.state.candidates}
    assert program_key(cands["probe"].code) == program_key(cands["div0"].code)
    rounds = [(e.data["round"], e.data["parent"], e.data.get("candidate")) for e in run.trace.events if e.kind == "repair"]
    assert {p for r, p, _ in rounds if r == 1} <= {"probe", "div0"}
    assert {p for r, p, _ in rounds if r == 2} == {"repair0"} and cands["repair0"].code.count("len(s) // 3")
    assert run.solution.public_passed == 3 and run.solution.solved_by == "repair"


def test_program_key_ignores_formatting_comments_and_docstrings_only():
    assert program_key(PARENT) == program_key(PARENT_RECOMMENTED)
    assert program_key(PARENT) != program_key(RIGHT)
    assert program_key("x = (1 +\n  2)") == program_key("x = 1 + 2  # three")
    assert program_key("def f(:") != program_key("def g(:")  # unparseable text compares as text


@pytest.mark.parametrize("code,empty", [
    ('def count_vowels(s):\n    """Count."""\n', True),
    ("def count_vowels(s):\n    pass\n", True),
    ('def count_vowels(s):\n    """Count."""\n    return None\n', True),
    ("def count_vowels(s):\n    raise NotImplementedError\n", True),
    ("def other(s):\n    return 1\n", True),
    ("def count_vowels(s):\n    return 0\n", False),
    ("def count_vowels(s:\n", True),
    # the signature and docstring restated, then the function written again: the last def is what runs
    ('def count_vowels(s):\n    """Count."""\n\ndef count_vowels(s):\n    return 0\n', False),
    ('def count_vowels(s):\n    return 0\n\ndef count_vowels(s):\n    """Count."""\n', True),
    ("count_vowels = lambda s: 0\n", False),
    ("class Solution:\n    def count_vowels(self, s):\n        return 0\n", False),
])
def test_holds_no_program_spots_answers_without_an_implementation(code, empty):
    assert holds_no_program(code, "count_vowels") is empty


def test_program_key_of_a_very_deep_program_falls_back_to_its_text():
    # parses, but is deeper than ast.dump can recurse under the limit in force (set low here: the
    # limit a solve runs under depends on its caller's stack)
    deep = "x = " + " + ".join(["1"] * 1500) + "\n"
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 300)
    try:
        key, other = program_key(deep), program_key(deep.replace("1", "2"))
    finally:
        sys.setrecursionlimit(limit)
    assert key == " ".join(deep.split()) and key != other


def test_without_docstring_cuts_whole_docstring_lines_only():
    assert without_docstring(PARENT, "count_vowels") == ('def count_vowels(s: str) -> int:\n'
                                                          '    return sum(1 for ch in s if ch in "aeiou")\n')
    one_liner = 'def count_vowels(s): """doc"""; return 0\n'
    assert without_docstring(one_liner, "count_vowels") == one_liner
    assert without_docstring(PARENT, "missing") == PARENT
    # line breaks other than \n, \r inside a docstring (str.splitlines would split there, ast does not)
    odd = 'def count_vowels(s):\n    """a\x0cb"""\n    return 0\n'
    assert without_docstring(odd, "count_vowels") == "def count_vowels(s):\n    return 0\n"
    crlf = 'def count_vowels(s):\r\n    """doc"""\r\n    return 0\r\n'
    assert without_docstring(crlf, "count_vowels") == "def count_vowels(s):\n    return 0\n"


def test_bench_repair_classifies_every_answer_of_a_trace(problem):
    spec = importlib.util.spec_from_file_location("bench_repair", Path(__file__).parents[1] / "benchmark" / "bench_repair.py")
    bench_repair = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_repair)
    by_hint = {PERSPECTIVES["logic"]: fence(PARENT_RECOMMENTED), PERSPECTIVES["edge_cases"]: "Upper case too.",
               PERSPECTIVES["assumptions"]: fence(WORSE), PERSPECTIVES["alternative"]: fence(WORSE)}

    def answer(prompt, sampling):
        text = prompt[-1]["content"]
        return next(v for k, v in by_hint.items() if k in text) if "is wrong" in text else fence(PARENT)

    run = Pipeline(ScriptedModel(answer), PipelineConfig.for_condition("D", divsampling=False, **{**ONLY_D, "repair_rounds": 1}),
                   style="chat").start(problem)
    list(run)
    recs = bench_repair.task_repairs(json.loads(json.dumps(run.trace.to_dict())))
    assert [r["outcome"] for r in recs] == ["parent again", "no program", "new program", "copy of another candidate"]
    assert recs[2]["public_passed"] == 1 and not recs[2]["better_than_parent"]
