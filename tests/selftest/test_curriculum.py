"""The course manifest is read once per process and read again as soon as a file of it changes."""

import os

import pytest
from toy_course import curriculum

from dojo.course.curriculum import CurriculumError, load


def _course(folder, *katas):
    folder.mkdir(exist_ok=True)
    (folder / "toy.toml").write_text(curriculum(*katas))
    return folder


def _touch_later(path, seconds=5):
    """Move the file's modification time on, as an edit a few seconds later would."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 10**9))


def test_a_course_is_read_once_until_a_file_changes(tmp_path):
    folder = _course(tmp_path / "curriculum", "double", "square")
    first = load(folder)
    assert load(folder) is first  # the hundreds of nested sessions of the mutation self-tests read it once
    (folder / "toy.toml").write_text(curriculum("double", "square").replace("Square it", "Square x"))
    _touch_later(folder / "toy.toml")
    changed = load(folder)
    assert changed is not first
    assert [kata.title for kata in changed.katas] == ["Double it", "Square x"]


def test_a_track_file_added_later_is_seen(tmp_path):
    folder = _course(tmp_path / "curriculum", "double")
    (folder / "course.toml").write_text('tracks = ["toy"]\n')
    assert [kata.id for kata in load(folder).katas] == ["toy.double"]
    (folder / "extra.toml").write_text(curriculum("cube").replace('module = "toy"', 'module = "extra"'))
    with pytest.raises(CurriculumError, match="extra.toml"):
        load(folder)
