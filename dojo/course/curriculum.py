"""The curriculum manifest: which katas exist, in which order, with which hints.

The manifest is the folder ``curriculum/`` at the top of the repository:
``course.toml`` lists the tracks in order, and each track is one TOML file
named after its module (``neuron.toml``, ``activations.toml``, ...). Inside a
file, katas are listed in the order a learner meets them. That order *is* the
course: the pytest plugin runs tests in it, stops at the first kata that does
not pass, and counts progress from it. (A folder without ``course.toml``, such
as a self-test's tiny course, is read in file-name order.)

A kata is identified by a stable id, ``"<module>.<name>"`` (for example
``"neuron.weighted_sum"``). Ids never change when katas are added or moved,
so stored progress survives upgrades of the suite. The number a learner sees
(``1.1``, ``8.4``) is derived from the position and may change: it is never
written anywhere by hand, neither in the manifest nor in stubs, tests or docs.

A track file looks like this::

    [track]
    name = "Neurons"
    module = "neuron"
    summary = "One neuron, then a layer of them."

    [[kata]]
    name = "weighted_sum"           # the function or class to write
    title = "The weighted sum"
    goal = "Return sum(inputs[i] * weights[i])."
    hints = ["a question", "a nudge", "the concrete answer"]
    # optional:
    # kind = "capstone"             # shown as a capstone in reports
    # requires = "gpu"              # skipped (never blocking) without a CUDA device
    # timeout = 300                 # seconds for the whole kata, for capstones that train
    # imports = ["cupy"]            # libraries the kata may import that are otherwise refused
    # module = "model"              # when a kata lives outside the track's module
    # target = "Sequential"         # what to edit, when it is not `name`
    #                               # (several katas can grow one class)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path


class CurriculumError(Exception):
    """The manifest itself is malformed (a bug in the course, not the learner's)."""


@dataclass(frozen=True)
class Track:
    number: int
    name: str
    module: str
    summary: str = ""


@dataclass(frozen=True)
class Kata:
    """One exercise: a function or class the learner writes, and its tests."""

    id: str
    number: str
    track: Track
    module: str
    name: str
    target: str
    title: str
    goal: str
    hints: tuple[str, ...]
    kind: str = "kata"
    requires: str | None = None
    timeout: float | None = None
    imports: tuple[str, ...] = ()
    position: int = 0

    @property
    def path(self) -> str:
        """Where the learner edits, relative to the implementation folder."""
        return f"{self.module}.py"

    @property
    def label(self) -> str:
        return f"{self.number} {self.title}"


@dataclass
class Curriculum:
    tracks: list[Track]
    katas: list[Kata]

    @cached_property
    def by_id(self) -> dict[str, Kata]:
        return {kata.id: kata for kata in self.katas}

    def get(self, key: str) -> Kata:
        """Find a kata by id (``neuron.weighted_sum``), number (``1.1``) or name."""
        if key in self.by_id:
            return self.by_id[key]
        for kata in self.katas:
            if key in (kata.number, kata.name):
                return kata
        raise KeyError(f"no kata {key!r}: try an id like 'neuron.weighted_sum' or a number like '1.1'")

    def in_track(self, track: Track | int) -> list[Kata]:
        number = track if isinstance(track, int) else track.number
        return [kata for kata in self.katas if kata.track.number == number]

    def track(self, key: int | str) -> Track:
        for track in self.tracks:
            if key in (track.number, str(track.number), track.name.lower(), track.module):
                return track
        raise KeyError(f"no track {key!r}: use its number (1-{len(self.tracks)}) or module name")


COURSE_FILE = "course.toml"


def track_files(folder: Path) -> list[Path]:
    """The track files of ``folder`` in course order."""
    folder = Path(folder)
    course = folder / COURSE_FILE
    if not course.exists():
        files = sorted(f for f in folder.glob("*.toml") if f.name != COURSE_FILE)
        if not files:
            raise CurriculumError(f"no curriculum files (*.toml) in {folder}")
        return files
    try:
        names = tomllib.loads(course.read_text(encoding="utf-8")).get("tracks", [])
    except tomllib.TOMLDecodeError as error:
        raise CurriculumError(f"{course}: {error}") from error
    files = [folder / f"{name}.toml" for name in names]
    missing = [f.name for f in files if not f.exists()]
    if missing:
        raise CurriculumError(f"{course} lists {missing}, which are not in {folder}: add the file or remove the name")
    unlisted = sorted(f.name for f in folder.glob("*.toml") if f.name != COURSE_FILE and f not in files)
    if unlisted:
        raise CurriculumError(f"{unlisted} in {folder} are not in {course}'s `tracks`: add them where they belong")
    return files


#: Courses already read in this process, by folder: (what its files were when read, the Curriculum).
_LOADED: dict[Path, tuple[tuple, Curriculum]] = {}


def _files_as_they_are(folder: Path) -> tuple:
    """Name, size and modification time of each manifest file: any edit, addition or removal changes it."""
    found = []
    for file in sorted(folder.glob("*.toml")):
        try:
            stat = file.stat()
        except OSError:
            continue
        found.append((file.name, stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def load(folder: Path) -> Curriculum:
    """Read the course in ``folder`` into a Curriculum, numbering tracks and katas by position.

    A process that starts many pytest sessions (the mutation self-tests start hundreds) reads the
    files once: the Curriculum is kept until a file of the folder changes.
    """
    folder = Path(folder).resolve()
    files = _files_as_they_are(folder)
    kept = _LOADED.get(folder)
    if kept is not None and kept[0] == files:
        return kept[1]
    curriculum = _read(folder)
    _LOADED[folder] = (files, curriculum)
    return curriculum


def _read(folder: Path) -> Curriculum:
    tracks: list[Track] = []
    katas: list[Kata] = []
    for file in track_files(folder):
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise CurriculumError(f"{file}: {error}") from error
        header = dict(data["track"])
        if "number" in header:
            raise CurriculumError(
                f"{file}: remove `number = {header['number']}`: track numbers come from the order in {COURSE_FILE}"
            )
        track = Track(number=len(tracks) + 1, **header)
        tracks.append(track)
        for index, entry in enumerate(data.get("kata", []), start=1):
            module = entry.get("module", track.module)
            kata = Kata(
                id=f"{module}.{entry['name']}",
                number=f"{track.number}.{index}",
                track=track,
                module=module,
                name=entry["name"],
                target=entry.get("target", entry["name"]),
                title=entry["title"],
                goal=entry.get("goal", ""),
                hints=tuple(entry.get("hints", ())),
                kind=entry.get("kind", "kata"),
                requires=entry.get("requires"),
                timeout=entry.get("timeout"),
                imports=tuple(entry.get("imports", ())),
                position=len(katas),
            )
            if len(kata.hints) < 3:
                raise CurriculumError(f"{file}: kata {kata.id} needs at least three hints")
            katas.append(kata)
    ids = [kata.id for kata in katas]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise CurriculumError(f"duplicate kata ids: {sorted(duplicates)}")
    return Curriculum(tracks=tracks, katas=katas)
