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


def _is_main_guard(node: ast.stmt) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and isinstance(node.test.left, ast.Name)
            and node.test.left.id == "__name__")


def _calls_any(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in names for n in ast.walk(node))


def _is_test_code(node: ast.stmt, entry_point: str) -> bool:
    """Top-level statements a chat model appends to exercise its function: they are not the
    solution, and a failing assert or a stray input() there fails a correct function."""
    if isinstance(node, ast.Assert) or _is_main_guard(node):
        return True
    if isinstance(node, ast.Expr):
        return _calls_any(node, {entry_point, "print", "input", "check"})
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        return node.value is not None and _calls_any(node.value, {entry_point, "input"})
    if isinstance(node, (ast.For, ast.While)):  # a loop over test cases that checks or prints the function's results
        checks = _calls_any(node, {"print"}) or any(isinstance(n, ast.Assert) for n in ast.walk(node))
        return checks and _calls_any(node, {entry_point})
    return False


def strip_test_code(code: str, entry_point: str) -> str:
    """The program without the test code a model appended at top level (asserts, prints and calls
    of the entry point, a `__main__` block): evalplus's sanitizer does the same before grading.
    Code that does not parse is cut to its longest parseable prefix of lines when that prefix
    still defines the entry point (the model's tests often end mid-line at the token cap)."""
    src = code
    try:
        tree = ast.parse(src)
    except (SyntaxError, ValueError):
        lines = code.splitlines()
        tree = None
        for end in range(len(lines) - 1, 0, -1):
            head = "\n".join(lines[:end])
            if _parses(head):
                tree, src = ast.parse(head), head
                break
        if tree is None or not any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                                   and n.name == entry_point for n in tree.body):
            return code
    drop = [n for n in tree.body if _is_test_code(n, entry_point)]
    if not drop and src is code:
        return code
    lines = src.splitlines()
    kept = []
    for node in tree.body:
        if node in drop:
            continue
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        kept.append("\n".join(lines[first - 1:node.end_lineno]))
    if not kept:
        return code
    return "\n\n".join(kept).rstrip() + "\n"


_NEVER_IMPORT = frozenset({"this", "antigravity", "__hello__", "__phello__"})


def unimported_modules(code: str) -> list[str]:
    """Standard-library modules the code uses as `module.name` without importing or defining
    them (sorted). A body written after a begun signature had no top of file for its imports:
    the model uses `hashlib.md5` in the body and the program dies of a NameError."""
    import importlib.util
    import sys

    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    used = {n.value.id for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
    # importing has effects for a few modules (this prints, antigravity opens a browser), and some exist
    # only on another platform
    return sorted(m for m in used - bound if m in sys.stdlib_module_names and m not in _NEVER_IMPORT
                  and importlib.util.find_spec(m) is not None)


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
        if problem.entry_point and not problem.class_name:
            code = strip_test_code(code, problem.entry_point)
        return _with_context(problem, code)

    parsing = [b for b in blocks if _parses(b)]
    return (max(parsing, key=len) if parsing else max(blocks, key=len)).rstrip() + "\n"
