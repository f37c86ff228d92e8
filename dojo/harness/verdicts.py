"""Run some katas' tests against an implementation folder in a nested pytest session, and read the verdicts.

Two parts of the project ask "what would the harness say about this folder?":
the mutation self-tests (a broken copy of the answer key must fail with the
right words) and the benchmark gate (a learner's code is timed only once its
kata passes). Both go through :func:`run_katas`, which runs the real harness
(``--all`` over the chosen katas, each in its own child process) and returns
the verdicts the plugin recorded.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..course.implementation import Implementation

#: Plugins a nested session does without. It only needs the harness and pytest's core; each of these
#: costs time in every one of the hundreds of nested sessions the mutation self-tests start (loading
#: entry points, fixtures to parse, and the unraisable-exception plugin's repeated ``gc.collect()`` at
#: exit), and none takes part in a kata's verdict: no kata test uses the ``benchmark`` fixture.
#: ``--disable-plugin-autoload`` skips pytest's scan of every installed package's entry points for
#: plugins (no kata test uses a third-party plugin): about a fifth of a nested session's own time.
NESTED_PLUGINS_OFF = (
    "--disable-plugin-autoload",
    *(
        option
        for name in (
            "cacheprovider",
            "benchmark",
            "xdist",
            "xdist.looponfail",
            "unraisableexception",
            "threadexception",
        )
        for option in ("-p", f"no:{name}")
    ),
)


@dataclass
class Verdict:
    state: str
    message: str
    passed: int
    total: int


class _Recorder:
    """Reads the harness's verdict on each kata at the end of the nested session."""

    def __init__(self, kata_ids: list[str]):
        self.kata_ids = kata_ids
        self.verdicts: dict[str, Verdict] = {}
        self.isolated = False  # every kata ran in a forked child (see _forget_session_modules)

    def pytest_sessionfinish(self, session):
        plugin = session.config.pluginmanager.get_plugin("neural-katas")
        if plugin is None:
            return
        # Still true at the end only if it was all along: TensorFlow, once loaded, stays loaded.
        self.isolated = plugin.isolated
        for kata_id in self.kata_ids:
            summary = plugin.summary(kata_id)
            self.verdicts[kata_id] = Verdict(summary.state, summary.message, summary.passed, summary.total)


#: Kata test modules kept loaded between nested sessions: file -> (module name, size and time of the
#: file when kept). A file changed since (a course update under a long-lived notebook kernel) is read again.
_KEPT_TEST_MODULES: dict[str, tuple[str, tuple[int, int]]] = {}


def _drop_kept_test_modules_outside(folder: str) -> None:
    """Another checkout's kept test modules go before this session: they share its modules' names
    (``test_conv``), and pytest refuses a loaded module whose file is not the one it collects."""
    for path, (name, _) in list(_KEPT_TEST_MODULES.items()):
        if path.startswith(folder + os.sep):
            continue
        del _KEPT_TEST_MODULES[path]
        if getattr(sys.modules.get(name), "__file__", None) == path:
            del sys.modules[name]


def _file_stamp(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _forget_session_modules(root: Path, implementation: Path, keep_tests: bool) -> None:
    """Drop the implementation's modules from ``sys.modules``, and the kata test modules unless kept.

    The implementation's modules are of no use after its session, and the mutation self-tests run
    hundreds of sessions in one process: every one left behind made each later kata child inherit
    more (and hypothesis parse more, see dojo.testkit.stability).

    The kata test modules are kept (``keep_tests``) when every kata of the session ran in a forked
    child: whatever a check or a variant did to a module-level array then happened in the child's
    copy, and the next session finds the module as it was imported. Importing a big test module
    again (assertion rewriting, module-level hypothesis strategies, parametrised tests) was the
    largest part of a nested session's own time. Where a kata ran in this process (TensorFlow
    loaded, no fork), a change could leak, so the modules are imported afresh.
    """
    folder = str(root / "tests" / "katas")
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if not path.startswith(folder):
            continue
        stamp = _file_stamp(path)
        if keep_tests and stamp is not None and _KEPT_TEST_MODULES.setdefault(path, (name, stamp)) == (name, stamp):
            continue
        _KEPT_TEST_MODULES.pop(path, None)
        del sys.modules[name]
    Implementation(implementation).forget_modules()


def run_katas(
    root: Path, implementation: Path, kata_ids: list[str], *extra: str, observers: tuple = ()
) -> dict[str, Verdict]:
    """The verdict on each of ``kata_ids`` for the folder ``implementation``.

    ``observers`` are more pytest plugins for the session: the notebook's reads the
    harness's whole summary (check, printed output, named mistake) and the progress it recorded.
    """
    recorder = _Recorder(list(kata_ids))
    # Only the test modules of these katas' tracks: collecting every kata test module costs more than
    # a kata's checks (a kata's tests live in tests/katas/test_<module>.py).
    modules = sorted({kata_id.split(".")[0] for kata_id in kata_ids})
    files = [root / "tests" / "katas" / f"test_{module}.py" for module in modules]
    paths = [str(f) for f in files] if all(f.exists() for f in files) else [str(root / "tests" / "katas")]
    args = [
        *paths,
        f"--rootdir={root}",
        "-c",
        str(root / "pyproject.toml"),
        f"--impl={implementation}",
        "--all",
        "-qq",
        *NESTED_PLUGINS_OFF,
        *extra,
    ]
    for kata_id in kata_ids:
        args += ["--kata", kata_id]
    import_path = list(sys.path)
    _drop_kept_test_modules_outside(str(root / "tests" / "katas"))
    try:
        code = pytest.main(args, plugins=[recorder, *observers])
    finally:
        # pytest puts the test and conftest folders at the front of sys.path and leaves them there: two
        # more entries per session made every later import, and pytest's scan of installed plugins,
        # slower in a process that runs hundreds of sessions (a third slower after 300 of them).
        sys.path[:] = import_path
        _forget_session_modules(root, implementation, keep_tests=recorder.isolated)
    missing = [k for k in kata_ids if k not in recorder.verdicts]
    if missing:
        raise RuntimeError(f"nested pytest for {missing} ended with {code!r} and no verdict")
    return recorder.verdicts
