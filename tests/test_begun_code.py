"""config.begin_code: chat prompts that write a whole program begin the answer with the code fence
and the problem's own signature and docstring, so the model writes the body only; the program is
rebuilt from what was begun plus the continuation."""

from __future__ import annotations

from atlas_kernel.models.base import Sampling
from atlas_kernel.models.scripted import ScriptedModel
from atlas_kernel.pipeline.config import PipelineConfig
from atlas_kernel.pipeline.extract import extract_code, unimported_modules
from atlas_kernel.pipeline.phases.divsampling import TABLE
from atlas_kernel.pipeline.phases.probe import single_shot_request
from atlas_kernel.pipeline.pipeline import Pipeline
from atlas_kernel.pipeline.prompts import FENCE_OPEN, begun_code_prompt, chat_code_prompt
from atlas_kernel.problems import load_suite

BODY = "    return number % 1.0\n"


def _problem():
    return load_suite("humaneval")[2].problem  # truncate_number: a short, easy function


def _run(code: str, x: float) -> float:
    ns: dict = {}
    exec(code, ns)
    return ns["truncate_number"](x)


def test_the_answer_is_begun_with_the_starter_and_the_program_rebuilt_from_the_body():
    problem = _problem()
    b = begun_code_prompt(chat_code_prompt(problem), problem)
    assert b.prompt[-1] == {"role": "assistant", "content": FENCE_OPEN + problem.starter_code}
    code = extract_code(problem, b.answer(BODY))
    assert code.count("def truncate_number") == 1 and _run(code, 3.5) == 0.5


def test_a_prompt_already_begun_at_the_fence_keeps_its_words_and_gains_the_starter():
    problem = _problem()
    script = next(r for r in TABLE if r.script).prompt(problem)
    b = begun_code_prompt(script, problem)
    assert len(b.prompt) == len(script)
    assert b.prompt[-1]["content"] == script[-1]["content"] + problem.starter_code


def test_an_answer_that_wrote_its_own_fences_is_read_as_it_is():
    # a server that does not continue a begun assistant turn answers from scratch
    problem = _problem()
    b = begun_code_prompt(chat_code_prompt(problem), problem)
    whole = f"Here it is:\n```python\ndef truncate_number(number: float) -> float:\n{BODY}```\nDone."
    assert _run(extract_code(problem, b.answer(whole)), 2.25) == 0.25


def test_a_body_that_uses_a_module_it_could_not_import_at_the_top_gets_the_import():
    problem = load_suite("humaneval")[162].problem  # string_to_md5: the starter imports nothing
    b = begun_code_prompt(chat_code_prompt(problem), problem)
    code = extract_code(problem, b.answer("    return hashlib.md5(text.encode()).hexdigest() if text else None\n"))
    ns: dict = {}
    exec(code, ns)
    assert ns["string_to_md5"]("Hello world") == "3e25960a79dbc69b674cd4ec67a72c62"
    # names the program binds itself are no missing modules
    assert unimported_modules("import re as regex\ndef f(string, math=1):\n    copy = []\n    return string.upper(), "
                              "copy.append, regex.sub, math.real\n") == []
    assert unimported_modules("def f(x):\n    try:\n        pass\n    except ValueError as queue:\n        queue.args\n"
                              "    match x:\n        case [*array]: array.count\n        case {**token}: token.keys\n"
                              "        case str() as types: types.upper\n    return this.s, winreg.HKEY_USERS\n") == []


def test_the_pipeline_begins_every_program_answer_with_the_starter_except_rows_that_reason_first():
    problem = _problem()
    seen: list[tuple[str, bool]] = []

    def respond(prompt, sampling):
        last = prompt[-1] if isinstance(prompt, list) else {}
        begun = last.get("role") == "assistant" and last["content"].endswith(problem.starter_code)
        seen.append((prompt[0]["content"] if isinstance(prompt, list) else prompt, begun))
        if begun:
            return BODY + "```\nA closing remark the stop cuts off."
        if "Do not write code" in str(prompt) or "observations" in str(prompt).lower():
            return "1. Take the fractional part."
        return f"```python\ndef truncate_number(number: float) -> float:\n{BODY}```"

    # k=5, one plan: DivSampling asks the script, expert, careful and stepwise rows
    cfg = PipelineConfig.for_condition("B", k=5, n_plans=1, early_stop=False, budget_forcing=False, begin_code=True)
    sol = Pipeline(ScriptedModel(respond), cfg, style="chat").run(problem)
    assert sol.public_passed == sol.public_total and _run(sol.code, 7.75) == 0.75
    begun = [text for text, b in seen if b]
    assert len(begun) == 5  # the probe, the plan's implementation, the script, expert and careful rows
    stepwise = [b for text, b in seen if "First think about the steps" in text]
    assert stepwise == [False]  # asked, and not begun: it reasons first
    probe = single_shot_request(problem, "chat", cfg)
    assert probe.sampling.stop and probe.prompt[-1]["role"] == "assistant"
    assert single_shot_request(problem, "chat", PipelineConfig()).prompt[-1]["role"] == "user"  # off by default


def test_real_model_writes_only_the_body_after_the_begun_starter(default_model):
    problem = _problem()
    req = single_shot_request(problem, "chat", PipelineConfig.for_condition("A", begin_code=True, max_tokens=160))
    c = default_model.generate(req.prompt, req.sampling)
    assert '"""' not in c.text  # the docstring is not copied back
    code = req.code(c.text)
    assert code.count("def truncate_number") == 1 and _run(code, 3.5) == 0.5
    plain = single_shot_request(problem, "chat", PipelineConfig.for_condition("A", max_tokens=160))
    assert c.completion_tokens < default_model.generate(plain.prompt, plain.sampling.with_(draft="none")).completion_tokens


def test_a_switch_given_anything_but_true_or_false_is_refused_in_one_line():
    import pytest

    with pytest.raises(ValueError, match="begin_code must be true or false, got 'False'"):
        PipelineConfig.for_condition("E", begin_code="False")  # what `--set begin_code=False` (not JSON) gives


def test_plain_sampling_refuses_pipeline_settings(capsys):
    from atlas_kernel.cli.main import main

    assert main(["bench", "--suite", "humaneval", "--samples", "2", "--set", "begin_code=true", "--limit", "1"]) != 0
    err = capsys.readouterr().err
    assert "--set pipeline settings do not apply" in err and "Traceback" not in err
