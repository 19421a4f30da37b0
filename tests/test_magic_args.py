"""Option parsing of %atlas_solve into SolveArgs: exact and fast."""

import pytest

from atlas_kernel.errors import AtlasError
from atlas_kernel.magic_args import MagicArgsError, parse_line


def test_problem_and_options_in_any_order():
    a = parse_line("--condition b example:sum_of_list --k 3 --max-tokens=64 --model gemma")
    assert (a.problem, a.condition, a.k, a.max_tokens, a.model) == ("example:sum_of_list", "B", 3, 64, "gemma")
    assert a.given == {"condition", "k", "max_tokens", "model"}


def test_statement_text_with_negative_numbers_and_apostrophes_is_the_problem():
    a = parse_line("Print -5 plus the input, don't print anything else -q")
    assert a.problem == "Print -5 plus the input, don't print anything else" and a.quiet


def test_quoted_paths_keep_their_spaces():
    assert parse_line('"my problems/a b.md" --seed 2').problem == "my problems/a b.md"


@pytest.mark.parametrize("line, fragment", [
    ("example:x --k", "--k needs a value"),
    ("example:x --k two", "needs an integer"),
    ("example:x --k -1", ">= 0"),
    ("example:x --max-tokens 0", ">= 1"),
    ("example:x --condition F", "one of A, B, C, D, E"),
    ("example:x --selector best", "lexicographic"),
    ("example:x --frobnicate 1", "unknown option --frobnicate"),
    ("example:x --quiet=yes", "takes no value"),
    ("--k 2", "needs a problem"),
])
def test_bad_options_are_one_line_atlas_errors(line, fragment):
    with pytest.raises(MagicArgsError, match=fragment) as info:
        parse_line(line)
    assert isinstance(info.value, AtlasError) and "\n" not in str(info.value)


def test_cell_form_takes_options_only():
    a = parse_line("--condition a --k 0", cell=True)
    assert a.problem is None and a.condition == "A" and a.k == 0
    with pytest.raises(MagicArgsError, match="cell body is the problem"):
        parse_line("example:sum_of_list", cell=True)


def test_help_needs_no_problem():
    assert parse_line("--help").help and parse_line("-h", cell=True).help
