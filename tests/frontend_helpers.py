"""Scripted models and small runs shared by the pipeline-logic, magic, widget and plot tests (no real model)."""

from __future__ import annotations

from atlas_kernel.models.scripted import ScriptedModel

WRONG = "```python\nn = int(input())\nprint(n)\n```"
RIGHT = "```python\nn = int(input())\nprint(sum(map(int, input().split())))\n```"
ALSO_WRONG = "```python\nn = int(input())\nprint(max(map(int, input().split())))\n```"
RIGHT_CODE = "n = int(input())\nprint(sum(map(int, input().split())))\n"


def responder(probe: str = WRONG, gen: str = ALSO_WRONG, repair: str = RIGHT):
    """Answers by prompt shape: plans, self-test inputs, repairs, S* judgements, code."""
    calls = {"n": 0}

    def answer(prompt, sampling):
        text = prompt if isinstance(prompt, str) else prompt[-1]["content"]
        calls["n"] += 1
        if "Do not write code. List" in text:
            return "1. Add the numbers with a loop\n2. Use the built-in sum"
        if "plan of 3" in text:
            return "1. read n\n2. read the numbers\n3. print their sum"
        if "new, different test inputs" in text:
            return "```\n2\n5 5\n```\n```\n1\n7\n```"
        if "is wrong" in text:
            return "The bug: it prints n.\n" + repair
        if "Which output is correct" in text:
            return "B"
        if "could give different answers" in text:
            return "```\n3\n1 1 1\n```"
        if calls["n"] == 1:
            return probe
        return gen

    return answer


def scripted(**kw) -> ScriptedModel:
    return ScriptedModel(responder(**kw))
