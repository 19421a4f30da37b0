"""Prompts for writing code, for chat-tuned and for base (completion) models.

Measured on HumanEval with the bundled models: SmolLM2-135M-Instruct solves 11/164 with a
chat prompt that asks for the completed function in a code block and 0/164 as raw
completion; Gemma 3 270M (base) 6/164 as raw completion and 0/164 with a chat prompt.
So the prompt style follows the model, not the task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from atlas_kernel.models.base import Message, Prompt
from atlas_kernel.pipeline.extract import unimported_modules
from atlas_kernel.problems.types import Problem

PromptStyle = Literal["chat", "completion"]


@dataclass(frozen=True)
class CodePrompt:
    prompt: Prompt
    style: PromptStyle
    # completion style: the program is this text + the model's continuation
    completion_of: str | None = None


def format_examples(problem: Problem, limit: int = 3) -> str:
    if not problem.public_tests:
        return ""
    lines = []
    for i, t in enumerate(problem.public_tests[:limit], 1):
        if problem.kind == "stdio":
            lines.append(f"Example {i}\nInput:\n{t.input.rstrip()}\nOutput:\n{t.output.rstrip()}")
        elif problem.io_format == "python":
            lines.append(f">>> {t.input}\n{t.output}")
        else:
            args = ", ".join(t.input.strip().splitlines())
            lines.append(f"{problem.entry_point}({args}) == {t.output.strip()}")
    return "\n".join(lines)


def task_text(problem: Problem, *, with_examples: bool = True) -> str:
    """The problem as a chat model is asked to solve it."""
    if problem.kind == "stdio":
        text = (f"{problem.statement.strip()}\n\nWrite a complete Python 3 program that reads the input from "
                "standard input and prints the answer to standard output.")
        if with_examples and problem.public_tests and "xample" not in problem.statement:
            text += "\n\n" + format_examples(problem)
        return text
    starter = problem.starter_code.strip()
    if problem.metadata.get("suite") == "humaneval" or (starter and problem.statement.strip() == starter):
        return f"Complete the following Python function:\n```python\n{starter}\n```"
    text = problem.statement.strip()
    if starter:
        text += f"\n\nComplete this code:\n```python\n{starter}\n```"
    else:
        text += f"\n\nWrite a Python function named `{problem.entry_point}`."
    if with_examples and problem.public_tests and "xample" not in problem.statement and ">>>" not in problem.statement:
        text += "\n\nExamples:\n" + format_examples(problem)
    return text


def chat_code_prompt(problem: Problem, *, system: str | None = None, instruction: str | None = None,
                     prefix: str = "") -> list[Message]:
    ask = instruction or "Return the whole solution in one ```python code block."
    user = f"{prefix}{task_text(problem)}\n\n{ask}"
    msgs: list[Message] = []
    if system:
        msgs.append({"role": "system", "content": system})
    msgs.append({"role": "user", "content": user})
    return msgs


# The instruct prompt of evalplus and the Qwen2.5-Coder report: ask for a script, begin the answer
# with the code fence. Greedy on HumanEval with Qwen2.5-Coder-0.5B it solves 93/164 against our
# probe's 88, and the two together 106 (benchmark/bench_baseline_prompt.py, bench_extraction.py):
# the best second greedy candidate we measured.
SCRIPT_ASK = "Please provide a self-contained Python script that solves the following problem in a markdown code block:"
SCRIPT_BEGIN = "Below is a Python script with a self-contained function that solves the problem and passes corresponding tests:\n"
SCRIPT_BEGIN_STDIO = "Below is a Python script that solves the problem:\n"
FENCE_OPEN = "```python\n"
FENCE_CLOSE = "\n```"


def script_prompt(problem: Problem, *, system: str | None = None) -> list[Message]:
    """The evalplus-style prompt, the answer begun with the opening code fence: the completion is
    code up to the closing fence (stop it at FENCE_CLOSE; extract from FENCE_OPEN + completion)."""
    starter = problem.starter_code.strip()
    if problem.metadata.get("suite") == "humaneval" or (starter and problem.statement.strip() == starter):
        user = f"{SCRIPT_ASK}\n```\n{starter}\n```\n"
    else:
        user = f"{SCRIPT_ASK}\n{task_text(problem)}\n"
    begin = SCRIPT_BEGIN if problem.kind == "functional" else SCRIPT_BEGIN_STDIO
    msgs: list[Message] = [{"role": "system", "content": system}] if system else []
    return msgs + [{"role": "user", "content": user}, {"role": "assistant", "content": begin + FENCE_OPEN}]


@dataclass(frozen=True)
class BegunCode:
    """A chat prompt whose assistant turn already holds the code fence and the problem's own
    starter (signature and docstring), so the model writes only what follows: a whole-function
    answer otherwise spends most of its tokens copying the docstring back."""

    prompt: list[Message]
    starter: str  # the problem's code the assistant turn ends with, after the fence
    stop: tuple[str, ...] = (FENCE_CLOSE,)

    def answer(self, text: str) -> str:
        """The whole fenced answer the model has given, for `extract_code`."""
        # a backend that did not continue the begun turn (some servers) wrote its own fences
        if "```" in text:
            return text
        code = self.starter + text
        # the top of the file was written for the model: the imports its body needs go there
        imports = "" if "from __future__" in code else "".join(f"import {m}\n" for m in unimported_modules(code))
        return FENCE_OPEN + imports + code + FENCE_CLOSE


def begun_code_prompt(messages: list[Message], problem: Problem) -> BegunCode:
    """`messages` (a chat code prompt) with the answer begun at the code fence and, for a
    functional problem with starter code, at that code's end. A prompt whose answer is already
    begun at the fence (`script_prompt`) keeps its words and gains the starter."""
    msgs = list(messages)
    lead = FENCE_OPEN
    if msgs and msgs[-1].get("role") == "assistant" and msgs[-1]["content"].endswith(FENCE_OPEN):
        lead = msgs.pop()["content"]
    starter = ""
    if problem.kind == "functional" and problem.starter_code.strip():
        starter = problem.starter_code if problem.starter_code.endswith("\n") else problem.starter_code + "\n"
    return BegunCode([*msgs, {"role": "assistant", "content": lead + starter}], starter)


def completion_code_prompt(problem: Problem) -> CodePrompt:
    """A raw prompt a base model continues into code."""
    if problem.kind == "functional" and problem.starter_code.strip():
        start = problem.starter_code if problem.starter_code.endswith("\n") else problem.starter_code + "\n"
        if problem.statement.strip() != problem.starter_code.strip():
            doc = problem.statement.strip().replace('"""', "'''")
            start = f'"""\n{doc}\n"""\n\n' + start
        return CodePrompt(start, "completion", completion_of=start)
    if problem.kind == "functional":
        head = f'"""\n{problem.statement.strip()}\n"""\n\n\ndef {problem.entry_point}('
        return CodePrompt(head, "completion", completion_of=head)
    doc = problem.statement.strip().replace('"""', "'''")
    ex = format_examples(problem)
    head = f'"""\n{doc}\n{ex}\n"""\n# Python 3 program: reads standard input, prints the answer.\nimport sys\n\n'
    return CodePrompt(head, "completion", completion_of=head)


def code_prompt(problem: Problem, style: PromptStyle, **chat_kwargs) -> CodePrompt:
    if style == "completion":
        return completion_code_prompt(problem)
    return CodePrompt(chat_code_prompt(problem, **chat_kwargs), "chat")
