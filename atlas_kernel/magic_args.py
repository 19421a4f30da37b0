"""Option parsing for the `%atlas_solve` / `%%atlas_solve` magics, into a typed object.

    %atlas_solve PROBLEM [--condition A..E] [--model SPEC] [--k N] [--max-tokens N]
                         [--seed N] [--selector NAME] [--trace PATH] [--quiet]

PROBLEM is a problem file, `example:NAME`, or a statement typed on the line; it may stand before,
between or after the options. In the cell form the cell body is the statement and the line
holds options only.

A hand-written scanner rather than argparse: argparse exits the process on errors and mistakes
statement words such as "-5" for options; here an unknown `--name` is an error with the list of
known options, and everything else is statement text. Errors are `MagicArgsError`, an
`AtlasError`, so the magic shows them as one line.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any, Callable

from atlas_kernel.errors import AtlasError
from atlas_kernel.pipeline.conditions import CONDITIONS, DEFAULT_CONDITION, SELECTOR_NAMES, conditions_help

USAGE = (
    f"usage: %atlas_solve PROBLEM_FILE_OR_TEXT [--condition {CONDITIONS[0]}..{CONDITIONS[-1]}] [--model SPEC] [--k N] "
    f"[--max-tokens N] [--seed N] [--selector {'|'.join(SELECTOR_NAMES)}] [--trace PATH] [--quiet]\n"
    "       %%atlas_solve [options]   (the cell body is the statement, with optional fenced examples)\n"
    f"Conditions: {conditions_help()} (default {DEFAULT_CONDITION}).\n"
    "Defaults come from %config AtlasMagics.condition / .model / .k / .max_tokens / .overrides."
)


class MagicArgsError(AtlasError):
    """A bad `%atlas_solve` option: shown as one line, with the fix."""


@dataclass
class SolveArgs:
    """What one `%atlas_solve` call asked for; None means "use the AtlasMagics default"."""

    problem: str | None = None  # spec or statement text (line form); None in the cell form
    condition: str | None = None
    model: str | None = None
    k: int | None = None
    max_tokens: int | None = None
    seed: int | None = None
    selector: str | None = None
    trace: str | None = None  # save the trace JSON here
    quiet: bool = False  # no progress display
    help: bool = False
    given: set[str] = field(default_factory=set)  # option names that appeared on the line


def _positive_int(name: str) -> Callable[[str], int]:
    def conv(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise MagicArgsError(f"--{name} needs an integer, got {text!r}") from None
        if value < (0 if name in ("k", "seed") else 1):
            raise MagicArgsError(f"--{name} must be >= {0 if name in ('k', 'seed') else 1}, got {value}")
        return value

    return conv


def _condition(text: str) -> str:
    c = text.strip().upper()
    if c not in CONDITIONS:
        raise MagicArgsError(f"--condition must be one of {', '.join(CONDITIONS)}, got {text!r} ({conditions_help()})")
    return c


def _selector(text: str) -> str:
    if text not in SELECTOR_NAMES:
        raise MagicArgsError(f"--selector must be one of {', '.join(SELECTOR_NAMES)}, got {text!r}")
    return text


def _nonempty(name: str) -> Callable[[str], str]:
    def conv(text: str) -> str:
        if not text.strip():
            raise MagicArgsError(f"--{name} needs a value")
        return text

    return conv


# option name -> (attribute, converter); None converter = a flag without a value
_OPTIONS: dict[str, tuple[str, Callable[[str], Any] | None]] = {
    "condition": ("condition", _condition),
    "model": ("model", _nonempty("model")),
    "k": ("k", _positive_int("k")),
    "max-tokens": ("max_tokens", _positive_int("max-tokens")),
    "seed": ("seed", _positive_int("seed")),
    "selector": ("selector", _selector),
    "trace": ("trace", _nonempty("trace")),
    "quiet": ("quiet", None),
    "help": ("help", None),
}
_SHORT = {"-c": "condition", "-m": "model", "-k": "k", "-q": "quiet", "-h": "help"}


def _tokens(line: str) -> list[str]:
    # shlex honours quotes ("a file with spaces.md"); statement text with a lone apostrophe
    # ("don't") is not valid shell, so fall back to plain whitespace splitting
    try:
        return shlex.split(line, posix=True)
    except ValueError:
        return line.split()


def parse_line(line: str, *, cell: bool = False) -> SolveArgs:
    """Parse the magic's line. `cell=True`: the line may hold options only."""
    args = SolveArgs()
    words: list[str] = []
    toks = _tokens(line or "")
    i = 0
    while i < len(toks):
        tok = toks[i]
        i += 1
        name: str | None = None
        value: str | None = None
        if tok.startswith("--") and len(tok) > 2:
            name, eq, rest = tok[2:].partition("=")
            name = name.replace("_", "-")
            value = rest if eq else None
            if name not in _OPTIONS:
                known = ", ".join("--" + k for k in _OPTIONS)
                raise MagicArgsError(f"unknown option --{name} (known: {known})")
        elif tok in _SHORT:
            name = _SHORT[tok]
        if name is None:
            words.append(tok)
            continue
        attr, conv = _OPTIONS[name]
        if conv is None:
            if value is not None:
                raise MagicArgsError(f"--{name} takes no value")
            setattr(args, attr, True)
        else:
            if value is None:
                if i >= len(toks):
                    raise MagicArgsError(f"--{name} needs a value")
                value = toks[i]
                i += 1
            setattr(args, attr, conv(value))
        args.given.add(attr)
    if words:
        if cell:
            raise MagicArgsError("in %%atlas_solve the cell body is the problem; the first line takes options only "
                                 f"(unexpected {' '.join(words)[:60]!r})")
        args.problem = " ".join(words)
    elif not cell and not args.help:
        raise MagicArgsError("%atlas_solve needs a problem: a file, example:NAME, or the statement text "
                             "(or use %%atlas_solve with the statement in the cell)")
    return args
