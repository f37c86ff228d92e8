"""A tiny course of toy katas (double, square, cube), for the self-tests that run the real harness on one.

Several self-tests need a course that imports no TensorFlow and whose katas a
test can solve, break or hang at will. They build it from these pieces: pick
the katas (their order in :func:`curriculum` is the course's order) and the
checks (a check's position in the test file is arbitrary: the harness orders
checks by the curriculum, and :data:`CHECKS` is listed out of order on purpose).
"""

from __future__ import annotations

from pathlib import Path

KATAS = {
    "double": ("Double it", "Return 2 * x.", ["What is twice x?", "Multiply by two.", "return 2 * x"]),
    "square": ("Square it", "Return x * x.", ["What is x times itself?", "Use *.", "return x * x"]),
    "cube": ("Cube it", "Return x ** 3.", ["Three factors?", "Use **.", "return x ** 3"]),
}

CHECK_IMPORTS = "import numpy as np\nimport pytest\nfrom dojo.testkit.checks import assert_close, call\n"

CHECKS = {
    "cube": """
@pytest.mark.kata("toy.cube")
def test_cube(kata):
    assert_close(call(kata, np.array([2.0, 3.0])), np.array([8.0, 27.0]), call="cube([2, 3])")
""",
    "square": """
@pytest.mark.kata("toy.square")
def test_square(kata):
    assert_close(call(kata, np.array([2.0, 3.0])), np.array([4.0, 9.0]), call="square([2, 3])")
""",
    "double": """
@pytest.mark.kata("toy.double")
def test_double(kata):
    assert_close(call(kata, np.array([2.0, 3.0])), np.array([4.0, 6.0]), call="double([2, 3])")
""",
    "double_zero": """
@pytest.mark.kata("toy.double")
def test_double_zero(kata):
    assert_close(call(kata, np.zeros(2)), np.zeros(2), call="double([0, 0])")
""",
    # A check that names a mistake, as the course's checks do: the room shows it on the board.
    "double_named_mistake": """
@pytest.mark.kata("toy.double")
def test_double(kata):
    x = np.array([2.0, 3.0])
    assert_close(call(kata, x), 2 * x, call="double([2, 3])",
                 mistakes={"added 2 instead of doubling: multiply by 2": x + 2})
""",
}

SOLVED = {
    "double": "def double(x):\n    return 2 * x\n",
    "square": "def square(x):\n    return x * x\n",
    "cube": "def cube(x):\n    return x ** 3\n",
}


def curriculum(*names: str) -> str:
    """The track file of a course with these katas, in this order."""
    text = '[track]\nname = "Toys"\nmodule = "toy"\n'
    for name in names:
        title, goal, hints = KATAS[name]
        quoted = ", ".join(f'"{hint}"' for hint in hints)
        text += f'\n[[kata]]\nname = "{name}"\ntitle = "{title}"\ngoal = "{goal}"\nhints = [{quoted}]\n'
    return text


def kata_tests(*checks: str) -> str:
    """A kata test module with these checks of :data:`CHECKS`."""
    return CHECK_IMPORTS + "".join(CHECKS[check] for check in checks)


#: pytest's options for a toy course that loads only the plugins its conftest names. Scanning every
#: installed package for plugins and importing them (hypothesis, anyio with trio, xdist, benchmark) is over
#: half of a toy run's CPU time, and no toy check uses one: the harness and the room come from the conftest.
#: The real course's runs keep them (test_harness.py's runs on the shipped stubs, test_reference_cache.py's).
WITHOUT_INSTALLED_PLUGINS = "--disable-plugin-autoload"


def write_course(
    root: Path, katas: tuple[str, ...], checks: tuple[str, ...], ini: str = "", installed_plugins: bool = True
) -> None:
    """A runnable course in ``root``: conftest, pytest.ini, curriculum/toy.toml and tests/test_toy.py.

    ``installed_plugins=False`` keeps the plugins pytest would find installed out of the course's runs
    (:data:`WITHOUT_INSTALLED_PLUGINS`), for the self-tests that run many of them in subprocesses.
    """
    for folder in ("curriculum", "tests"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "conftest.py").write_text('pytest_plugins = ["dojo.harness.plugin", "dojo.room.plugin"]\n')
    addopts = "-p no:cacheprovider" + ("" if installed_plugins else " " + WITHOUT_INSTALLED_PLUGINS)
    (root / "pytest.ini").write_text(f"[pytest]\naddopts = {addopts}\n" + ini)
    (root / "curriculum" / "toy.toml").write_text(curriculum(*katas))
    (root / "tests" / "test_toy.py").write_text(kata_tests(*checks))
