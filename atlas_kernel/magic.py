"""IPython magics: solve a problem from a notebook cell.

    %load_ext atlas_kernel
    %atlas_solve example:sum_of_list --condition B --k 2
    %%atlas_solve --condition A
    Read two integers and print their sum.
    Input:
    ```
    1 2
    ```
    Output:
    ```
    3
    ```

Defaults are `AtlasMagics` traits (`%config AtlasMagics.model = "gemma"`, `.condition`, `.k`,
`.max_tokens`, `.seed`, `.selector`, `.overrides = {...}` for any PipelineConfig field). The model
is loaded once per kernel (`atlas_kernel.session`); `session.register_model(name, model)` makes a
custom or scripted model available under a name. While the pipeline runs, a progress widget
(plain text lines outside a notebook) follows its events; the cell's value is a `SolveResult`.
Errors the user can fix (bad options, missing files, unknown models) are one line, not a
traceback.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from traitlets import Bool, CaselessStrEnum, Dict, Int, Unicode

from atlas_kernel.errors import AtlasError
from atlas_kernel.magic_args import USAGE, MagicArgsError, SolveArgs, parse_line
from atlas_kernel.pipeline.conditions import CONDITIONS, DEFAULT_CONDITION, SELECTOR_NAMES, conditions_help

__all__ = ["AtlasMagics", "SolveResult", "load_ipython_extension", "unload_ipython_extension"]


class SolveResult:
    """What `%atlas_solve` returns: the solution, its verdicts, the trace, and views of them."""

    def __init__(self, *, problem: Any, run: Any, config: Any, model: Any, model_spec: str | None, style: str,
                 load_s: float, wall_s: float):
        self.problem = problem
        self.run = run
        self.config = config
        self.model = model
        self.model_spec = model_spec
        self.style = style
        self.load_s = load_s
        self.wall_s = wall_s
        self._widget: Any = None

    # -- data -----------------------------------------------------------------------------------
    @property
    def solution(self) -> Any:
        return self.run.solution

    @property
    def trace(self) -> Any:
        return self.run.trace

    @property
    def code(self) -> str:
        return self.solution.code if self.solution else ""

    @property
    def chosen(self) -> Any:
        st = self.run.state
        return st.candidate(st.chosen) if st.chosen else None

    @property
    def verdicts(self) -> list[Any]:
        """The chosen candidate's verdict on each public example."""
        c = self.chosen
        return list(c.public) if c else []

    @property
    def passed(self) -> bool:
        s = self.solution
        return bool(s and s.public_total and s.public_passed == s.public_total)

    def summary(self) -> dict[str, Any]:
        """A compact trace summary (also the plain-text repr's footer)."""
        s, st, tr = self.solution, self.run.state, self.trace
        origins: dict[str, int] = {}
        for c in st.candidates:
            origins[c.origin] = origins.get(c.origin, 0) + 1
        return {
            "problem": self.problem.id, "model": getattr(self.model, "name", self.model_spec), "condition": self.config.condition,
            "chosen": s.candidate if s else None, "solved_by": s.solved_by if s else None,
            "public": f"{s.public_passed}/{s.public_total}" if s else "-", "candidates": origins,
            "model_calls": len(tr.llm_calls), "test_runs": len(tr.test_runs), "tokens": s.tokens if s else st.tokens_used,
            "wall_s": round(self.wall_s, 2), "load_s": round(self.load_s, 2),
            "phase_s": {k: round(v, 2) for k, v in (s.phase_times if s else st.phase_times).items() if v >= 0.01},
            "stopped_early": s.stopped_early if s else st.stopped_early, "reason": st.selection_reason,
        }

    def save_trace(self, path: str) -> Any:
        return self.trace.save(path)

    # -- views ----------------------------------------------------------------------------------
    def stepper(self) -> Any:
        """A PipelineStepper on the same problem, model and config (a fresh run to step through)."""
        from atlas_kernel.widgets.stepper import PipelineStepper

        return PipelineStepper(self.problem, model=self.model, config=self.config, style=self.style)

    def trace_viewer(self) -> Any:
        from atlas_kernel.widgets.trace_viewer import TraceViewer

        return TraceViewer(self.trace)

    def widget(self) -> Any:
        """The result as a widget: the HTML report, "Open in stepper" / "Open trace viewer" buttons."""
        if self._widget is not None:
            return self._widget
        from atlas_kernel.widgets._base import require_ipywidgets

        W = require_ipywidgets()
        report = W.HTML(self._repr_html_())
        b_step = W.Button(description="Open in stepper", icon="step-forward", layout=W.Layout(width="auto"))
        b_trace = W.Button(description="Open trace viewer", icon="search", layout=W.Layout(width="auto"))
        slot = W.VBox()

        def open_view(make: Any) -> None:
            slot.children = [make()]

        b_step.on_click(lambda _b: open_view(self.stepper))
        b_trace.on_click(lambda _b: open_view(self.trace_viewer))
        box = W.VBox([report, W.HBox([b_step, b_trace]), slot])
        box.add_class("atlas-result")
        self._widget = box
        return box

    def __repr__(self) -> str:
        s = self.summary()
        cands = ", ".join(f"{k} {v}" for k, v in s["candidates"].items())
        lines = [f"# atlas_solve: {s['problem']} — model {s['model']}, condition {s['condition']}",
                 self.code.rstrip() or "# (no solution)",
                 f"# chosen {s['chosen']} (from {s['solved_by']}); public examples {s['public']}; "
                 f"candidates: {cands or 'none'}; {s['tokens']} tokens; {s['wall_s']:.1f}s"]
        if s["stopped_early"]:
            lines.append(f"# stopped early: {s['stopped_early']}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from atlas_kernel.widgets import _html as H

        s = self.summary()
        c = self.chosen
        rows = []
        for t, v in zip(self.problem.public_tests, self.verdicts):
            rows.append((H.pre(H.short(t.input, 80), 200), H.pre(H.short(t.output, 40), 100),
                         H.pre(H.short(v.actual or "", 40), 100), H.badge(v.verdict)))
        verdicts = (H.table(["input", "expected", "got", "verdict"], rows) if rows else
                    "<i>no public examples were run</i>")
        phases = ", ".join(f"{k} {v:.1f}s" for k, v in s["phase_s"].items())
        cands = ", ".join(f"{k} {v}" for k, v in s["candidates"].items())
        head = H.stat_line([("problem", s["problem"]), ("model", s["model"]), ("condition", s["condition"]),
                            ("public", ""), ])
        head = head.replace("<b>public</b> ", "<b>public</b> " + (H.pass_fraction(c.public_passed, c.public_total) if c else "–"))
        foot = H.stat_line([("chosen", f"{s['chosen']} (from {s['solved_by']})"), ("candidates", cands or "none"),
                            ("model calls", s["model_calls"]), ("tokens", s["tokens"]), ("wall", f"{s['wall_s']:.1f}s")])
        extra = f"<div>stopped early: {H.esc(s['stopped_early'])}</div>" if s["stopped_early"] else ""
        reason = f"<div style='color:#57606a'>selection: {H.esc(s['reason'])}</div>" if s["reason"] else ""
        return (f"<div class='atlas-result-html' style='font-size:13px'><div>{head}</div>{H.code_html(self.code)}"
                f"{verdicts}<div style='margin-top:4px'>{foot}</div><div style='color:#57606a'>phases: {H.esc(phases)}</div>"
                f"{extra}{reason}</div>")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": repr(self), "text/html": self._repr_html_()}
        from atlas_kernel.widgets._base import in_kernel

        if in_kernel():
            # inside a kernel, also offer the widget view (buttons); front ends without widget
            # support fall back to the HTML above
            try:
                bundle.update({k: v for k, v in self.widget()._repr_mimebundle_().items() if k != "text/plain"})
            except ImportError:
                pass
        return bundle


def _error_line(msg: str) -> None:
    # one readable line in the cell's output (stderr renders red in notebooks), no traceback
    print(f"atlas_solve: {msg}", file=sys.stderr)


@magics_class
class AtlasMagics(Magics):
    """`%atlas_solve` and `%%atlas_solve`. Options given on the line override these traits."""

    model = Unicode("", help="model spec: qwen-coder-0.5b (default), qwen-coder-1.5b, smollm2, gemma, a .gguf path, an http(s) URL, "
                             "or a name given to atlas_kernel.session.register_model").tag(config=True)
    condition = CaselessStrEnum(list(CONDITIONS), default_value=DEFAULT_CONDITION, help=conditions_help()).tag(config=True)
    k = Int(None, allow_none=True, help="candidates from Phase 1 (None: the condition's default)").tag(config=True)
    max_tokens = Int(None, allow_none=True, help="tokens per code generation (None: default)").tag(config=True)
    seed = Int(0, help="sampling seed").tag(config=True)
    selector = Unicode("", help=f"one of {', '.join(SELECTOR_NAMES)} (empty: default)").tag(config=True)
    overrides = Dict(help="more PipelineConfig fields, e.g. {'time_budget_s': 60, 'n_self_test_inputs': 3}").tag(config=True)
    progress = Bool(True, help="show live progress while solving").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any):
        super().__init__(shell=shell, **kwargs)
        self.last: SolveResult | None = None

    @line_magic
    def atlas_solve(self, line: str) -> SolveResult | None:
        """%atlas_solve PROBLEM_FILE_OR_TEXT [--condition A..E] [--model M] [--k N] [--max-tokens N] ... (see USAGE)"""
        try:
            args = parse_line(line, cell=False)
            if args.help:
                print(USAGE)
                return None
            from atlas_kernel.problems import load_problem

            problem = load_problem(args.problem)
        except AtlasError as exc:
            _error_line(str(exc))
            return None
        return self._solve(problem, args)

    @cell_magic("atlas_solve")
    def atlas_solve_cell(self, line: str, cell: str) -> SolveResult | None:
        """%%atlas_solve [options] — the cell body is the statement (with optional fenced examples)."""
        try:
            args = parse_line(line, cell=True)
            if args.help:
                print(USAGE)
                return None
            if not cell.strip():
                raise MagicArgsError("the %%atlas_solve cell is empty — write the problem statement in the cell body")
            from atlas_kernel.problems.markdown import parse_statement

            problem = parse_statement(cell, source="<cell>")
        except AtlasError as exc:
            _error_line(str(exc))
            return None
        return self._solve(problem, args)

    # -- the solve ------------------------------------------------------------------------------
    def config_for(self, args: SolveArgs) -> Any:
        """The PipelineConfig for these options over the trait defaults."""
        from atlas_kernel.pipeline.config import PipelineConfig

        try:
            return PipelineConfig.from_options(
                args.condition or self.condition.upper(), seed=args.seed if args.seed is not None else self.seed,
                k=args.k if args.k is not None else self.k,
                max_tokens=args.max_tokens if args.max_tokens is not None else self.max_tokens,
                selector=args.selector or self.selector or None, **dict(self.overrides))
        except (TypeError, ValueError) as exc:  # an unknown override name or an invalid value
            raise MagicArgsError(f"invalid pipeline configuration: {exc}") from None

    def _solve(self, problem: Any, args: SolveArgs) -> SolveResult | None:
        from atlas_kernel import session
        from atlas_kernel.pipeline.pipeline import Pipeline

        spec = args.model or self.model or None
        run = None
        try:
            config = self.config_for(args)
            t0 = time.perf_counter()
            model = session.get_model(spec)
            load_s = time.perf_counter() - t0
            style = session.prompt_style_for(spec, model)
            run = Pipeline(model, config, style=style).start(problem)
            show, done = self._progress(run, problem, quiet=args.quiet or not self.progress)
            t1 = time.perf_counter()
            ok = False
            try:
                for ev in run:
                    show(ev)
                ok = True
            finally:
                done(ok)
            result = SolveResult(problem=problem, run=run, config=config, model=model, model_spec=spec, style=style,
                                 load_s=load_s, wall_s=time.perf_counter() - t1)
            if args.trace:
                path = result.save_trace(args.trace)
                print(f"atlas_solve: trace written to {path}")
        except AtlasError as exc:
            _error_line(str(exc))
            return None
        except KeyboardInterrupt:
            where = f" in phase {run.last_phase}" if run is not None and run.last_phase else ""
            _error_line(f"interrupted{where}; nothing returned")
            return None
        self.last = result
        return result

    def _progress(self, run: Any, problem: Any, quiet: bool) -> tuple[Any, Any]:
        """(event callback, finisher(ok)): a widget in a kernel, text lines elsewhere."""
        if quiet:
            return (lambda ev: None), (lambda ok: None)
        from atlas_kernel.widgets._base import in_kernel

        if in_kernel():
            try:
                from IPython.display import display

                from atlas_kernel.widgets.solve_progress import SolveProgress

                prog = SolveProgress(phases=run.phases, title=problem.id)
                display(prog)
                # never prog.close(): closing a widget removes it from the page
                return prog, (lambda ok: prog.finish(ok=ok) if not ok else None)
            except ImportError:  # no ipywidgets: plain text below
                pass
        from atlas_kernel.cli.progress_lines import ProgressPrinter

        printer = ProgressPrinter(stream=sys.stdout, live=False)
        return printer, (lambda ok: printer.close())


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext atlas_kernel`: quiet; registers the magics once."""
    ipython.register_magics(AtlasMagics)


def unload_ipython_extension(ipython: Any) -> None:
    mm = ipython.magics_manager
    for kind in ("line", "cell"):
        mm.magics[kind].pop("atlas_solve", None)
    mm.registry.pop("AtlasMagics", None)
