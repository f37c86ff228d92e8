"""The pytest plugin: curriculum order, implementation selection, stop, report.

``conftest.py`` registers this module. What it adds to pytest:

* ``--impl PATH`` (or ``KATAS_IMPL``): the folder whose code the kata tests
  run against; ``katas/`` by default, ``solutions`` for the answer key.
* Kata tests (marked ``@pytest.mark.kata("<id>")``) run in curriculum order.
  Without ``--all`` the run stops after the first kata that does not pass,
  and the report shows that kata alone: progress, title, file and function,
  the failure message and a hint.
* ``--all`` runs every kata and prints a table by track.
* ``--kata ID`` / ``--track N`` select one kata or one track.
* Each kata's checks run together in a forked child process
  (:mod:`dojo.harness.isolation`) under one wall-clock limit for the whole
  kata (``--kata-timeout``, or the kata's own ``timeout`` in the manifest) and
  a memory cap (``--kata-memory``): an infinite loop, a crash or an
  ``os._exit`` in the learner's code becomes a report, and only the verdicts
  this process recorded decide the exit status.
* Runs on the learner's own ``katas/`` update ``.katas/progress.json``
  (:mod:`dojo.course.progress`): state, failing attempts (the shown hint rises every
  few failing runs of changed code, :mod:`dojo.course.attempts`), katas newly passed (with a pair prompt in workshop mode,
  and the artifacts their tests recorded).

Tests without the ``kata`` marker (the project's self-tests) run as usual.

This module is the host; each responsibility is a module of its own, as in
pytest's ``stepwise``: :mod:`.options` (the command line), :mod:`.selection`
(which checks run, in course order), :mod:`.isolation` (the kata's child),
:mod:`.results` (outcomes and states), :mod:`.reuse` (passed katas not rerun),
:mod:`.recording` (progress) and :mod:`.run_report` (the report).
"""

from __future__ import annotations

import contextlib
import os
import sys

import pytest

from ..course import history
from ..course.curriculum import Curriculum, CurriculumError, Kata, load
from ..course.implementation import Implementation, resolve
from ..course.progress import Progress
from ..states import DONE_STATES
from . import (
    finish,
    guards,
    hookspecs,
    isolation,
    options,
    outcomes,
    recording,
    recursion,
    report,
    returned,
    run_report,
    selection,
)
from .results import RunResults
from .reuse import PassReuse, reuse_allowed
from .selection import kata_of
from .timeout import exits_raise, time_limit


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kata(id): the test checks this kata of the curriculum")
    folder = config.rootpath / config.getini("katas_curriculum")
    if not folder.is_dir():
        if (config.rootpath / "katas").is_dir():  # a learner's checkout whose curriculum/ was deleted
            raise pytest.UsageError(
                f"the course's curriculum is missing ({folder}): restore it with `git checkout curriculum/`"
            )
        return
    try:
        curriculum = load(folder)
    except (CurriculumError, OSError, UnicodeDecodeError) as error:
        # Learner code (or a bad merge) can delete or damage a manifest: one line with the fix, no traceback.
        raise pytest.UsageError(
            f"the course's curriculum is damaged ({error}): restore it with `git checkout curriculum/`"
        ) from None
    plugin = KataPlugin(config, curriculum)
    config.pluginmanager.register(plugin, "neural-katas")


def _kata_plugin(request: pytest.FixtureRequest) -> KataPlugin:
    plugin = request.config.pluginmanager.get_plugin("neural-katas")
    if plugin is None:
        raise pytest.UsageError("the kata fixtures need the curriculum/ folder at the rootdir")
    return plugin


@pytest.fixture(scope="session")
def impl(request: pytest.FixtureRequest) -> Implementation:
    """The implementation under test (katas/, solutions/ or --impl PATH)."""
    return _kata_plugin(request).implementation


@pytest.fixture
def kata(request: pytest.FixtureRequest):
    """The learner's function or class that this test's kata is about."""
    plugin = _kata_plugin(request)
    found = kata_of(request.node)
    if found is None:
        raise pytest.UsageError(
            f"{request.node.nodeid} uses the `kata` fixture without a @pytest.mark.kata(...) marker"
        )
    return plugin.implementation.get(found.module, found.target)


class KataPlugin:
    """One run of the course: the hooks, and the state they share."""

    _in_child = False  # set in a kata's child process, where checks run the ordinary way

    def __init__(self, config: pytest.Config, curriculum: Curriculum):
        self.config = config
        self.curriculum = curriculum
        self.root = config.rootpath
        chosen = config.getoption("impl") or os.environ.get("KATAS_IMPL") or "katas"
        try:
            self.implementation = resolve(chosen, self.root)
        except FileNotFoundError as error:
            raise pytest.UsageError(
                f"{error}. Give --impl=PATH (with '=') or KATAS_IMPL=PATH; a relative PATH is taken from {self.root}"
            ) from None
        self.stop_mode = not config.getoption("katas_all")
        self.timeout = config.getoption("kata_timeout")
        # Each kata's checks run in a forked child; where fork does not exist,
        # in this process under the older SIGALRM limit.
        self._can_fork = isolation.available() and not os.environ.get("KATAS_IN_PROCESS")
        memory = config.getoption("kata_memory")
        self.runner = isolation.KataRunner(self, int(memory * 2**30) if memory else None)
        self.groups: dict[str, list[pytest.Item]] = {}
        self.ran_in_child: set[str] = set()
        self.interrupted_in: Kata | None = None
        self.stopped_at: Kata | None = None
        # Only runs on the learner's own folder count as their progress
        # (not --impl solutions, nor the mutation self-tests' copies).
        self.recording = self.implementation.folder == (self.root / "katas").resolve()
        self.progress = Progress.load(self.root) if self.recording else None
        # Before any learner code runs: a copy of each file of katas/ that changed (nothing is ever lost).
        self.damaged: list[history.Damage] = []
        if self.recording and not hasattr(config, "workerinput"):
            self.damaged = history.snapshot(self.root)
        self.results = RunResults(curriculum)
        self.reuse = PassReuse(self.root, self.implementation.folder, self.recording)
        self.newly_passed: list[Kata] = []
        self._recorded = False
        self.only_katas = False  # every selected test is a kata check (the learner's view)
        self.deselected_checks = 0  # kata checks that -k / -m left out, before this plugin chose

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        # Items this plugin leaves out carry their kata already; those of -k / -m do not yet.
        self.deselected_checks += sum(1 for item in items if item.get_closest_marker("kata") and kata_of(item) is None)

    # ------------------------------------------------------------ collection

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        keep, drop = selection.mark_and_filter(items, self.curriculum, selection.selected(config, self.curriculum))
        if reuse_allowed(config, self.recording, self.stop_mode):
            by_kata = selection.group_by_kata([item for _, _, item in keep])
            drop += self.reuse.unchanged(self.curriculum, self.progress, by_kata)
        keep = [entry for entry in keep if entry[2] not in drop]
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = [item for _, _, item in sorted(keep, key=lambda t: (t[0], t[1]))]
        self.groups = selection.group_by_kata(items)
        self.only_katas = bool(items) and all(kata_of(item) is not None for item in items)
        self.results.collected = dict(self.groups)
        selection.quiet_tracebacks(config, items)

    # --------------------------------------------------------------- running

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):
        kata = kata_of(item)
        if kata is None:
            return None
        if self.stopped_at is not None:
            return True  # the run stopped at an unfinished kata: leave the rest unrun and unreported
        if not self.isolated or self._in_child:
            return None
        if item.nodeid in self.ran_in_child:
            return True  # this check already ran in its kata's child
        group = self.groups.get(kata.id, [item])
        if hasattr(self.config, "workerinput"):
            # Under pytest-xdist a worker runs only the checks it is sent, one at a time:
            # each gets a child of its own.
            group = [item]
        to_run = group[group.index(item) :] if item in group else [item]
        self.ran_in_child.update(i.nodeid for i in to_run)
        try:
            self.runner.run(kata, to_run, self._limit(item))
        except KeyboardInterrupt:
            self.interrupted_in = kata
            raise
        self._maybe_stop(kata, self._next_kata_after(group[-1] if group else item))
        return True

    @property
    def isolated(self) -> bool:
        """Run the next kata's checks in a forked child?

        Not once TensorFlow is loaded in this process (a cold reference cache made this process
        compute expected values, or a self-test used TensorFlow directly): a fork of a process
        whose TensorFlow threads run can crash in the child, which would blame correct code. Those
        checks then run here, under the older SIGALRM limit. A warm cache (`kata warm`) keeps
        TensorFlow out of the learner's runs, so every kata forks.
        """
        return self._can_fork and "tensorflow" not in sys.modules

    def _next_kata_after(self, item: pytest.Item) -> Kata | None:
        items = item.session.items
        try:
            position = items.index(item)
        except ValueError:
            return None
        return kata_of(items[position + 1]) if position + 1 < len(items) else None

    def receive_outcomes(self, kata: Kata, received: list[dict], artifacts: list[str]) -> None:
        """Outcomes of one check, as the kata's child process computed them."""
        self.results.receive(kata, received, artifacts)

    def add_outcome(self, kata: Kata, outcome: outcomes.Outcome) -> None:
        self.results.add(kata, outcome)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item):
        with time_limit(self._fallback_limit(item)), self._restoring_globals():
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        limit = self._fallback_limit(item)
        # No child to end (the in-process fallback): an os._exit in learner code must not end pytest.
        refusing = exits_raise() if limit else contextlib.nullcontext()
        with time_limit(limit), refusing, self._restoring_globals(), recursion.short_tracebacks():
            return (yield)

    @contextlib.contextmanager
    def _restoring_globals(self):
        """In a kata's child: whatever the learner's code changed globally is put back right after it ran."""
        if not self._in_child:
            yield
            return
        state = guards.GlobalState()
        try:
            yield
        finally:
            state.restore()

    def _fallback_limit(self, item: pytest.Item) -> float:
        """The in-process SIGALRM limit, only where kata checks cannot run in a child."""
        return 0 if self.isolated else self._limit(item)

    def _limit(self, item: pytest.Item) -> float:
        kata = kata_of(item)
        if kata is None:
            return 0
        if self.timeout is not None:
            return self.timeout
        return kata.timeout or options.DEFAULT_TIMEOUT

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        rep = yield
        kata = kata_of(item)
        if kata is None:
            return rep
        if rep.failed:
            outcome = outcomes.classify(call.excinfo.value, self.implementation.folder, self.root)
            if call.when == "call" and outcome.message.startswith(outcomes.COULD_NOT_USE):
                # Name the learner's function and the value, not the test file's line.
                better = returned.explain(item.runtest, call.excinfo.value, self.implementation.folder, self.root)
                outcome.message = better or outcome.message
            outcome.check = item.name
            self.results.add(kata, outcome)
            rep.longrepr = f"[kata {kata.number} {outcome.state}] {outcome.message}"
        elif rep.when == "call" or rep.skipped:
            state = outcomes.SKIPPED if rep.skipped else outcomes.PASSED
            self.results.add(kata, outcomes.Outcome(state, check=item.name))
            if state == outcomes.PASSED:
                # A test may record files it made, e.g. a training-curve PNG:
                # request.node.user_properties.append(("artifact", path))
                self.results.add_artifacts(kata, [value for key, value in item.user_properties if key == "artifact"])
        return rep

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None):
        yield
        kata = kata_of(item)
        if kata is None or (self.isolated and not self._in_child):
            return
        self._maybe_stop(kata, kata_of(nextitem))

    def _maybe_stop(self, kata: Kata, next_kata: Kata | None) -> None:
        """Stop mode: once a kata's last check ran and the kata is not done, nothing after it runs."""
        if not self.stop_mode or self._in_child:
            return
        if next_kata is not kata and self.results.state(kata.id) not in DONE_STATES:
            self.stopped_at = kata

    def summary(self, kata_id: str) -> report.KataSummary:
        return self.results.summary(kata_id)

    # ------------------------------------------------------- progress, report

    def _record(self) -> None:
        """Update .katas/progress.json with this run (once, learner's folder only)."""
        if self._recorded or not self.recording or not self.results.collected or self.interrupted_in is not None:
            return  # an interrupted run leaves the stored progress as it was
        self._recorded = True
        try:
            self.newly_passed = recording.record(self)
        except OSError as error:  # a read-only checkout still gets its report
            terminal = self.config.pluginmanager.get_plugin("terminalreporter")
            if terminal is not None:
                terminal.write_line(f"(progress not saved: {error})", yellow=True)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._record()
        if not self._in_child:
            self.reuse.save()
            session.exitstatus = finish.exit_status(
                session.exitstatus, ran_any=bool(self.results.outcomes), not_rerun=self.reuse.not_rerun
            )

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config) -> None:
        if not self.results.collected and not self.reuse.not_rerun:
            if self.deselected_checks:
                keyword, marks = config.getoption("keyword"), config.getoption("markexpr")
                terminalreporter.write_line(
                    finish.no_kata_selected_text(self.deselected_checks, keyword, marks), yellow=True
                )
            return
        writer = report.Writer(terminalreporter, impl_name=run_report.implementation_label(self))
        if self.interrupted_in is not None:
            writer.interrupted(self.interrupted_in)
            return
        self._record()
        run_report.write(writer, self, self.root, self.newly_passed)
        run_report.announce_end(self, terminalreporter.write_line)
