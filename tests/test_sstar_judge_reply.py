"""The S* judge's reply is read as the option it names, never the English article."""

import pytest

from atlas_kernel.pipeline.phases.sstar import parse_choice


@pytest.mark.parametrize("reply, choice", [
    ("B", "B"), ("A", "A"), (" B.", "B"),
    ("a better output is B", "B"),            # the article "a" is not option A
    ("a correct program prints B", "B"),
    ("A better output is B", "B"),            # nor the capital article opening a sentence
    ("A correct program prints B.", "B"),
    ("A is correct", "A"), ("A seems right", "A"), ("A) 3", "A"),
    ("The answer is B.", "B"), ("Answer: a", "A"), ("answer: (b)", "B"),
    ("(b)", "B"), ("b) is right", "B"),
    ("I think a is correct", None),           # names no option: no verdict rather than a guess
    ("", None),
])
def test_judge_reply_names_the_option(reply, choice):
    assert parse_choice(reply) == choice
