"""Comparing programs by what they say, not how they are written: a key that ignores formatting,
comments and docstrings, a test for answers that hold no implementation, and a program shown
without the docstring a prompt already carries."""

from __future__ import annotations

import ast
import re


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _has_docstring(body: list[ast.stmt]) -> bool:
    return bool(body) and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
        and isinstance(body[0].value.value, str)


def program_key(code: str) -> str:
    """Equal for programs that differ only in whitespace, comments and docstrings (a repair that
    re-emits its parent with new comments is the same program)."""
    tree = _parse(code)
    if tree is None:
        return " ".join(code.split())
    try:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and _has_docstring(node.body):
                node.body = node.body[1:] or [ast.Pass()]
        return ast.dump(tree, annotate_fields=False)
    except RecursionError:  # a very deep program (hundreds of elifs): compare its text
        return " ".join(code.split())


def _entry(tree: ast.Module, name: str) -> ast.stmt | None:
    """The statement that binds `name` when the module runs: the last top-level def (a model
    often restates the signature and docstring before writing the function again) or assignment
    (`f = lambda ...`), else the last such def inside a class."""
    def binds(n: ast.stmt) -> bool:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return n.name == name
        targets = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, ast.AnnAssign) and n.value else []
        return any(isinstance(t, ast.Name) and t.id == name for t in targets)

    top = [n for n in tree.body if binds(n)]
    if top:
        return top[-1]
    nested = [n for c in tree.body if isinstance(c, ast.ClassDef) for n in c.body if binds(n)]
    return nested[-1] if nested else None


def _trivial(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):  # `...` or a stray string
        return True
    if isinstance(stmt, ast.Return):
        return stmt.value is None or (isinstance(stmt.value, ast.Constant) and stmt.value.value is None)
    if isinstance(stmt, ast.Raise) and stmt.exc is not None:
        exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def holds_no_program(code: str, entry_point: str | None) -> bool:
    """True when the code cannot be an attempt at the task: it does not parse, the entry point is
    missing, or its body is only a docstring, `pass`, `...`, `return None` or NotImplementedError
    (what extraction leaves of an answer that had prose and no code)."""
    tree = _parse(code)
    if tree is None:
        return True
    if not entry_point:
        return not any(not _trivial(s) and not isinstance(s, (ast.Import, ast.ImportFrom)) for s in tree.body)
    fn = _entry(tree, entry_point)
    if fn is None:
        return True
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False  # bound by an assignment: an implementation
    body = fn.body[1:] if _has_docstring(fn.body) else fn.body
    return all(_trivial(s) for s in body)


def without_docstring(code: str, entry_point: str | None) -> str:
    """The program with its entry point's docstring cut out (the prompt shows the task's docstring
    already; repeating it costs tokens and buries the code). Unchanged when that is not clean."""
    tree = _parse(code)
    fn = _entry(tree, entry_point) if tree is not None and entry_point else None
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or not _has_docstring(fn.body) or len(fn.body) < 2:
        return code
    doc = fn.body[0]
    lines = re.split(r"\r\n|\r|\n", code)  # the line breaks ast counts (str.splitlines knows more)
    if lines and lines[-1] == "":
        lines.pop()
    first, last = doc.lineno - 1, (doc.end_lineno or doc.lineno) - 1
    # only whole lines: a docstring sharing a line with code stays
    if lines[first].strip()[:3] not in ('"""', "'''", 'r""', "r''") or fn.body[1].lineno - 1 <= last:
        return code
    return "\n".join(lines[:first] + lines[last + 1:]) + ("\n" if code.endswith("\n") else "")
