"""Which kata tests run, and in what order: the curriculum's, narrowed by ``--kata`` and ``--track``.

pytest collects test modules alphabetically; the course has its own order
(the manifest in ``curriculum/``). Each kata test carries
``@pytest.mark.kata("<id>")``; this module finds the kata of every item,
drops what the selection leaves out, and sorts the rest by the kata's place in
the course (tests without the marker, the project's self-tests, go last and
keep their order).
"""

from __future__ import annotations

import pytest

from ..course.curriculum import Curriculum, Kata

KATA_KEY = pytest.StashKey[Kata]()


def kata_of(item: pytest.Item | None) -> Kata | None:
    """The kata an item checks (found at collection), or None for a test without the marker."""
    return item.stash.get(KATA_KEY, None) if item is not None else None


def selected(config: pytest.Config, curriculum: Curriculum) -> set[str] | None:
    """Kata ids chosen with ``--kata`` / ``--track``, or None when the run is not narrowed."""
    only = config.getoption("katas_only")
    tracks = config.getoption("katas_tracks")
    if not only and not tracks:
        return None
    chosen: set[str] = set()
    try:
        for key in only:
            chosen.add(curriculum.get(key).id)
        for key in tracks:
            track = curriculum.track(int(key) if key.isdigit() else key)
            chosen.update(kata.id for kata in curriculum.in_track(track))
    except KeyError as error:
        raise pytest.UsageError(str(error.args[0])) from None
    return chosen


def mark_and_filter(items: list[pytest.Item], curriculum: Curriculum, wanted: set[str] | None):
    """Stash each item's kata; returns ``(keep, drop)``, keep as ``(position, index, item)`` to sort by."""
    keep, drop = [], []
    for index, item in enumerate(items):
        marker = item.get_closest_marker("kata")
        if marker is None:
            keep.append((len(curriculum.katas), index, item))
            continue
        try:
            kata = curriculum.by_id[marker.args[0]]
        except (KeyError, IndexError):
            raise pytest.UsageError(
                f"{item.nodeid}: kata marker {marker.args!r} names no kata in the curriculum"
            ) from None
        item.stash[KATA_KEY] = kata
        if wanted is not None and kata.id not in wanted:
            drop.append(item)
            continue
        if kata.requires == "gpu":
            _skip_without_gpu(item)
        keep.append((kata.position, index, item))
    return keep, drop


def _skip_without_gpu(item: pytest.Item) -> None:
    import kernels

    if not kernels.gpu_available():
        item.add_marker(pytest.mark.skip(reason=kernels.why_no_gpu()))


def group_by_kata(items: list[pytest.Item]) -> dict[str, list[pytest.Item]]:
    """Kata id -> its items, in run order."""
    groups: dict[str, list[pytest.Item]] = {}
    for item in items:
        kata = kata_of(item)
        if kata is not None:
            groups.setdefault(kata.id, []).append(item)
    return groups


def quiet_tracebacks(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A run of kata checks only shows the kata report, not pytest's tracebacks (``--tb=short`` brings them back).

    A run that mixes in the self-tests keeps pytest's usual reports.
    """
    if not items or not all(kata_of(item) is not None for item in items) or config.option.tbstyle != "auto":
        return
    config.option.tbstyle = "no"
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        terminal.reportchars = "w" if "w" in (config.option.reportchars or "") else ""
