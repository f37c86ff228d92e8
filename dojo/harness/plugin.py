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
  (:mod:`dojo.course.progress`): state, failing streak (the shown hint rises every
  few failing runs), katas newly passed (with a pair prompt in workshop mode,
  and the artifacts their tests recorded).

Tests without the ``kata`` marker (the project's self-tests) run as usual.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from ..course import definitions, history, pristine
from ..course.curriculum import Curriculum, CurriculumError, Kata, load
from ..course.dependencies import Dependencies, tests_dependencies
from ..course.digest_memo import DIGESTS_FILE, DigestMemo, kata_key
from ..course.implementation import Implementation, resolve
from ..course.progress import Progress, now, workshop_settings
from ..paths import STATE_DIR
from ..states import DONE_STATES, KataState
from . import guards, isolation, outcomes, report
from .timeout import exits_raise, time_limit

KATA_KEY = pytest.StashKey[Kata]()
DEFAULT_TIMEOUT = 30.0
DEFAULT_MEMORY_GIB = 8.0


def _positive_seconds(text: str) -> float:
    """``--kata-timeout``: a finite number of seconds above zero (a limit cannot be switched off)."""
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"the time limit must be a finite number of seconds above 0, got {text!r}")
    return value


def _positive_gib(text: str) -> float:
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of GiB, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"the memory cap must be a number of GiB above 0, got {text!r}")
    return value


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("katas", "Neural Katas")
    group.addoption(
        "--impl", default=None, metavar="PATH", help="implementation folder to test (default: $KATAS_IMPL or katas/)"
    )
    group.addoption(
        "--all",
        action="store_true",
        dest="katas_all",
        help="run every kata without stopping and print a table by track",
    )
    group.addoption(
        "--kata",
        action="append",
        default=[],
        dest="katas_only",
        metavar="ID",
        help="run only this kata (id like neuron.weighted_sum, or number like 1.1)",
    )
    group.addoption(
        "--track",
        action="append",
        default=[],
        dest="katas_tracks",
        metavar="N",
        help="run only this track (number or module name)",
    )
    group.addoption(
        "--kata-timeout",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help=f"wall-clock limit for each kata, all its checks together (default {DEFAULT_TIMEOUT:g} s, "
        f"or the kata's own limit from the curriculum)",
    )
    group.addoption(
        "--recheck",
        action="store_true",
        dest="katas_recheck",
        help="rerun katas that passed before even when their code did not change",
    )
    group.addoption(
        "--kata-memory",
        type=_positive_gib,
        default=DEFAULT_MEMORY_GIB,
        metavar="GIB",
        help=f"memory cap for each kata's process (default {DEFAULT_MEMORY_GIB:g} GiB)",
    )
    parser.addini("katas_curriculum", "folder of the curriculum manifest", default="curriculum")


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
    kata = plugin._kata_of(request.node)
    if kata is None:
        raise pytest.UsageError(
            f"{request.node.nodeid} uses the `kata` fixture without a @pytest.mark.kata(...) marker"
        )
    return plugin.implementation.get(kata.module, kata.target)


class KataPlugin:
    """State of one run: which katas ran, with what outcome."""

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
        # Stop mode on the learner's own folder reruns a passed kata only when what it depends on changed.
        self.dependencies = Dependencies(self.implementation.folder, self.root / "tests" / "katas")
        self.digest_memo: DigestMemo | None = None  # set once we know this run records the learner's progress
        self.not_rerun: list[Kata] = []
        self.collected: dict[str, list[pytest.Item]] = {}
        self.results: dict[str, list[outcomes.Outcome]] = {}
        self.stopped_at: Kata | None = None
        # Only runs on the learner's own folder count as their progress
        # (not --impl solutions, nor the mutation self-tests' copies).
        self.recording = self.implementation.folder == (self.root / "katas").resolve()
        if self.recording:
            self.digest_memo = DigestMemo(self.root / STATE_DIR / DIGESTS_FILE)
        self.progress = Progress.load(self.root) if self.recording else None
        # Before any learner code runs: a copy of each file of katas/ that changed (nothing is ever lost).
        self.damaged: list[history.Damage] = []
        if self.recording and not hasattr(config, "workerinput"):
            self.damaged = history.snapshot(self.root)
        self.artifacts: dict[str, list[str]] = {}
        self.newly_passed: list[Kata] = []
        self._recorded = False

    # ------------------------------------------------------------ collection

    def _kata_of(self, item: pytest.Item) -> Kata | None:
        return item.stash.get(KATA_KEY, None)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        wanted = self._selection()
        keep, drop = [], []
        for index, item in enumerate(items):
            marker = item.get_closest_marker("kata")
            if marker is None:
                keep.append((len(self.curriculum.katas), index, item))
                continue
            try:
                kata = self.curriculum.by_id[marker.args[0]]
            except (KeyError, IndexError):
                raise pytest.UsageError(
                    f"{item.nodeid}: kata marker {marker.args!r} names no kata in the curriculum"
                ) from None
            item.stash[KATA_KEY] = kata
            if wanted is not None and kata.id not in wanted:
                drop.append(item)
                continue
            if kata.requires == "gpu":
                import kernels

                if not kernels.gpu_available():
                    item.add_marker(pytest.mark.skip(reason=kernels.why_no_gpu()))
            keep.append((kata.position, index, item))
            self.collected.setdefault(kata.id, []).append(item)
        drop += self._unchanged_since_passed(keep)
        keep = [entry for entry in keep if entry[2] not in drop]
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = [item for _, _, item in sorted(keep, key=lambda t: (t[0], t[1]))]
        self.groups = {}
        for item in items:
            kata = self._kata_of(item)
            if kata is not None:
                self.groups.setdefault(kata.id, []).append(item)
        only_katas = all(self._kata_of(item) is not None for item in items)
        if self.collected and only_katas and config.option.tbstyle == "auto":
            # The kata report says what failed; tracebacks from inside the
            # checks would only bury it. `--tb=short` brings them back. (A run
            # that mixes in the self-tests keeps pytest's usual reports.)
            config.option.tbstyle = "no"
            terminal = config.pluginmanager.get_plugin("terminalreporter")
            if terminal is not None:
                terminal.reportchars = "w" if "w" in (config.option.reportchars or "") else ""

    def _reuse_passes(self) -> bool:
        """Only a plain stop-mode run on the learner's own folder skips katas whose code did not change."""
        return (
            self.recording
            and self.stop_mode
            and not self.config.getoption("katas_recheck")
            and not self.config.getoption("katas_only")
            and not self.config.getoption("keyword")
        )

    def kata_digest(self, kata: Kata) -> str | None:
        test_file = self.root / "tests" / "katas" / f"test_{kata.module}.py"

        def compute():
            wanted, test_text = tests_dependencies(test_file, kata.id)
            digest, files = self.dependencies.digest_and_files(kata, wanted, test_text)
            return digest, [test_file, *files]

        if self.digest_memo is None:
            return compute()[0]
        return self.digest_memo.digest(kata.id, kata_key(kata, self.implementation.folder), compute)

    def _unchanged_since_passed(self, keep) -> list[pytest.Item]:
        """Items of katas that passed before and whose code has not changed since: not rerun."""
        if not self._reuse_passes():
            return []
        items_by_kata: dict[str, list[pytest.Item]] = {}
        for _, _, item in keep:
            kata = self._kata_of(item)
            if kata is not None:
                items_by_kata.setdefault(kata.id, []).append(item)
        skipped: list[pytest.Item] = []
        for kata in self.curriculum.katas:
            if kata.id not in items_by_kata:
                continue
            entry = self.progress.entry(kata.id)
            if entry.get("state") != outcomes.PASSED or not entry.get("digest"):
                break  # from the first kata not known to pass, everything runs
            if entry.get("digest") != self.kata_digest(kata):
                break
            self.not_rerun.append(kata)
            skipped.extend(items_by_kata.pop(kata.id))
            self.collected.pop(kata.id, None)
        return skipped

    def _selection(self) -> set[str] | None:
        only = self.config.getoption("katas_only")
        tracks = self.config.getoption("katas_tracks")
        if not only and not tracks:
            return None
        chosen: set[str] = set()
        try:
            for key in only:
                chosen.add(self.curriculum.get(key).id)
            for key in tracks:
                track = self.curriculum.track(int(key) if key.isdigit() else key)
                chosen.update(kata.id for kata in self.curriculum.in_track(track))
        except KeyError as error:
            raise pytest.UsageError(str(error.args[0])) from None
        return chosen

    # --------------------------------------------------------------- running

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):
        kata = self._kata_of(item)
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

    _in_child = False  # set in a kata's child process, where checks run the ordinary way

    @property
    def isolated(self) -> bool:
        """Run the next kata's checks in a forked child?

        Not once TensorFlow is loaded in this process (a cold reference cache made this process
        compute expected values, or a self-test used TensorFlow directly): a fork of a process
        whose TensorFlow threads run can crash in the child, which would blame correct code. Those
        checks then run here, under the older SIGALRM limit. A warm cache (`kata warm`) keeps
        TensorFlow out of the learner's runs, so every kata forks.
        """
        import sys

        return self._can_fork and "tensorflow" not in sys.modules

    def _next_kata_after(self, item: pytest.Item) -> Kata | None:
        items = item.session.items
        try:
            position = items.index(item)
        except ValueError:
            return None
        following = items[position + 1] if position + 1 < len(items) else None
        return self._kata_of(following) if following is not None else None

    def receive_outcomes(self, kata: Kata, received: list[dict], artifacts: list[str]) -> None:
        """Outcomes of one check, as the kata's child process computed them."""
        for entry in received:
            state = entry.get("state")
            if state not in outcomes.SEVERITY:
                continue
            mistake = entry.get("mistake")
            self.add_outcome(
                kata,
                outcomes.Outcome(
                    KataState(state),
                    str(entry.get("message", "")),
                    check=str(entry.get("check", "")),
                    printed=str(entry.get("printed", "")),
                    mistake=mistake if isinstance(mistake, str) else None,
                ),
            )
        known = self.artifacts.setdefault(kata.id, [])
        known.extend(str(a) for a in artifacts if isinstance(a, str) and str(a) not in known)

    def add_outcome(self, kata: Kata, outcome: outcomes.Outcome) -> None:
        self.results.setdefault(kata.id, []).append(outcome)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item):
        with time_limit(self._fallback_limit(item)), self._restoring_globals():
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        limit = self._fallback_limit(item)
        # No child to end (the in-process fallback): an os._exit in learner code must not end pytest.
        refusing = exits_raise() if limit else contextlib.nullcontext()
        with time_limit(limit), refusing, self._restoring_globals():
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
        kata = self._kata_of(item)
        if kata is None:
            return 0
        if self.timeout is not None:
            return self.timeout
        return kata.timeout or DEFAULT_TIMEOUT

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        rep = yield
        kata = self._kata_of(item)
        if kata is None:
            return rep
        if rep.failed:
            outcome = outcomes.classify(call.excinfo.value, self.implementation.folder, self.root)
            outcome.check = item.name
            self.results.setdefault(kata.id, []).append(outcome)
            rep.longrepr = f"[kata {kata.number} {outcome.state}] {outcome.message}"
        elif rep.when == "call" or rep.skipped:
            state = outcomes.SKIPPED if rep.skipped else outcomes.PASSED
            self.results.setdefault(kata.id, []).append(outcomes.Outcome(state, check=item.name))
            if state == outcomes.PASSED:
                # A test may record files it made, e.g. a training-curve PNG:
                # request.node.user_properties.append(("artifact", path))
                self.artifacts.setdefault(kata.id, []).extend(
                    str(value) for key, value in item.user_properties if key == "artifact"
                )
        return rep

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None):
        yield
        kata = self._kata_of(item)
        if kata is None or (self.isolated and not self._in_child):
            return
        self._maybe_stop(kata, self._kata_of(nextitem) if nextitem is not None else None)

    def _maybe_stop(self, kata: Kata, next_kata: Kata | None) -> None:
        if not self.stop_mode or self._in_child:
            return
        if next_kata is not kata and self.state(kata.id) not in (outcomes.PASSED, outcomes.SKIPPED):
            self.stopped_at = kata

    # -------------------------------------------------------------- outcomes

    def state(self, kata_id: str) -> str:
        results = self.results.get(kata_id)
        if not results:
            return "not run"
        return max((r.state for r in results), key=outcomes.SEVERITY.__getitem__)

    def summary(self, kata_id: str) -> report.KataSummary:
        results = self.results.get(kata_id, [])
        passed = sum(1 for r in results if r.state == outcomes.PASSED)
        worst = max(results, key=lambda r: outcomes.SEVERITY[r.state], default=None)
        return report.KataSummary(
            kata=self.curriculum.by_id[kata_id],
            state=self.state(kata_id),
            message=worst.message if worst else "",
            check=worst.check if worst else "",
            printed=worst.printed if worst else "",
            passed=passed,
            total=len(self.collected.get(kata_id, [])),
        )

    # -------------------------------------------------------------- progress

    def _record(self) -> None:
        """Update .katas/progress.json with this run (once, learner's folder only)."""
        if self._recorded or not self.recording or not self.collected or self.interrupted_in is not None:
            return  # an interrupted run leaves the stored progress as it was
        self._recorded = True
        when = now()
        for kata in self.curriculum.katas:
            if kata.id not in self.collected or self.state(kata.id) == "not run":
                continue
            if (
                any(r.harness_fault for r in self.results.get(kata.id, ()))
                and self.progress.state(kata.id) in DONE_STATES
            ):
                continue  # the harness failed, not the learner: a stored pass stands
            summary = self.summary(kata.id)
            state = summary.state
            if state in (outcomes.FAILING, outcomes.ERROR) and self._untouched(kata):
                state = outcomes.NOT_STARTED  # e.g. blocked by a syntax error elsewhere in the file
            if self.progress.record(kata, state, summary.passed, summary.total, when):
                self.newly_passed.append(kata)
            entry = self.progress.katas.setdefault(kata.id, {})
            digest = self.kata_digest(kata) if state == outcomes.PASSED else None
            if digest:
                entry["digest"] = digest  # what this pass depended on: unchanged, it need not run again
            else:
                entry.pop("digest", None)
        ran = [k for k in self.curriculum.katas if self.state(k.id) != "not run"]
        unfinished = [k for k in ran if self.progress.state(k.id) not in DONE_STATES]
        if self.stopped_at is not None:
            self.progress.current = self.stopped_at.id
        elif unfinished:
            self.progress.current = unfinished[0].id
        elif ran:
            self.progress.current = None
        try:
            targets: dict[str, list[str]] = {}
            for kata in self.curriculum.katas:
                targets.setdefault(kata.module, []).append(kata.target)
            pristine.snapshot_pristine(self.root, self.implementation.folder, targets)
            self.progress.save()
        except OSError as error:  # a read-only checkout still gets its report
            terminal = self.config.pluginmanager.get_plugin("terminalreporter")
            if terminal is not None:
                terminal.write_line(f"(progress not saved: {error})", yellow=True)

    def _untouched(self, kata: Kata) -> bool:
        """The kata's function/class is still exactly the shipped stub."""
        path = self.implementation.folder / kata.path
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, ValueError):  # unreadable or not UTF-8: the load error says so
            return False
        # Compared as text: the file may not even parse (a syntax error in another kata).
        return definitions.contains(text, pristine.pristine_definition(self.root, kata.module, kata.target))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._record()
        if self.digest_memo is not None and not self._in_child:
            self.digest_memo.save()

    def _done_for_report(self, summaries: dict[str, report.KataSummary]) -> set[str]:
        """Katas to count as done in the progress bar."""
        done = {kid for kid, s in summaries.items() if s.state in (outcomes.PASSED, outcomes.SKIPPED)}
        if self.progress is not None:  # katas this run did not reach keep their stored state
            done |= {
                kid
                for kid in self.progress.done(self.curriculum)
                if kid not in summaries or summaries[kid].state == "not run"
            }
        if self.config.getoption("katas_tracks") and self.collected:
            # A track run alone starts from a state where the earlier tracks are done.
            first = min(self.curriculum.by_id[kid].position for kid in self.collected)
            done |= {kata.id for kata in self.curriculum.katas[:first]}
        return done

    # --------------------------------------------------------------- report

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config) -> None:
        if not self.collected and not self.not_rerun:
            return
        if self.interrupted_in is not None:
            report.Writer(terminalreporter, impl_name=self._impl_label()).interrupted(self.interrupted_in)
            return
        self._record()
        summaries = {kata_id: self.summary(kata_id) for kata_id in self.collected}
        writer = report.Writer(terminalreporter, impl_name=self._impl_label())
        if self.progress is not None:
            writer.hint_levels = {kata.id: self.progress.hint_level(kata) for kata in self.curriculum.katas}
            writer.streaks = {kid: int(e.get("streak", 0)) for kid, e in self.progress.katas.items()}
            writer.newly_passed = self.newly_passed
            writer.pair_prompt = workshop_settings(self.root)["pair_prompts"]
        writer.artifacts = {
            kid: self._relative(paths)
            for kid, paths in self.artifacts.items()
            if self.state(kid) == outcomes.PASSED and paths
        }
        done = self._done_for_report(summaries)
        if self.stop_mode:
            writer.focus(self.curriculum, summaries, self.stopped_at, done=done)
        else:
            writer.table(self.curriculum, summaries, done=done)
        for damage in self.damaged:
            writer.line(f"  {damage.line()}")
        if self.not_rerun:
            count = len(self.not_rerun)
            writer.line(
                f"  ({count} kata{'s' if count != 1 else ''} that passed before {'were' if count != 1 else 'was'} "
                f"not rerun: {'their' if count != 1 else 'its'} code has not changed. "
                f"`pytest --recheck` runs them too.)"
            )
        # Whoever listens for the end of a run (the live room's plugin, dojo/room/plugin.py) hears it now.
        self.config.hook.pytest_katas_finished(
            root=self.root,
            curriculum=self.curriculum,
            progress=self.progress,
            results=self.results,
            say=terminalreporter.write_line,
        )

    def _relative(self, paths: list[str]) -> list[str]:
        shown = []
        for path in paths:
            try:
                shown.append(str(Path(path).resolve().relative_to(self.root.resolve())))
            except ValueError:
                shown.append(path)
        return shown

    def _impl_label(self) -> str:
        try:
            return str(self.implementation.folder.relative_to(self.root))
        except ValueError:
            return str(self.implementation.folder)
