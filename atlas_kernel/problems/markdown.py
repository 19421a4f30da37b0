"""Problems written by hand: a Markdown or plain-text statement with its examples.

Examples are fenced blocks whose label line (the nearest non-blank line above the fence)
mentions "input" or "output" — "Input:", "Sample Input 1", "**Output**", "### Example output" —
paired in order. Single-line `Input: 1 2` / `Output: 3` pairs work without fences.

Optional front matter at the very top sets fields of the Problem:

    ---
    id: add-two
    kind: functional        # default stdio
    entry_point: add
    ---

For a functional problem, a ```python fence holds the starter code, and examples are
doctest lines (`>>> add(1, 2)` then `3`) anywhere in the text.
"""

from __future__ import annotations

import re
from pathlib import Path

from atlas_kernel.problems.errors import ProblemFormatError
from atlas_kernel.problems.humaneval import parse_docstring_examples
from atlas_kernel.problems.types import Problem, TestCase

_FENCE = re.compile(r"^(```|~~~)([\w+-]*)\s*$")
_FRONT_KEYS = {"id", "kind", "entry_point", "class_name", "io_format", "title"}


def _front_matter(lines: list[str], source: str) -> tuple[dict[str, str], list[str]]:
    if not lines or lines[0].strip() != "---":
        return {}, lines
    for end in range(1, len(lines)):
        if lines[end].strip() == "---":
            meta: dict[str, str] = {}
            for no, raw in enumerate(lines[1:end], 2):
                if not raw.strip() or raw.lstrip().startswith("#"):
                    continue
                key, sep, value = raw.partition(":")
                key = key.strip()
                if not sep or key not in _FRONT_KEYS:
                    raise ProblemFormatError(source, f"front matter line {raw.strip()!r} is not one of 'KEY: value' with KEY in {sorted(_FRONT_KEYS)}", line=no)
                meta[key] = value.split("#", 1)[0].strip()
            return meta, lines[end + 1:]
    raise ProblemFormatError(source, "front matter opened with '---' is never closed", line=1, fix="add a closing '---' line")


def _label_kind(label: str) -> str | None:
    low = label.lower()
    has_in, has_out = "input" in low, "output" in low
    if has_in and not has_out:
        return "input"
    if has_out and not has_in:
        return "output"
    return None


def parse_statement(text: str, *, source: str = "<statement>", problem_id: str | None = None) -> Problem:
    lines = text.splitlines()
    meta, body = _front_matter(lines, source)
    blocks: list[tuple[str | None, str, str]] = []  # (role, lang, content)
    last_label = ""
    i = 0
    while i < len(body):
        m = _FENCE.match(body[i].strip())
        if m:
            fence, lang = m.group(1), m.group(2)
            j = i + 1
            while j < len(body) and body[j].strip() != fence:
                j += 1
            if j >= len(body):
                raise ProblemFormatError(source, "a code fence is never closed", line=i + 1 + (len(lines) - len(body)))
            content = "\n".join(body[i + 1:j])
            blocks.append((_label_kind(last_label), lang, content))
            last_label = ""
            i = j + 1
            continue
        stripped = body[i].strip()
        if stripped:
            inline = re.match(r"^\**(input|output)\**\s*:\s*\**\s*(\S.*)$", stripped, flags=re.IGNORECASE)
            if inline:
                blocks.append((inline.group(1).lower(), "", inline.group(2).strip()))
                last_label = ""
            else:
                last_label = stripped
        i += 1

    kind = meta.get("kind", "stdio")
    if kind not in ("stdio", "functional"):
        raise ProblemFormatError(source, f"kind must be stdio or functional, got {kind!r}", field="kind")
    title = meta.get("title") or next((ln.lstrip("# ").strip() for ln in body if ln.startswith("#")), "")
    pid = meta.get("id") or problem_id or (re.sub(r"[^\w-]+", "-", title.lower()).strip("-") or "problem")
    statement = "\n".join(body).strip()
    if not statement:
        raise ProblemFormatError(source, "the problem statement is empty", fix="write the task, with examples in fenced blocks")

    if kind == "functional":
        entry = meta.get("entry_point")
        starter = next((c for role, lang, c in blocks if lang in ("python", "py") and "def " in c), "")
        if not entry:
            found = re.search(r"def\s+(\w+)\s*\(", starter)
            if not found:
                raise ProblemFormatError(source, "a functional problem needs entry_point in the front matter or a ```python starter with a def", field="entry_point")
            entry = found.group(1)
        tests = parse_docstring_examples(f"def {entry}():\n    '''\n" + "\n".join(body).replace("'''", '"""') + "\n    '''\n", entry)
        return Problem(id=pid, statement=statement, kind="functional", starter_code=starter, entry_point=entry,
                       class_name=meta.get("class_name") or None, io_format="python", public_tests=tuple(tests),
                       metadata={"title": title, "source": source})

    tests: list[TestCase] = []
    pending: str | None = None
    for role, _lang, content in blocks:
        if role == "input":
            pending = content if content.endswith("\n") else content + "\n"
        elif role == "output" and pending is not None:
            tests.append(TestCase(input=pending, output=content if content.endswith("\n") else content + "\n"))
            pending = None
    return Problem(id=pid, statement=statement, kind="stdio", public_tests=tuple(tests), metadata={"title": title, "source": source})


def load_statement_file(path: str | Path) -> Problem:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProblemFormatError(str(path), f"cannot read ({exc.strerror})", fix="check the path") from None
    except UnicodeDecodeError:
        raise ProblemFormatError(str(path), "is not UTF-8 text") from None
    return parse_statement(text, source=str(path), problem_id=path.stem)
