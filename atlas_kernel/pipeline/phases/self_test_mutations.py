"""New test inputs made by mutating the PUBLIC example inputs (type-aware, deterministic per seed).

Models of this size rarely follow "write test inputs" (they write another program instead), so
self-tests also get inputs that need no model at all: the public examples' arguments with ints
nudged, lists reversed/sorted/shortened, strings reversed/cased, and the numbers of stdio lines
permuted or shifted. Their expected outputs are still decided by agreement among candidates; an
input that no candidate can run is simply dropped.
"""

from __future__ import annotations

import ast
import json
import random
from typing import Any

from atlas_kernel.problems.types import Problem


def _mutate_value(v: Any, rng: random.Random) -> Any:
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return rng.choice([v + 1, v - 1, v * 2, -v, 0, v + 7])
    if isinstance(v, float):
        return rng.choice([v * 1.5, v + 0.5, -v, 0.0])
    if isinstance(v, str):
        if not v:
            return rng.choice(["a", "ab", " "])
        return rng.choice([v[::-1], v.upper(), v.lower(), v + v[:1], v[1:], v.swapcase()])
    if isinstance(v, list):
        if not v:
            return v
        choice = rng.randrange(6)
        if choice == 0:
            return list(reversed(v))
        if choice == 1:
            try:
                return sorted(v)
            except TypeError:
                return v[::-1]
        if choice == 2:
            return v[: max(1, len(v) // 2)]
        if choice == 3:
            return v + v[:1]
        if choice == 4:
            return [_mutate_value(x, rng) for x in v]
        return v[1:] if len(v) > 1 else v
    if isinstance(v, tuple):
        return tuple(_mutate_value(list(v), rng))
    return v


def _python_call_args(expr: str, entry: str) -> tuple[list[Any], dict[str, Any]] | None:
    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry):
        return None  # a wrapped call (e.g. round(f(x), 2)): not safe to mutate
    try:
        args = [ast.literal_eval(a) for a in node.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
    except (ValueError, TypeError, SyntaxError):
        return None
    return args, kwargs


def _stdio_mutation(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    out = []
    for line in lines:
        toks = line.split()
        if len(toks) > 1 and all(t.lstrip("-").isdigit() for t in toks):
            nums = [int(t) for t in toks]
            if rng.random() < 0.5:
                rng.shuffle(nums)
            else:
                nums = [n + rng.choice([-1, 1, 2, 3]) for n in nums]
            out.append(" ".join(str(n) for n in nums))
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def mutated_inputs(problem: Problem, n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    bases = [t.input for t in problem.public_tests]
    if not bases or n <= 0:
        return []
    seen = {b.strip() for b in bases}
    out: list[str] = []
    for attempt in range(n * 6):
        base = bases[attempt % len(bases)]
        if problem.kind == "stdio":
            new = _stdio_mutation(base, rng)
        elif problem.io_format == "json":
            try:
                args = [json.loads(line) for line in base.splitlines() if line.strip()]
            except ValueError:
                continue
            if not args:
                continue
            i = rng.randrange(len(args))
            args[i] = _mutate_value(args[i], rng)
            new = "\n".join(json.dumps(a) for a in args)
        else:
            parsed = _python_call_args(base, problem.entry_point or "")
            if parsed is None or not (parsed[0] or parsed[1]):
                continue
            args, kwargs = parsed
            if args:
                i = rng.randrange(len(args))
                args[i] = _mutate_value(args[i], rng)
            else:
                k = rng.choice(sorted(kwargs))
                kwargs[k] = _mutate_value(kwargs[k], rng)
            parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
            new = f"{problem.entry_point}({', '.join(parts)})"
        if new.strip() not in seen and len(new) < 2000:
            seen.add(new.strip())
            out.append(new)
        if len(out) >= n:
            break
    return out
