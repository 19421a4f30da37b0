"""Budget forcing: cap the model's reasoning at a tier's token budget, and extend it when the model
stops too early by cutting the end-of-reasoning marker and appending a continuation cue ("Wait,").

Thinking models (a chat template that mentions <think>): reasoning is the <think>...</think> span.
Other models get the visible variant with the same budgets: the assistant turn is prefilled with
"Reasoning:" and reasoning ends where the model opens its code fence. Both need the backend's
`render()` (the exact prompt text) to continue a partly written assistant turn; a backend without
it (an HTTP server) gets one plain call that asks for reasoning first, and the trace says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from atlas_kernel.models.base import Message, Sampling
from atlas_kernel.pipeline.config import BudgetTier

if TYPE_CHECKING:
    from atlas_kernel.pipeline.context import RunContext

CONTINUE_CUE = "Wait,"
MAX_EXTENSIONS = 2


@dataclass
class ForcedAnswer:
    reasoning: str
    text: str  # what the code extractor reads: reasoning + fenced code
    think_tokens: int
    code_tokens: int
    extensions: int
    capped: bool
    mode: str  # think | visible | unforced
    mean_logprob: float | None = None  # of the code tokens: the tie-break compares forced candidates like the others


def is_thinking_model(model: Any) -> bool:
    tmpl = getattr(model, "_template", None) or ""
    return "<think>" in tmpl


def forced_generate(ctx: "RunContext", phase: str, purpose: str, messages: list[Message], tier: BudgetTier,
                    sampling: Sampling) -> ForcedAnswer:
    model = ctx.model
    if tier.think_tokens <= 0:
        c = ctx.generate(phase, purpose, messages, sampling.with_(logprobs=True))
        return ForcedAnswer("", c.text, 0, c.completion_tokens, 0, False, "nothink", c.mean_logprob)
    if not hasattr(model, "render"):
        ask = dict(messages[-1])
        ask["content"] += f"\n\nFirst explain your approach in at most {tier.think_tokens // 2} words, then give the code."
        c = ctx.generate(phase, purpose + " (reasoning first, unforced)", messages[:-1] + [ask],
                         sampling.with_(max_tokens=sampling.max_tokens + tier.think_tokens, logprobs=True))
        return ForcedAnswer("", c.text, 0, c.completion_tokens, 0, False, "unforced", c.mean_logprob)

    thinking = is_thinking_model(model)
    if thinking:
        # the code part begins inside an opened fence, as in the visible variant: a stop at ``` then
        # closes the code, instead of firing on the opening fence the model would write first
        open_mark, close_mark, code_open = "<think>\n", "</think>", "\n</think>\n\n```python\n"
    else:
        ask = dict(messages[-1])
        ask["content"] += "\n\nFirst write your reasoning as a short numbered list, then the code in one ```python block."
        messages = messages[:-1] + [ask]
        open_mark, close_mark, code_open = "Reasoning:\n1.", "```", "\n\n```python\n"
    base, _ = model.render(messages)
    if thinking and base.rstrip().endswith("<think>"):
        open_mark = ""  # the template opened the thinking span itself: a second <think> is not the model's format
    prefix = base + open_mark
    reasoning = ""
    used = 0
    extensions = 0
    capped = False
    while True:
        room = tier.think_tokens - used
        if room <= 0:
            capped = True
            break
        c = ctx.generate(phase, f"{purpose}: reasoning", prefix + reasoning,
                         sampling.with_(max_tokens=room, stop=(close_mark,)))
        reasoning += c.text
        used += c.completion_tokens
        if c.finish_reason == "length":
            capped = True
            break
        # stopped before the budget's floor: suppress the end marker and ask it to go on
        if used < tier.min_think_tokens and extensions < MAX_EXTENSIONS:
            reasoning = reasoning.rstrip() + f"\n{CONTINUE_CUE}"
            extensions += 1
            continue
        break
    code_prefix = prefix + reasoning.rstrip() + code_open
    c = ctx.generate(phase, f"{purpose}: code", code_prefix,
                     sampling.with_(stop=("```",) + tuple(sampling.stop), logprobs=True))
    # the candidate is the code written after the reasoning: a thinking model's drafts inside
    # <think> may hold code blocks too, and the extractor must not pick one of those
    text = (f"```python\n{c.text}\n```" if thinking else f"{open_mark}{reasoning}\n```python\n{c.text}\n```")
    return ForcedAnswer(reasoning, text, used, c.completion_tokens, extensions, capped, "think" if thinking else "visible",
                        c.mean_logprob)
