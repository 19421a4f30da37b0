"""Turn a model's answer into a runnable program for a problem.

Small models wrap code in fences inconsistently, answer with only a function body, or
forget the imports and helper functions the starter code defined; each of these is
repaired here so a correct idea is not lost to formatting.
"""

from __future__ import annotations

import ast
import re
import textwrap

from atlas_kernel.problems.types import Problem

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
# Where a raw completion of a function body stops (the HumanEval convention).
COMPLETION_STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ", "\n```")
# A whole stdio program may use all of those; it ends where the model starts a new document.
STDIO_COMPLETION_STOPS = ('\n"""', "\n```", "\n\n\n\n")


def completion_stops(problem: Problem) -> tuple[str, ...]:
    """Where a raw continuation of a code prompt should stop generating."""
    return COMPLETION_STOPS if problem.kind == "functional" else STDIO_COMPLETION_STOPS


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def code_blocks(text: str) -> list[str]:
    blocks = []
    for m in _FENCE.finditer(text):
        lang = m.group(1).lower()
        if lang and lang not in ("python", "py", "python3"):
            continue
        blocks.append(m.group(2).rstrip())
    return [b for b in blocks if b.strip()]


def _defines(code: str, name: str) -> bool:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return re.search(rf"^\s*(def|class)\s+{re.escape(name)}\b", code, re.MULTILINE) is not None
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name for n in ast.walk(tree))


def _starter_context(problem: Problem) -> str:
    """Imports and helper definitions of the starter code, without the stub to be written."""
    starter = problem.starter_code
    if not starter.strip():
        return ""
    try:
        tree = ast.parse(starter + ("\n    pass\n" if starter.rstrip().endswith(":") or starter.rstrip().endswith('"""') else ""))
    except SyntaxError:
        try:
            tree = ast.parse(starter + "\n    pass\n")
        except SyntaxError:
            return ""
    keep = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in (problem.entry_point, problem.class_name):
            continue
        seg = ast.get_source_segment(starter + "\n    pass\n", node)
        if seg:
            keep.append(seg)
    return "\n".join(keep)


def _with_context(problem: Problem, code: str) -> str:
    ctx = _starter_context(problem)
    if not ctx:
        return code
    missing = []
    for line in ctx.splitlines():
        stripped = line.strip()
        if stripped.startswith(("import ", "from ")) and stripped not in code:
            missing.append(line)
    try:
        ctx_tree = ast.parse(ctx)
    except SyntaxError:
        ctx_tree = None
    helpers = []
    if ctx_tree is not None:
        for node in ctx_tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not _defines(code, node.name):
                seg = ast.get_source_segment(ctx, node)
                if seg:
                    helpers.append(seg)
    parts = missing + ([""] if missing else []) + helpers + ([""] if helpers else []) + [code]
    return "\n".join(parts).strip() + "\n"


def extract_code(problem: Problem, text: str, *, completion_of: str | None = None) -> str:
    """The program to run for `problem` from the model's answer `text`.

    completion_of: the raw prompt this text continues (completion-style prompting); the
    program is then that prompt plus the continuation up to the first top-level stop.
    """
    if completion_of is not None:
        body = text
        for stop in (COMPLETION_STOPS if problem.kind == "functional" else STDIO_COMPLETION_STOPS):
            i = body.find(stop)
            if i != -1:
                body = body[:i]
        code = completion_of + body
        return (code.rstrip() + "\n") if _parses(code) else (completion_of + text).rstrip() + "\n"

    blocks = code_blocks(text)
    if not blocks and _parses(text.strip()) and text.strip():
        blocks = [text.strip()]
    if not blocks:
        # prose with an unfenced program after it: take from the first def/import line
        m = re.search(r"^(def |class |import |from |n\s*=|[a-z_]+\s*=\s*input)", text, re.MULTILINE)
        blocks = [text[m.start():]] if m else [text]

    if problem.kind == "functional":
        target = problem.class_name or problem.entry_point or ""
        with_target = [b for b in blocks if _defines(b, target)]
        if with_target:
            code = max(with_target, key=len)
        else:
            code = blocks[0]
            dedented = textwrap.dedent(code)
            # only a body came back: put it under the starter's signature
            if problem.starter_code.strip() and not dedented.lstrip().startswith(("def ", "class ")):
                body = textwrap.indent(dedented.strip("\n"), "    ")
                code = problem.starter_code.rstrip() + "\n" + body
        return _with_context(problem, code)

    parsing = [b for b in blocks if _parses(b)]
    return (max(parsing, key=len) if parsing else max(blocks, key=len)).rstrip() + "\n"
