import pickle

import pytest

from atlas_kernel.problems.types import HiddenTests, Problem, Task, TestCase, require_problem


def _task() -> Task:
    p = Problem(id="p1", statement="add", kind="stdio", public_tests=(TestCase("1 2\n", "3\n"),))
    return Task(p, HiddenTests("p1", cases=(TestCase("40 2\n", "42\n"),)))


def test_problem_has_no_place_for_hidden_tests():
    with pytest.raises(TypeError):
        Problem(id="x", statement="s", kind="stdio", hidden_tests=())  # type: ignore[call-arg]


def test_solver_entry_refuses_task_and_hidden_tests_with_a_clear_message():
    task = _task()
    with pytest.raises(TypeError, match="pass task.problem"):
        require_problem(task, "solve")
    with pytest.raises(TypeError, match="never receives hidden tests"):
        require_problem(task.hidden, "solve")
    assert require_problem(task.problem, "solve") is task.problem


def test_hidden_tests_never_show_their_content_in_repr_or_pickle():
    task = _task()
    assert "40 2" not in repr(task.hidden) and "42" not in repr(task)
    with pytest.raises(TypeError, match="stay with the grader"):
        pickle.dumps(task.hidden)


def test_problem_round_trips_through_dict():
    p = _task().problem
    assert Problem.from_dict(p.to_dict()) == p


def test_functional_problem_needs_entry_point():
    with pytest.raises(ValueError, match="entry_point"):
        Problem(id="f", statement="s", kind="functional", io_format="json")
