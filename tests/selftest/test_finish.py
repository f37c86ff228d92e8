"""How a run ends (dojo/harness/finish.py): a finished course, track or kata exits 0 and says so in words.

pytest's own status for "every test left out" is 5; a kata run leaves out the
katas that passed before, so without this a finished course read as a failure
to CI and to workshop scripts. Exit 5 stays for a selection that names no kata.
"""

import pytest
from toy_course import SOLVED, write_course

STUB = 'def {name}(x):\n    raise NotImplementedError("kata: {name}")\n'


@pytest.fixture
def course(pytester):
    write_course(pytester.path, ("double", "square", "cube"), ("cube", "square", "double", "double_zero"))

    def write(**bodies):
        path = pytester.path / "katas"
        path.mkdir(exist_ok=True)
        (path / "toy.py").write_text("import numpy as np\n\n" + "\n\n".join(bodies.get(n, SOLVED[n]) for n in SOLVED))

    pytester.write_impl = write
    return pytester


def test_a_finished_course_rerun_exits_0_and_says_nothing_is_left(course):
    course.write_impl()
    first = course.runpytest("tests")
    assert first.ret == 0
    again = course.runpytest("tests")
    assert again.ret == 0, again.stdout.str()
    again.stdout.fnmatch_lines(
        ["*All 3 katas pass. Nothing left to do*", "*3 katas that passed before were not rerun*"]
    )
    again.stdout.no_fnmatch_line("*All 0 katas*")
    again.assert_outcomes()  # nothing ran: every kata's code is as it was when it passed


@pytest.mark.slow
def test_a_finished_track_rerun_exits_0_and_says_what_is_left(pytester):
    # Two tracks (files sorted by name: "toy" is track 1, "zmore" track 2): the first finished.
    write_course(pytester.path, ("double", "square"), ("double", "square"))
    (pytester.path / "curriculum" / "zmore.toml").write_text(
        '[track]\nname = "More"\nmodule = "zmore"\n\n[[kata]]\nname = "cube"\ntitle = "Cube it"\n'
        'goal = "Return x ** 3."\nhints = ["a", "b", "c"]\n'
    )
    (pytester.path / "tests" / "test_zmore.py").write_text(
        "import numpy as np\nimport pytest\nfrom dojo.testkit.checks import assert_close, call\n\n"
        '@pytest.mark.kata("zmore.cube")\ndef test_cube(kata):\n'
        '    assert_close(call(kata, np.array([2.0])), np.array([8.0]), call="cube([2])")\n'
    )
    (pytester.path / "katas").mkdir()
    (pytester.path / "katas" / "toy.py").write_text("import numpy as np\n\n" + SOLVED["double"] + SOLVED["square"])
    (pytester.path / "katas" / "zmore.py").write_text(STUB.format(name="cube"))
    assert pytester.runpytest("tests").ret == 1  # stops at 2.1
    again = pytester.runpytest("tests", "--track", "1")
    assert again.ret == 0, again.stdout.str()
    assert "All 2 katas of track 1 Toys pass. Nothing left to do here: 1 kata of the course is not done yet" in (
        " ".join(again.stdout.str().split())  # the card wraps to 80 columns
    )
    again.stdout.no_fnmatch_line("*All 0 katas*")
    assert pytester.runpytest("tests").ret == 1  # the course is not finished


@pytest.mark.slow
def test_a_kata_that_passed_before_exits_0_alone(course):
    course.write_impl()
    course.runpytest("tests")
    again = course.runpytest("tests", "--kata", "1.2")
    assert again.ret == 0, again.stdout.str()
    again.stdout.fnmatch_lines(["*kata 1.2 Square it passes (the only kata in this run)*"])


def test_a_selection_that_names_no_kata_exits_5_with_one_line(course):
    course.write_impl()
    result = course.runpytest("tests", "-k", "no_such_check")
    assert result.ret == 5
    result.stdout.fnmatch_lines(["No kata in this run: -k 'no_such_check' left out all 4 kata checks.*kata list*"])


@pytest.mark.slow
def test_a_failing_kata_still_exits_1_after_others_were_not_rerun(course):
    course.write_impl(square="def square(x):\n    return x * 2\n")
    course.runpytest("tests")
    again = course.runpytest("tests")
    assert again.ret == 1
    again.stdout.fnmatch_lines(["*kata 1.2  Square it*failing*"])
