"""Self-generated tests: the model writes new test inputs; the candidates decide the answers.

Inputs come from the model (parsed from its answer) and, when it gives fewer than asked for, from
mutations of the public example inputs (`self_test_mutations.py`).

Rule (documented, used everywhere): every candidate runs on every generated input. An input is
KEPT when at least max(2, ceil(m / 2)) of the m candidates that produced an output agree on it;
that majority output becomes the expected output. The model's own claimed answer (from an
`assert f(x) == y` line) is recorded beside it but never decides, because a model this small
computes answers far less reliably than its programs do. Identical programs count once. An input no candidate can run, or on
which candidates scatter, is dropped.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections import Counter
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from atlas_kernel.models.base import Message, Sampling
from atlas_kernel.pipeline.phase import BasePhase
from atlas_kernel.pipeline.phases.self_test_mutations import mutated_inputs
from atlas_kernel.pipeline.prompts import format_examples, task_text
from atlas_kernel.pipeline.state import Candidate, SelfTest
from atlas_kernel.problems.types import Problem

if TYPE_CHECKING:
    from atlas_kernel.pipeline.config import PipelineConfig
    from atlas_kernel.pipeline.context import RunContext
    from atlas_kernel.pipeline.events import Event

RULE = ("kept when >= max(2, ceil(m/2)) of the m distinct candidates with an output agree and no other output has as "
        "many; voters are the candidates passing every public example (all when none does); the majority output is expected")
MAX_INPUT_CHARS = 2000
# tokens per requested test input: at 64 (cap 384 for 6 inputs) half of Qwen2.5-Coder-0.5B's answers were cut
# (benchmark/bench_budgets.py, median 368 tokens)
SELF_TEST_TOKENS_PER_INPUT = 96


def _call_to_json_args(call: str) -> str | None:
    try:
        node = ast.parse(call, mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call) or node.keywords:
        return None
    try:
        args = [ast.literal_eval(a) for a in node.args]
        return "\n".join(json.dumps(a) for a in args)
    except (ValueError, TypeError, SyntaxError):
        return None


def parse_inputs(problem: Problem, text: str) -> list[tuple[str, str | None]]:
    """(input, model's claimed output or None) pairs from the model's answer."""
    found: list[tuple[str, str | None]] = []
    if problem.kind == "stdio":
        for m in re.finditer(r"```[^\n]*\n(.*?)```", text, re.DOTALL):
            block = m.group(1)
            if block.strip() and len(block) <= MAX_INPUT_CHARS and not block.lstrip().startswith(("def ", "import ", "print(")):
                found.append((block if block.endswith("\n") else block + "\n", None))
        return found
    entry = re.escape(problem.entry_point or "")
    for m in re.finditer(rf"({entry}\s*\(.*\))\s*(?:==\s*(.+))?$", text, re.MULTILINE):
        call, expected = m.group(1).strip(), (m.group(2) or "").strip() or None
        # balance: cut a trailing part the regex swallowed (e.g. comments)
        try:
            ast.parse(call, mode="eval")
        except SyntaxError:
            continue
        if len(call) > MAX_INPUT_CHARS:
            continue
        if problem.io_format == "json":
            args = _call_to_json_args(call)
            if args is None:
                continue
            found.append((args, expected))
        else:
            found.append((call, expected))
    return found


def prompt_for(problem: Problem, n: int) -> list[Message]:
    ex = format_examples(problem)
    if problem.kind == "stdio":
        ask = (f"Write {n} new, different test inputs for a program that solves this problem, including edge cases. "
               "Put each input in its own ``` block. Do not write the program.")
    else:
        ask = (f"Write {n} new, different tests for `{problem.entry_point}`, including edge cases, as lines of the form\n"
               f"assert {problem.entry_point}(...) == ...\nDo not write the function.")
    body = task_text(problem, with_examples=False)
    if ex:
        body += f"\n\nExamples:\n{ex}"
    return [{"role": "user", "content": f"{body}\n\n{ask}"}]


def decide(tests: list[SelfTest], outputs: list[list[str | None]]) -> None:
    """Apply the agreement rule to tests given outputs[candidate][test]."""
    for i, t in enumerate(tests):
        col = [row[i] for row in outputs if i < len(row) and row[i] is not None]
        t.runnable = len(col)
        if not col:
            t.kept, t.expected, t.support = False, None, 0
            continue
        ranked = Counter(col).most_common(2)
        value, support = ranked[0]
        t.support = support
        # an even split (2-2) has no majority: keeping it would pick one side by list order
        tied = len(ranked) > 1 and ranked[1][1] == support
        if support >= max(2, math.ceil(len(col) / 2)) and not tied:
            t.kept, t.expected = True, value
        else:
            t.kept, t.expected = False, None


def _write_and_decide(ctx: "RunContext") -> Iterator["Event"]:
    state = ctx.state
    problem = ctx.problem
    n = ctx.config.n_self_test_inputs
    c = ctx.generate("self_tests", "write test inputs", prompt_for(problem, n),
                     Sampling(temperature=0.0, max_tokens=min(SELF_TEST_TOKENS_PER_INPUT * n, 768)))
    yield from ctx.flush()
    public_inputs = {t.input.strip() for t in problem.public_tests}
    seen: set[str] = set()
    tests: list[SelfTest] = []
    for inp, claimed in parse_inputs(problem, c.text):
        key = inp.strip()
        if key in seen or key in public_inputs:
            continue
        seen.add(key)
        tests.append(SelfTest(input=inp, model_expected=claimed))
        if len(tests) >= n:
            break
    model_written = len(tests)
    # top up with mutations of the public inputs: they need no instruction-following at all
    for inp in mutated_inputs(problem, n - len(tests), seed=ctx.config.seed):
        if inp.strip() not in seen and inp.strip() not in public_inputs:
            seen.add(inp.strip())
            tests.append(SelfTest(input=inp, model_expected=None, source="mutation"))
    state.self_tests = tests
    evaluate(ctx, state.candidates)
    ctx.emit("self_tests", "self_tests", generated=len(tests), kept=sum(t.kept for t in tests), rule=RULE,
             voters=state.self_test_voters, model_written=model_written, mutated=len(tests) - model_written,
             tests=_listed(tests))
    yield from ctx.flush()


def _listed(tests: Sequence[SelfTest]) -> list[dict[str, Any]]:
    return [{"input": t.input, "expected": t.expected, "support": t.support, "runnable": t.runnable,
             "kept": t.kept} for t in tests]


def reevaluate(ctx: "RunContext", phase: str, candidates: Sequence[Candidate]) -> None:
    """Run later candidates (repairs) on the self-tests and re-apply the rule; when that changes
    which tests are kept or what they expect, say so in the trace (the stream would otherwise show
    the first decision while selection uses the new one)."""
    before = [(t.kept, t.expected) for t in ctx.state.self_tests]
    evaluate(ctx, candidates)
    tests = ctx.state.self_tests
    if [(t.kept, t.expected) for t in tests] != before:
        ctx.emit("self_tests", phase, generated=len(tests), kept=sum(t.kept for t in tests), rule=RULE,
                 voters=ctx.state.self_test_voters, redecided=True, tests=_listed(tests))


def evaluate(ctx: "RunContext", candidates: Sequence[Candidate]) -> None:
    """Run candidates on all self-test inputs and re-apply the rule over every candidate so far."""
    state = ctx.state
    if not state.self_tests or not candidates:
        return
    inputs = [t.input for t in state.self_tests]
    todo = [c for c in candidates if len(c.self_outputs) < len(inputs)]
    if todo:
        outs = ctx.collect_outputs([c.code for c in todo], inputs)
        for cand, row in zip(todo, outs):
            cand.self_outputs = {i: v for i, v in enumerate(row)}
    # identical programs agreeing is one vote, not several: count distinct programs only; and a
    # program that fails a public example has shown it is wrong: it does not vote while others pass
    distinct: dict[str, Candidate] = {}
    for c in state.candidates:
        distinct.setdefault(" ".join(c.code.split()), c)
    voters = [c for c in distinct.values() if c.passes_public] or list(distinct.values())
    state.self_test_voters = "passing public examples" if voters[0].passes_public else "all (none passes the public examples)"
    decide(state.self_tests, [[c.self_outputs.get(i) for i in range(len(inputs))] for c in voters])


class SelfTests(BasePhase):
    name = "self_tests"
    generative = True

    def enabled(self, config: "PipelineConfig") -> bool:
        return config.self_tests

    def run(self, ctx: "RunContext") -> Iterator["Event"]:
        if len({" ".join(c.code.split()) for c in ctx.state.candidates}) < 2:
            ctx.emit("self_tests", "self_tests", generated=0, kept=0, rule=RULE, tests=[],
                     note="fewer than two distinct candidates: no agreement possible")
            yield from ctx.flush()
            return
        yield from _write_and_decide(ctx)

    def summary(self, ctx: "RunContext") -> str:
        return f"({len(ctx.state.kept_self_tests)}/{len(ctx.state.self_tests)} kept)"


PHASE = SelfTests()
