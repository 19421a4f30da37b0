from atlas_kernel.pipeline.extract import extract_code
from atlas_kernel.problems.types import Problem

HE = Problem(id="h", statement="", kind="functional", entry_point="g", io_format="python",
             starter_code='from typing import List\n\n\ndef helper(x):\n    return x + 1\n\n\ndef g(xs: List[int]) -> int:\n    """doc"""\n')


def test_fenced_function_gets_the_starter_imports_and_helpers():
    text = "Here you go:\n```python\ndef g(xs: List[int]) -> int:\n    return sum(helper(x) for x in xs)\n```\nDone."
    code = extract_code(HE, text)
    assert code.startswith("from typing import List")
    assert "def helper" in code and "def g" in code
    ns: dict = {}
    exec(code, ns)
    assert ns["g"]([1, 2]) == 5


def test_a_bare_body_is_put_under_the_starter_signature():
    code = extract_code(HE, "```python\n    return len(xs)\n```")
    ns: dict = {}
    exec(code, ns)
    assert ns["g"]([1, 2, 3]) == 3


def test_completion_style_cuts_at_the_next_top_level_statement():
    prompt = "def f(x):\n"
    code = extract_code(Problem(id="c", statement="", kind="functional", entry_point="f", io_format="python", starter_code=prompt),
                        "    return x * 2\n\n\ndef other():\n    pass\nprint(f(2))\n", completion_of=prompt)
    assert code == "def f(x):\n    return x * 2\n"


def test_stdio_program_picks_the_block_that_parses():
    p = Problem(id="s", statement="", kind="stdio")
    text = "```\nthis is not python (\n```\n```python\nn = int(input())\nprint(n * 2)\n```"
    assert extract_code(p, text) == "n = int(input())\nprint(n * 2)\n"
