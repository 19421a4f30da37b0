from atlas_kernel.pipeline.extract import extract_code, strip_test_code
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


FUNC = Problem(id="t", statement="Add two numbers.", kind="functional", entry_point="add", io_format="python",
               starter_code="def add(a: int, b: int) -> int:\n    \"\"\"Sum.\"\"\"\n")
SOLUTION = "import math\n\nLIMIT = 10\n\n\ndef _helper(x):\n    return x\n\n\ndef add(a, b):\n    return _helper(a) + b"


def test_appended_test_code_is_stripped_and_the_solution_kept():
    text = ("```python\n" + SOLUTION + "\n\n# Test cases\nassert add(1, 2) == 4\nprint(add(2, 2))\nresult = add(3, 3)\n"
            "for a, b in [(1, 2)]:\n    print(add(a, b))\n\nif __name__ == '__main__':\n    x = int(input())\n    print(add(x, x))\n```")
    code = extract_code(FUNC, text)
    assert "assert" not in code and "print" not in code and "__main__" not in code and "input" not in code
    for kept in ("import math", "LIMIT = 10", "def _helper(x):", "def add(a, b):"):
        assert kept in code
    ns: dict = {}
    exec(code, ns)  # the appended assert was wrong (1 + 2 != 4): stripped, the program runs
    assert ns["add"](1, 2) == 3


def test_test_code_cut_off_mid_line_at_the_token_cap_is_dropped():
    text = "```python\n" + SOLUTION + "\n\nprint(add(1, 2))\nassert add(2, 3) == (5"
    code = extract_code(FUNC, text)
    assert code.rstrip().endswith("return _helper(a) + b") and "assert" not in code


def test_code_without_test_code_and_decorators_are_left_alone():
    text = "```python\nimport functools\n\n\n@functools.lru_cache(None)\ndef add(a, b):\n    return a + b\n```"
    code = extract_code(FUNC, text)
    assert "@functools.lru_cache(None)\ndef add(a, b):" in code
    assert strip_test_code("def add(a, b):\n    return a + b\n", "add") == "def add(a, b):\n    return a + b\n"


def test_stdio_programs_keep_their_top_level_prints():
    stdio = Problem(id="s", statement="Read n, print n.", kind="stdio")
    code = extract_code(stdio, "```python\nn = int(input())\nprint(n)\n```")
    assert "print(n)" in code and "input()" in code
