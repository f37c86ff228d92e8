"""`kata dev check` passes on the shipped course and names each structural mistake in one line."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dojo.tools.devcheck import check

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("curriculum", "katas", "solutions", "tests/katas", "tests/selftest/mutants", "README.md", "notebooks")


@pytest.fixture
def course(tmp_path) -> Path:
    """A copy of the parts of the checkout that the check reads."""
    for part in PARTS:
        source, target = ROOT / part, tmp_path / part
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def lines(course: Path) -> list[str]:
    return [str(problem) for problem in check(course)]


def test_the_shipped_course_passes():
    assert lines(ROOT) == []


def test_the_command_says_ok_and_imports_no_tensorflow():
    code = (
        "import sys; from dojo.tools.cli import main; rc = main(['dev', 'check']); "
        "assert 'tensorflow' not in sys.modules, 'dev check imported TensorFlow'; sys.exit(rc)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "course structure OK" in result.stdout


def test_a_manifest_entry_whose_function_is_missing(course):
    edit(
        course / "katas" / "neuron.py",
        "def dense_forward(x, kernel, bias):",
        "def dense_forward_gone(x, kernel, bias):",
    )
    assert (
        "katas/neuron.py: kata neuron.dense_forward asks for `dense_forward`, which is not defined here: add it "
        "(or fix `target` in the manifest)" in lines(course)
    )


def test_a_stub_that_does_not_raise(course):
    edit(
        course / "katas" / "neuron.py",
        '    raise NotImplementedError("kata neuron.dense_forward")',
        "    return x @ kernel",
    )
    assert (
        "katas/neuron.py: kata neuron.dense_forward has no stub: `dense_forward` must raise "
        'NotImplementedError("kata neuron.dense_forward") as shipped' in lines(course)
    )


@pytest.mark.slow
def test_a_stub_that_also_returns_a_value(course):
    edit(
        course / "katas" / "neuron.py",
        '    raise NotImplementedError("kata neuron.dense_forward")',
        '    if x is None:\n        return 0.0\n    raise NotImplementedError("kata neuron.dense_forward")',
    )
    assert any(
        line.startswith("katas/neuron.py, dense_forward: a stub must only raise") and "returns a value" in line
        for line in lines(course)
    )


@pytest.mark.slow
def test_a_kata_without_a_mutant(course):
    path = course / "tests" / "selftest" / "mutants" / "neuron.py"
    path.write_text(
        re.sub(r'@mutant\("neuron\.dense_forward"', '@alternative("neuron.dense_forward"', path.read_text())
    )
    assert (
        "tests/selftest/mutants/neuron.py: kata neuron.dense_forward has no mutant: add "
        "@mutant('neuron.dense_forward', expect=...) with a real mistake" in lines(course)
    )


@pytest.mark.slow
def test_a_readme_count_that_is_off(course):
    (course / "README.md").write_text((course / "README.md").read_text() + "\nThe course has 99 katas in 3 tracks.\n")
    found = lines(course)
    assert any(line.startswith("README.md: says '99 katas'; the course has ") for line in found), found
    assert any(line.startswith("README.md: says '3 tracks'; the course has ") for line in found), found


@pytest.mark.slow
def test_a_given_part_that_differs_from_the_answer_key(course):
    edit(course / "katas" / "neuron.py", "return np.where(z > 0, 1.0, 0.0)", "return np.where(z >= 0, 1.0, 0.0)")
    assert (
        "katas/neuron.py, step: given code differs from solutions/neuron.py: copy the answer key's `step` into "
        "the kata file (they must stay identical)" in lines(course)
    )


@pytest.mark.slow
def test_a_signature_that_differs(course):
    edit(
        course / "solutions" / "neuron.py",
        "def neuron(inputs, weights, bias, activation=None):",
        "def neuron(inputs, weights, bias):",
    )
    assert any(
        "`neuron(inputs, weights, bias, activation=None)` but the answer key has" in line for line in lines(course)
    )


@pytest.mark.slow
def test_a_hand_written_kata_number(course):
    edit(course / "katas" / "neuron.py", "# TODO: kata neuron.weighted_sum", "# TODO: kata 1.1")
    assert any("'kata 1.1' is a kata number typed by hand" in line for line in lines(course))


@pytest.mark.slow
def test_a_track_file_missing_from_the_course_order(course):
    shutil.copy(course / "curriculum" / "neuron.toml", course / "curriculum" / "extra.toml")
    assert any("extra.toml" in line and "course.toml" in line for line in lines(course))


def test_a_given_base_class_lacking_a_member_the_answer_keys_katas_rely_on(course):
    """The answer key's SimpleRNN/LSTM/GRU once inherited `build` from an answer-key-only `_Recurrent.build`:
    what catch-up and `kata solution` wrote could not run beside the kata file's `_Recurrent`."""
    edit(
        course / "solutions" / "rnn.py",
        "        self.return_sequences = bool(return_sequences)\n",
        "        self.return_sequences = bool(return_sequences)\n\n    def build(self, input_shape, rng):\n"
        "        self.built = True\n",
    )
    assert lines(course) == [
        "katas/rnn.py, _Recurrent: the answer key's _Recurrent also has build, which its GRU, LSTM, SimpleRNN "
        "rely on: what catch-up and `kata solution` write would not run beside this _Recurrent; move those "
        "members into the kata classes in solutions/rnn.py, or give them to this class too"
    ]
