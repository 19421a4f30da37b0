"""Budget forcing: a thinking model's code is not cut off by its own opening fence, and a forced
candidate carries a log-probability like every other candidate."""

from atlas_kernel.models.scripted import ScriptedModel
from atlas_kernel.pipeline.config import TIERS, PipelineConfig
from atlas_kernel.pipeline.context import RunContext
from atlas_kernel.pipeline.phases.budget_forcing import forced_generate
from atlas_kernel.models.base import Sampling
from atlas_kernel.problems import load_problem

CODE = "n = int(input())\nprint(sum(map(int, input().split())))\n"


class ThinkingModel(ScriptedModel):
    """A scripted model with a <think> chat template: it reasons, then (after </think>) writes
    a fenced program, as such models do."""

    _template = "{% if thinking %}<think>{% endif %}"

    def __init__(self):
        super().__init__(self._answer)

    def render(self, messages):
        return "".join(f"<|{m['role']}|>{m['content']}" for m in messages) + "<|assistant|>", ()

    @staticmethod
    def _answer(prompt, sampling):
        if isinstance(prompt, str) and prompt.rstrip().endswith("```python"):
            return CODE + "```\nDone."  # inside an opened fence: the code, then the closing fence
        if isinstance(prompt, str) and prompt.endswith("</think>\n\n"):
            return "```python\n" + CODE + "```"  # left to itself after </think>, it opens a fence first
        return "I add the numbers. </think>"


def _forced(model):
    problem = load_problem("example:sum_of_list")
    ctx = RunContext(problem, model, PipelineConfig(), style="chat")
    msgs = [{"role": "user", "content": problem.statement}]
    return forced_generate(ctx, "divsampling", "test", msgs, TIERS["light"], Sampling(max_tokens=200))


def test_a_thinking_models_code_survives_the_code_stop():
    fa = _forced(ThinkingModel())
    assert fa.mode == "think"
    assert "print(sum(map(int, input().split())))" in fa.text


def test_forced_candidates_carry_a_log_probability():
    fa = _forced(ThinkingModel())
    assert fa.mean_logprob is not None


class DraftingThinkingModel(ThinkingModel):
    """Its template opens <think> itself, and it drafts a wrong program while thinking."""

    def render(self, messages):
        text, stops = super().render(messages)
        return text + "<think>\n", stops

    prompts: list = []

    @classmethod
    def _answer(cls, prompt, sampling):
        cls.prompts.append(prompt)
        if isinstance(prompt, str) and prompt.rstrip().endswith("```python"):
            return CODE + "```"
        return "Draft:\n```python\nprint(0)\n```\nNo, sum them. </think>"


def test_the_candidate_is_the_code_after_thinking_not_a_draft_inside_it():
    model = DraftingThinkingModel()
    fa = _forced(model)
    assert "print(0)" not in fa.text and "print(sum(map(int, input().split())))" in fa.text
    assert "print(0)" in fa.reasoning  # the draft stays visible as reasoning


def test_a_template_that_opens_think_gets_no_second_one():
    DraftingThinkingModel.prompts = []
    _forced(DraftingThinkingModel())
    prompts = DraftingThinkingModel.prompts
    assert prompts and all(p.count("<think>") == 1 for p in prompts)
