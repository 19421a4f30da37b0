"""HTML fragments shared by the magic's result and the widgets (no ipywidgets needed here).

All styles are inline: the fragments are shown in JupyterLab, classic Notebook, VS Code and in
stored notebook outputs, none of which load a stylesheet of ours.
"""

from __future__ import annotations

import difflib
import html
from typing import Any, Iterable, Sequence

VERDICT_COLOURS = {
    "passed": "#1a7f37",
    "wrong_answer": "#cf222e",
    "runtime_error": "#bc4c00",
    "timeout": "#8250df",
    "compile_error": "#6e7781",
    "memory": "#8250df",
}
# line-height: widget HTML inherits the (tall) inline-widget line height otherwise
MONO = "font-family: SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; line-height: 1.35;"


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def code_html(code: str, language: str = "python", max_lines: int | None = None) -> str:
    """Syntax-highlighted code (Pygments, inline styles); plain <pre> without Pygments."""
    if max_lines is not None:
        lines = code.splitlines()
        if len(lines) > max_lines:
            code = "\n".join(lines[:max_lines]) + f"\n# ... {len(lines) - max_lines} more lines"
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import get_lexer_by_name

        # noclasses: the colours travel with the HTML, no stylesheet to inject
        fmt = HtmlFormatter(noclasses=True, style="friendly", nobackground=False)
        body = highlight(code or "# (empty)", get_lexer_by_name(language), fmt)
        return f'<div class="atlas-code" style="{MONO} max-height: 28em; overflow: auto;">{body}</div>'
    except ImportError:
        return f'<pre class="atlas-code" style="{MONO}">{esc(code)}</pre>'


def badge(verdict: str) -> str:
    colour = VERDICT_COLOURS.get(verdict, "#57606a")
    return (f'<span style="background:{colour}; color:white; border-radius:3px; padding:0 4px; '
            f'font-size:11px;">{esc(verdict)}</span>')


def pass_fraction(passed: int, total: int) -> str:
    if not total:
        return '<span style="color:#57606a">–</span>'
    colour = VERDICT_COLOURS["passed"] if passed == total else VERDICT_COLOURS["wrong_answer"]
    return f'<b style="color:{colour}">{passed}/{total}</b>'


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, raw: bool = True, cls: str = "atlas-table") -> str:
    """A compact table; cells are HTML when raw, escaped text otherwise."""
    th = "".join(f'<th style="text-align:left; padding:2px 8px; border-bottom:1px solid #d0d7de;">{esc(h)}</th>'
                 for h in header)
    body = []
    for row in rows:
        tds = "".join(f'<td style="padding:2px 8px; vertical-align:top;">{c if raw else esc(c)}</td>' for c in row)
        body.append(f"<tr>{tds}</tr>")
    return (f'<table class="{cls}" style="border-collapse:collapse; font-size:12px; line-height:1.35;">'
            f"<thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def pre(text: str, max_chars: int = 4000) -> str:
    if len(text) > max_chars:
        text = text[:max_chars] + f"\n... ({len(text) - max_chars} more characters)"
    return f'<pre style="{MONO} white-space: pre-wrap; margin: 2px 0;">{esc(text)}</pre>'


def short(text: str, n: int = 60) -> str:
    one = " ".join(str(text).split())
    return one if len(one) <= n else one[: n - 1] + "…"


def diff_html(a: str, b: str, label_a: str, label_b: str) -> str:
    """Side-by-side diff of two programs (difflib's table, restyled inline)."""
    if a == b:
        return f"<i>{esc(label_a)} and {esc(label_b)} are identical.</i>"
    d = difflib.HtmlDiff(tabsize=4, wrapcolumn=70)
    out = d.make_table(a.splitlines(), b.splitlines(), esc(label_a), esc(label_b), context=True, numlines=3)
    # difflib marks changes with classes styled by a <style> block in make_file(); inline
    # equivalents keep the colours without a stylesheet
    for cls, style in (('class="diff_add"', 'style="background:#aaffaa"'),
                       ('class="diff_chg"', 'style="background:#ffff77"'),
                       ('class="diff_sub"', 'style="background:#ffaaaa"')):
        out = out.replace(cls, style)
    return f'<div style="{MONO} overflow:auto;">{out}</div>'


def stat_line(items: Sequence[tuple[str, Any]]) -> str:
    return " &nbsp;·&nbsp; ".join(f"<b>{esc(k)}</b> {esc(v)}" for k, v in items)
