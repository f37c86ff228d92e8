"""`kata doctor`: one line per finding with its fix, repairs that are safe, exit 1 while something is broken."""

import json

import numpy as np
import pytest
from toy_course import SOLVED, write_course

from dojo.refcache import store
from dojo.tools import cli, doctor


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    write_course(tmp_path, ("double", "square"), ("double", "square"))
    (tmp_path / "katas").mkdir()
    (tmp_path / "katas" / "toy.py").write_text(SOLVED["double"] + "\n\n" + SOLVED["square"])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KATAS_REFERENCE_CACHE", str(tmp_path / ".katas" / "reference-cache"))
    return tmp_path


def run(capsys) -> tuple[int, list[str]]:
    code = cli.main(["doctor"])
    return code, [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]


def test_a_healthy_checkout_has_nothing_to_fix(checkout, capsys):
    code, lines = run(capsys)
    assert code == 0, lines
    assert lines[-1] == "nothing to fix"
    assert "ok curriculum: 2 katas in 1 track" in lines
    assert "ok katas/: 1 file, UTF-8, each kata defined once" in lines
    assert any(line.startswith("ok Python 3.") for line in lines)
    assert not any(line.startswith("broken") for line in lines)


@pytest.mark.parametrize(
    "damage, line",
    [
        (
            lambda root: (root / "katas" / "toy.py").write_text(SOLVED["double"] + SOLVED["square"] + SOLVED["double"]),
            "broken katas/toy.py defines `double` 2 times (lines 1, 5): Python keeps only the last; delete the others",
        ),
        (
            lambda root: (root / "katas" / "toy.py").write_text(SOLVED["square"]),
            "broken katas/toy.py has no `double` (kata 1.1): `kata reset 1.1` brings back its stub",
        ),
        (
            lambda root: (root / "katas" / "toy.py").write_bytes(b"# caf\xe9\n" + SOLVED["double"].encode()),
            "broken katas/toy.py is not UTF-8 text (byte 0xe9 on line 1): save it as UTF-8 in your editor "
            "(Python reads source files as UTF-8), then try again",
        ),
        (
            lambda root: (root / "katas" / "toy.py").write_text("def double(x:\n" + SOLVED["square"]),
            "broken katas/toy.py does not compile (line 1: '(' was never closed): fix that line",
        ),
        (
            lambda root: (root / "curriculum" / "toy.toml").unlink(),
            "broken the curriculum does not load (no curriculum files (*.toml) in {root}/curriculum): "
            "`git checkout curriculum/`",
        ),
        (
            lambda root: (root / ".katas" / "room.json").write_text("{not json"),
            "broken room: .katas/room.json is damaged: `kata room leave`, then join again",
        ),
    ],
    ids=["defined twice", "not defined", "not UTF-8", "does not compile", "curriculum missing", "room damaged"],
)
def test_each_broken_thing_is_one_line_with_its_fix_and_the_exit_status_says_so(checkout, capsys, damage, line):
    (checkout / ".katas").mkdir(exist_ok=True)
    damage(checkout)
    code, lines = run(capsys)
    assert code == 1
    assert line.format(root=checkout) in lines, lines
    assert lines[-1] == "1 problem to fix"


def _cache_with_entries(checkout, count=2):
    cache = store.Store(store.cache_folder())
    for number in range(count):
        array = np.arange(float(number + 3))
        arrays = {store.array_digest(array): array}
        key = {"function": "toy", "n": number}
        cache.write(key, ["A", next(iter(arrays)), array.dtype.str, list(array.shape)], arrays)
    return cache


def test_damaged_cache_progress_and_digests_are_repaired(checkout, capsys):
    cache = _cache_with_entries(checkout)
    (array, *_) = sorted(cache.arrays.glob("*/*.npy"))
    array.write_bytes(b"")  # a full disk while copying: np.load raises EOFError
    (checkout / ".katas" / "progress.json").write_text("{broken")
    (checkout / ".katas" / "digests.json").write_text("[")
    code, lines = run(capsys)
    assert code == 0, lines
    assert f"fixed reference cache: removed 2 damaged files of {cache.folder} (recomputed when needed)" in lines
    assert any(line.startswith("fixed .katas/progress.json was damaged") for line in lines), lines
    assert "fixed digests: .katas/digests.json was damaged and is removed (the next run computes them)" in lines
    assert not array.exists() and len(list(cache.entries.glob("*/*.json"))) == 1
    code, lines = run(capsys)  # repaired: the second look finds it whole
    assert "ok reference cache: 1 entry, each read back whole" in lines


def test_the_cache_entries_are_readable_after_a_healthy_look(checkout, capsys):
    _cache_with_entries(checkout)
    code, lines = run(capsys)
    assert code == 0 and "ok reference cache: 2 entries, each read back whole" in lines


def test_a_room_joined_is_named(checkout, capsys):
    (checkout / ".katas").mkdir(exist_ok=True)
    (checkout / ".katas" / "room.json").write_text(
        json.dumps({"joined": True, "url": "http://10.0.0.2:8000", "code": "x", "name": "Ana & Ben"})
    )
    _, lines = run(capsys)
    assert "ok room: joined http://10.0.0.2:8000 as Ana & Ben" in lines


def test_without_landlock_the_sandbox_is_a_note_not_a_problem(checkout, capsys, monkeypatch):
    monkeypatch.setattr(doctor.sandbox, "abi", lambda: 0)
    code, lines = run(capsys)
    assert code == 0
    assert any(line.startswith("note no sandbox here (it needs Linux 5.13+ with Landlock)") for line in lines), lines


def test_counts_read_right_at_one(checkout, capsys):
    """ "1 kata recorded", never "1 katas recorded" (dojo/words.py's plural, used wherever a count is said)."""
    from dojo.course.progress import Progress

    progress = Progress.load(checkout)
    progress.katas["toy.double"] = {"state": "passed", "streak": 0}
    progress.save()
    code, lines = run(capsys)
    assert code == 0, lines
    assert "ok progress: 1 kata recorded" in lines, lines


def test_plural():
    from dojo.words import plural

    assert [plural(n, "kata") for n in (0, 1, 2)] == ["0 katas", "1 kata", "2 katas"]
    assert plural(1, "entry", "entries") == "1 entry" and plural(3, "entry", "entries") == "3 entries"
