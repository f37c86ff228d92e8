"""The learner's files are never lost: copies before every run, `kata history`, `kata restore`."""

import os
import subprocess
import sys

import pytest
from toy_course import write_course

from dojo.course import history
from dojo.tools import cli
from dojo.tools import history as history_verbs

GOOD = "def double(x):\n    return 2 * x\n"


@pytest.fixture
def root(tmp_path):
    (tmp_path / "katas").mkdir()
    (tmp_path / "curriculum").mkdir()
    return tmp_path


def save(root, text, name="toy.py"):
    path = root / "katas" / name
    path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a save within the same tick still counts
    return path


def test_a_copy_is_kept_of_each_changed_file_only(root):
    save(root, GOOD)
    save(root, "X = 1\n", "other.py")
    assert history.snapshot(root) == []
    assert sorted(c.file for c in history.copies(root)) == ["other.py", "toy.py"]
    assert history.snapshot(root) == []  # nothing changed: no new copy
    assert len(history.copies(root)) == 2
    save(root, GOOD + "\n# more\n")
    history.snapshot(root)
    assert [c.path.read_text() for c in history.copies(root, "toy.py")] == [GOOD + "\n# more\n", GOOD]


@pytest.mark.parametrize(
    "broken, line",
    [
        (
            "",
            "katas/toy.py is empty now, but its copy of {shown} was not:\n    `kata restore katas/toy.py {when}` brings it back",
        ),
        (
            "def double(x:\n",
            "katas/toy.py does not compile now, but its copy of {shown} did:\n"
            "    `kata restore katas/toy.py {when}` brings it back",
        ),
    ],
    ids=["empty", "does not compile"],
)
@pytest.mark.slow
def test_a_file_that_went_bad_is_named_with_the_restore_command(root, broken, line):
    save(root, GOOD)
    history.snapshot(root)
    (good,) = history.copies(root, "toy.py")
    save(root, broken)
    (damage,) = history.snapshot(root)
    assert damage.line() == line.format(shown=good.shown, when=good.when)
    assert history.snapshot(root) == []  # said once, on the run that first saw it


@pytest.mark.slow
def test_a_file_that_was_already_bad_is_not_named(root):
    save(root, "def double(x:\n")
    history.snapshot(root)
    save(root, "")
    assert history.snapshot(root) == []


def test_the_history_is_bounded_and_keeps_each_files_newest_copy(root, monkeypatch):
    monkeypatch.setattr(history, "KEEP_PER_FILE", 3)
    for number in range(6):
        save(root, GOOD + f"# {number}\n")
        history.snapshot(root)
    assert [c.path.read_text()[-4:] for c in history.copies(root, "toy.py")] == ["# 5\n", "# 4\n", "# 3\n"]
    monkeypatch.setattr(history, "MAX_TOTAL_BYTES", 1)
    save(root, "Y = 2\n", "other.py")
    history.snapshot(root)
    assert {c.file: c.path.read_text() for c in history.copies(root)} == {
        "toy.py": GOOD + "# 5\n",
        "other.py": "Y = 2\n",
    }


@pytest.mark.slow
def test_restore_brings_back_the_newest_sound_copy_and_keeps_the_file_as_it_was(root):
    save(root, GOOD)
    history.snapshot(root)
    save(root, "")
    history.snapshot(root)
    copy, target = history_verbs.restore(root, "katas/toy.py")
    assert target.read_text() == GOOD and copy.path.read_text() == GOOD
    save(root, "def double(x):\n    return x + x\n")
    history_verbs.restore(root, "toy", copy.when)
    assert (root / "katas" / "toy.py").read_text() == GOOD
    assert "def double(x):\n    return x + x\n" in [c.path.read_text() for c in history.copies(root, "toy.py")]


@pytest.mark.parametrize(
    "file, when, words",
    [
        ("../../etc/passwd", None, "../../etc/passwd is not a file in katas/: give one such as katas/neuron.py"),
        ("nothing.py", None, "no copies of katas/nothing.py are kept (`kata history` lists the files that have some)"),
        ("toy.py", "2099", "no copy of katas/toy.py from '2099': `kata history toy.py` lists them"),
    ],
)
@pytest.mark.slow
def test_a_restore_that_cannot_be_done_says_what_to_do(root, file, when, words):
    save(root, GOOD)
    history.snapshot(root)
    with pytest.raises(history_verbs.HistoryError) as error:
        history_verbs.restore(root, file, when)
    assert str(error.value) == words


@pytest.mark.slow
def test_kata_history_and_restore_are_verbs(root, monkeypatch, capsys):
    monkeypatch.chdir(root)
    monkeypatch.setattr(cli, "Context", _BareContext)
    save(root, GOOD)
    history.snapshot(root)
    save(root, "")
    assert cli.main(["history"]) == 0
    out = capsys.readouterr().out
    assert "katas/toy.py" in out and "`kata restore katas/FILE WHEN` brings one back" in out
    assert cli.main(["restore", "katas/toy.py"]) == 0
    assert (root / "katas" / "toy.py").read_text() == GOOD
    assert "katas/toy.py is its copy of" in capsys.readouterr().out


class _BareContext:
    """The CLI's context without a curriculum (these verbs need none)."""

    def __init__(self, console):
        from pathlib import Path

        self.console, self.root = console, Path.cwd()

    def changed(self, what):
        self.console.print(f"  changed: {what}")


@pytest.mark.slow
def test_without_the_sandbox_an_erased_kata_file_is_named_on_the_next_card(pytester):
    write_course(pytester.path, ("double", "square"), ("double", "square"))
    (pytester.path / "katas").mkdir()
    (pytester.path / "katas" / "toy.py").write_text(
        "def double(x):\n    open(__file__, 'w').write('')\n    return 2 * x\n\ndef square(x):\n    return x * x\n"
    )

    def run():
        return subprocess.run(
            [sys.executable, "-m", "pytest", "tests", "--color=no"],
            cwd=pytester.path,
            capture_output=True,
            text=True,
            timeout=240,
            env={**os.environ, "KATAS_NO_SANDBOX": "1", "COLUMNS": "300"},
        )

    run()  # the code erases its own file (nothing stops it without Landlock) ...
    assert (pytester.path / "katas" / "toy.py").read_text() == ""
    result = run()  # ... and the next run says so, with the command that brings it back
    (copy,) = [c for c in history.copies(pytester.path, "toy.py") if c.size]
    assert (
        f"  katas/toy.py is empty now, but its copy of {copy.shown} was not:\n"
        f"    `kata restore katas/toy.py {copy.when}` brings it back\n"
    ) in result.stdout, result.stdout
