"""Run one kata's checks in a forked child process; the parent alone decides the verdict.

Why a child: the learner's code is untrusted in the plain sense that it may
do anything a beginner's (or a curious person's) code does: loop inside C,
swallow signals, call ``os._exit(0)``, segfault, close ``sys.stdout``, patch
NumPy, leave a thread running. Inside the harness's own process any of these
could hang the run, fake a pass or wreck the state of later katas. In a child:

* the **time limit** is wall-clock and enforced by the parent for the whole
  kata (all its checks together); when it runs out, the child is asked for a
  traceback (``faulthandler`` on ``SIGUSR1``, which works even inside a C
  loop) and then killed, and the report names the learner's line;
* a **crash** (a signal, ``os._exit``, the memory cap) is reported as what it
  is, with the learner's line where one is known;
* **global changes** (recursion limit, stdout, signal handlers, cwd, NumPy,
  ``sys.modules``) die with the child;
* the parent never runs learner code, so only the verdicts it recorded decide
  pytest's exit status.

The child is forked after the harness, NumPy, the checks and the test modules
are imported, so it starts in milliseconds. It never needs TensorFlow: every
call into the reference engine is sent to the parent (as data, see
:mod:`dojo.wire`), which answers from the reference cache or has the
checkout's reference daemon compute it (:mod:`dojo.refcache.server`: TensorFlow
in a process of its own, so that the parent can keep forking). Only the
parent talks to the daemon: the child has no way to it but this pipe, and the
daemon refuses a sandboxed process that finds its socket. Time spent
there is not charged to the learner.

Messages from child to parent (:mod:`dojo.wire`: a JSON line, then the bytes of its
arrays): ``start`` (check i begins),
``report`` (a pytest report of check i), ``outcomes`` (the kata states of
check i), ``ref`` (a reference call, answered on the second pipe), ``done``.

Where ``os.fork`` does not exist (Windows), :func:`available` is False and the
plugin runs checks in its own process with the older ``SIGALRM`` limit (none
on Windows): a hang or crash then ends the run instead of being reported.
"""

from __future__ import annotations

import builtins
import faulthandler
import functools
import gc
import glob
import importlib.util
import os
import re
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _pytest.reports import TestReport
from _pytest.runner import runtestprotocol

from .. import wire
from ..paths import STATE_DIR
from ..refcache import server as reference_server
from ..states import ERROR, FAILING, PASSED
from . import guards, modes, prefork, reaper, sandbox
from .timeout import compiling_message, timeout_message

#: After the limit, how long the child has to write its traceback before it is killed.
DUMP_GRACE = 0.5

#: Largest captured output a check sends back (the card shows its first lines).
MAX_SECTION = 20_000
#: The longest message a child may send (reports, reference requests): far above any the course makes.
MAX_MESSAGE = 256 << 20

SIGNAL_WORDS = {
    "SIGSEGV": "segmentation fault",
    "SIGABRT": "abort",
    "SIGFPE": "floating-point exception",
    "SIGBUS": "bus error",
    "SIGILL": "illegal instruction",
    "SIGKILL": "killed, perhaps for using too much memory",
}


#: The real ``os._exit``: the child's own last word, which learner code cannot replace.
_exit = os._exit


def available() -> bool:
    return hasattr(os, "fork") and hasattr(signal, "SIGUSR1")


@dataclass
class KataRun:
    """What the parent learned about one kata's child."""

    reports: dict[int, list[TestReport]] = field(default_factory=dict)
    started: set[int] = field(default_factory=set)
    finished: set[int] = field(default_factory=set)
    current: int | None = None
    done: bool = False
    problem: str | None = None  # why the child did not finish, in the learner's words
    harness_fault: bool = False
    interrupted: bool = False
    pid: int = 0  # the child's
    strays: int = 0  # processes the kata left running, ended after it
    reference_time: float = 0.0  # seconds spent answering reference calls, not charged to the kata


# ------------------------------------------------------------------- child side


class _ChildChannel:
    def __init__(self, out_fd: int, in_fd: int):
        self.out = os.fdopen(out_fd, "wb", buffering=0)
        self.inp = os.fdopen(in_fd, "rb")  # buffered: a reply is a JSON line, then its arrays' bytes
        self.pid = os.getpid()

    def send(self, message: dict) -> None:
        if os.getpid() != self.pid:
            # A copy the learner's os.fork() made carries on with the checks: its messages would
            # interleave with the child's own. Only the kata's child speaks; a copy ends quietly.
            _exit(0)
        data = wire.dumps(message)
        view = memoryview(data)
        while view:
            written = self.out.write(view)
            view = view[written:]

    def call(self, message: dict) -> dict:
        self.send(message)
        try:
            return wire.read(self.inp, MAX_MESSAGE) or {}
        except (wire.EndOfStream, wire.TooLarge):
            raise RuntimeError("the harness stopped answering") from None


def _proxy(channel: _ChildChannel, module: str, name: str, original):
    def remote(*args, **kwargs):
        try:
            payload = wire.encode([list(args), kwargs])
        except wire.NotData as error:
            raise CourseError(
                f"{module}.{name} was given {error}, which cannot be sent to the reference engine: "
                f"reference functions take data (a bug in the course, not in your code)"
            ) from None
        reply = channel.call({"type": "ref", "module": module, "function": name, "args": payload})
        if reply.get("not_data"):
            raise CourseError(
                f"{module}.{name} returned something that is not data (a Keras object?): reference "
                f"functions must return arrays, numbers, lists or dicts (a bug in the course)"
            )
        if "raised" in reply:
            kind = getattr(builtins, str(reply["raised"]), None)
            error = kind if isinstance(kind, type) and issubclass(kind, Exception) else RuntimeError
            raise error(reply.get("message", ""))
        return wire.decode(reply.get("value"))

    remote.__name__ = name
    remote.__wrapped__ = original
    return remote


class CourseError(RuntimeError):
    """The course itself is wrong (a test hands the reference engine something it cannot send)."""


def reference_modules() -> list[str]:
    """The public reference modules loaded in this process: called in the parent, before the fork.

    Only the names are read here, in the harness, where walking ``sys.modules`` costs nothing. In a
    forked child the same walk took 15-30 ms: every module object it visits has its reference count
    raised, and each write copies the page the object lives on (copy-on-write), about a thousand
    pages for the modules a run has loaded.
    """
    return [name for name in sys.modules if name.startswith("reference.") and not name.split(".")[-1].startswith("_")]


def _route_reference_to_parent(channel: _ChildChannel, module_names: list[str]) -> None:
    """Replace every public reference function already imported by the tests with a proxy.

    The child then never imports TensorFlow: a forked copy of a process whose
    TensorFlow threads are running would hang on its first operation. ``module_names`` are
    :func:`reference_modules`, as the parent found them just before the fork.
    """
    for module_name in module_names:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for name, value in list(vars(module).items()):
            if name.startswith("_") or not callable(value) or isinstance(value, type):
                continue
            if getattr(value, "__module__", None) != module_name:
                continue
            setattr(module, name, _proxy(channel, module_name, name, value))


def _record_exits(crash_file) -> None:
    """``os._exit`` leaves no traceback; write one first, so the report can name the line."""
    real_exit = os._exit

    def recorded_exit(status):
        try:
            crash_file.write(f"os._exit({status}) called from:\n".encode())
            crash_file.write("".join(traceback.format_stack()).encode())
            crash_file.flush()
        except Exception:
            pass
        real_exit(status)

    os._exit = recorded_exit


def _enter_sandbox(config, folder: Path, writable: list[str]) -> bool:
    """From here on, learner code may write only into ``folder`` and ``writable`` (:mod:`.sandbox`).

    Every temporary file lands in ``folder``: Python's, a compiler's (``TMPDIR``) and pytest's
    ``tmp_path``, which the checks hand to ``save_weights`` and ``ModelCheckpoint``. True if the
    sandbox is on (Landlock is there, and not turned off).
    """
    os.environ["TMPDIR"] = str(folder)
    tempfile.tempdir = str(folder)
    # joblib (TensorFlow imports scikit-learn, which imports it) tests at import time whether it can make a
    # semaphore in /dev/shm, which the sandbox refuses, and warns "joblib will operate in serial mode" from
    # inside the kata's check: a warning on the learner's card that is not theirs. Serial is what the
    # sandbox allows anyway, so say so before anything imports it (a value the learner set is kept).
    os.environ.setdefault("JOBLIB_MULTIPROCESSING", "0")
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is not None:
        base = folder / "pytest"
        base.mkdir(exist_ok=True)
        factory._basetemp = base
    sys.dont_write_bytecode = True  # katas/__pycache__ is out of reach: do not even try
    return sandbox.confine([str(folder), *writable]) > 0


def _sandbox_note(message: str, sandboxed: bool) -> str:
    """What the sandbox refused, said once after the error it caused (empty for any other message)."""
    if not sandboxed or "PermissionError" not in message:
        return ""
    if "Permission denied" in message:
        return (
            "\n  (a kata's code may write only into tempfile.gettempdir():"
            "\n  katas/, .katas/ and the tests are read-only to it. Remove the write.)"
        )
    if "Operation not permitted" in message:
        return "\n  (a kata's code may not signal processes outside it. Remove the os.kill.)"
    return ""


def _explain(new: list, reports: list, fingerprint, kata, item, sandboxed: bool) -> None:
    """Turn what the harness itself can explain into words: the sandbox, a closed stdout, a patched NumPy."""
    for outcome in new:
        outcome.message += _sandbox_note(outcome.message, sandboxed)
        if "I/O operation on closed file" in outcome.message:
            outcome.message = (
                "your code closed sys.stdout (or sys.stderr), which the checks and pytest write "
                "to: remove the close() (to silence output, print less)"
            )
    replaced = fingerprint.replaced()
    if replaced:
        text = (
            f"your code replaced {', '.join(replaced[:3])}{' and more' if len(replaced) > 3 else ''}: "
            f"the checks rely on NumPy as it ships, so they cannot judge this kata. Remove the assignment."
        )
        new[:] = [type(new[0])(FAILING, text, check=item.name)] if new else []
        for report in reports:
            if report.when == "call":
                report.outcome = "failed"
                report.longrepr = f"[kata {kata.number} {FAILING}] {text}"


def _send_results(channel: _ChildChannel, config, index: int, reports: list, new: list, artifacts: list) -> None:
    """One check's pytest reports, warnings and kata outcomes, to the parent."""
    for report in reports:
        report.sections = [(title, body[:MAX_SECTION]) for title, body in report.sections]
        channel.send(
            {
                "type": "report",
                "index": index,
                "report": config.hook.pytest_report_to_serializable(config=config, report=report),
            }
        )
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    warned = terminal.stats.pop("warnings", []) if terminal is not None else []
    if warned:  # the parent's report names the first warning and counts them (report.warnings_note)
        channel.send(
            {
                "type": "warnings",
                "warnings": [
                    {"message": w.message[:MAX_SECTION], "nodeid": w.nodeid, "fslocation": w.fslocation} for w in warned
                ],
            }
        )
    printed = reports[-1].capstdout[:MAX_SECTION] if reports else ""  # the last report holds every phase
    channel.send(
        {
            "type": "outcomes",
            "index": index,
            "outcomes": [
                {
                    "state": str(o.state),
                    "message": o.message,
                    "check": o.check,
                    "printed": printed if o.state != PASSED else "",
                    "mistake": o.mistake,
                }
                for o in new
            ],
            "artifacts": artifacts,
        }
    )


def _child_main(runner: KataRunner, kata, items, out_fd: int, in_fd: int, crash_file, folder: Path) -> None:
    # Everything inherited from the parent (pytest, NumPy, the checks: hundreds of thousands of objects)
    # lives on in the parent anyway: the garbage collector leaves it alone here. A full collection in
    # the child otherwise walks all of it, touching every inherited page (copy-on-write), for each one:
    # hypothesis's first search runs gc.collect() (0.2 s each in a child), as do NumPy-heavy checks.
    gc.freeze()
    runner.plugin._in_child = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    faulthandler.enable(file=crash_file, all_threads=True)
    faulthandler.register(signal.SIGUSR1, file=crash_file, all_threads=True, chain=False)
    guards.limit_resources(runner.memory_bytes)
    guards.one_blas_thread()  # before the sandbox: threadpoolctl opens the loaded BLAS library
    sandboxed = _enter_sandbox(runner.plugin.config, folder, runner.writable_folders)
    guards.install_import_guard(runner.plugin.implementation.folder, tuple(kata.imports))
    reference_server.forget_in_child()
    channel = _ChildChannel(out_fd, in_fd)
    _route_reference_to_parent(channel, runner.reference_modules)
    _record_exits(crash_file)
    fingerprint = guards.NumpyFingerprint()
    config = runner.plugin.config
    results = runner.plugin.results.outcomes.setdefault(kata.id, [])
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        # The parent's warnings so far came with the fork and are counted already: only this
        # kata's own go back (sending them all again made each child slower than the one before).
        terminal.stats.pop("warnings", None)
    for index, item in enumerate(items):
        channel.send({"type": "start", "index": index})
        before = len(results)
        nextitem = items[index + 1] if index + 1 < len(items) else None
        # runtestprotocol skips the warnings plugin's wrapper: record them as pytest would, for the parent.
        from _pytest.warnings import catch_warnings_for_item

        with catch_warnings_for_item(config, ihook=item.ihook, when="runtest", item=item):
            reports = runtestprotocol(item, log=False, nextitem=nextitem)
        new = results[before:]
        _explain(new, reports, fingerprint, kata, item, sandboxed)
        _send_results(channel, config, index, reports, new, runner.plugin.results.artifacts.get(kata.id, []))
    channel.send({"type": "done", "loaded": prefork.loaded_in_this_process()})


# ------------------------------------------------------------------ parent side


@functools.cache
def _cupy_installed() -> bool:
    """Asked once a process: the search walks every folder of ``sys.path``."""
    return importlib.util.find_spec("cupy") is not None


class KataRunner:
    """Forks one child per kata and turns whatever happens in it into reports and outcomes."""

    def __init__(self, plugin, memory_bytes: int | None):
        self.plugin = plugin
        self.memory_bytes = memory_bytes
        self.preloader = prefork.PRELOADER  # per process: nested sessions share it
        self.restored: list[tuple] = []  # (kata, modes.Restored): permissions a kata's code changed, set back
        self.reference_modules: list[str] = []  # see reference_modules(): set before each fork
        self.writable_folders: list[str] = []  # see writable(): set before each fork

    def run(self, kata, items: list[pytest.Item], limit: float) -> KataRun:
        self._note_sandbox()
        keep = reaper.own_children()  # the harness's own processes (a warm-up started earlier)
        folder = Path(tempfile.mkdtemp(prefix="kata-"))
        crash_file = tempfile.TemporaryFile()
        self.preloader.before_fork()  # what earlier children imported: this one starts with it
        self.reference_modules = reference_modules()  # read here: the child only looks these up
        self.writable_folders = self.writable()  # made here: the child's sandbox lets it write in them
        self._flush_captured()
        sys.stdout.flush()
        sys.stderr.flush()
        run = KataRun()
        permissions = modes.watch(self.plugin.root, self.plugin.implementation.folder)  # chmod is not a write
        try:
            with reaper.subreaper():  # until the kata's tree is ended, its orphans come to us (see .reaper)
                try:
                    self._fork(kata, items, crash_file, folder, run, limit)
                finally:  # Ctrl-C included
                    if run.pid:
                        run.strays = reaper.end_tree(run.pid, keep | reference_server.own_pids())
                    self.restored += [(kata, r) for r in modes.restore(permissions, self.plugin.root)]
        finally:
            crash_file.close()
            shutil.rmtree(folder, ignore_errors=True)
        return run

    def _fork(self, kata, items, crash_file, folder: Path, run: KataRun, limit: float) -> None:
        """Fork the kata's child (``run.pid``) and supervise it to its end."""
        out_r, out_w = os.pipe()
        in_r, in_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            status = 70
            try:
                os.setpgid(0, 0)  # a group of its own: forked children end with it even without /proc
                os.close(out_r)
                os.close(in_w)
                _child_main(self, kata, items, out_w, in_r, crash_file, folder)
                status = 0
            except BaseException:  # whatever it was, the parent reports it
                try:
                    crash_file.write(traceback.format_exc().encode())
                    crash_file.flush()
                except Exception:  # nowhere left to say it
                    pass
            finally:
                _exit(status)
        run.pid = pid
        try:
            os.setpgid(pid, pid)  # also here: whichever of the two runs first
        except OSError:
            pass
        os.close(out_w)
        os.close(in_r)
        try:
            self._supervise(pid, kata, items, limit, out_r, in_w, crash_file, run)
        finally:
            os.close(out_r)
            os.close(in_w)

    def writable(self) -> list[str]:
        """Folders the checks themselves write into from the child, beside its temporary folder.

        Pictures and notes for the learner (training curves, GPU launch pictures) and the GPU
        emulator's compiled kernels (kernels compile in the child, under its time limit). No check
        reads an expected value from any of them, so learner code writing there fools nothing.
        """
        gpu_root = Path(os.environ.get("KATAS_ROOT", Path(__file__).resolve().parents[2]))  # as dojo.gpu has it
        folders = [
            self.plugin.root / STATE_DIR / "plots",
            gpu_root / STATE_DIR / "gpu",
            Path(os.environ.get("KATAS_GPU_CACHE", gpu_root / STATE_DIR / "gpu-cache")),
        ]
        if _cupy_installed():  # a real GPU: CuPy's kernel cache, as CuPy finds it
            folders.append(Path(os.environ.get("CUPY_CACHE_DIR", Path.home() / ".cupy" / "kernel_cache")))
        for folder in folders:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError:
                pass
        # The GPU's device files are opened for writing (a write right: Landlock would refuse them).
        return [str(folder) for folder in folders] + sorted(glob.glob("/dev/nvidia*"))

    def _note_sandbox(self) -> None:
        """Once a session: say so where the learner's code cannot be sandboxed."""
        if getattr(self.plugin, "_sandbox_noted", False):
            return
        self.plugin._sandbox_noted = True
        line = sandbox.missing_line()
        terminal = self.plugin.config.pluginmanager.get_plugin("terminalreporter")
        if line and terminal is not None:
            terminal.write_line(line)

    def _flush_captured(self) -> None:
        """Drop output a killed child left in pytest's shared capture file."""
        capman = self.plugin.config.pluginmanager.getplugin("capturemanager")
        if capman is not None and capman.is_globally_capturing():
            try:
                capman.read_global_capture()
            except Exception:
                pass

    def _supervise(self, pid, kata, items, limit, out_r, in_w, crash_file, run: KataRun) -> None:
        """Read the child's messages until it exits (not until its pipe closes: a forked grandchild
        may hold the pipe open for ever) or its time runs out."""
        deadline = time.monotonic() + limit
        reader = wire.FrameReader(MAX_MESSAGE)  # a message may arrive in many chunks
        child = _ChildExit(pid)
        status = None
        try:
            pipe_open = True
            while status is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    run.problem = self._timeout_message(pid, limit, crash_file)
                    break
                watched = ([out_r] if pipe_open else []) + child.fds()
                ready, _, _ = select.select(watched, [], [], min(remaining, child.tick))
                if out_r in ready:
                    pipe_open = self._receive(out_r, reader, pid, kata, items, in_w, run)
                    if run.problem is not None and run.harness_fault:
                        break
                    deadline += run.reference_time
                    run.reference_time = 0.0
                if child.exited():
                    status = child.status
                    self._drain(out_r, reader, pid, kata, items, in_w, run)
        except KeyboardInterrupt:
            run.interrupted = True
            raise
        finally:
            child.close()
            if status is None:
                _kill(pid)
            self._flush_captured()
        if not run.done and run.problem is None:
            run.problem = self._crash_message(status, crash_file)
        if not run.done:
            self._report_unfinished(kata, items, run)

    def _receive(self, out_r, reader, pid, kata, items, in_w, run: KataRun) -> bool:
        """Read what the child sent and act on it; False once the pipe is closed by every writer."""
        chunk = os.read(out_r, 1 << 20)
        if not chunk:
            return False
        try:
            messages = reader.feed(chunk)
        except wire.TooLarge:
            run.problem, run.harness_fault = (
                f"the kata's process sent a message of over {MAX_MESSAGE >> 20} MiB to the harness "
                f"(a bug in the course or the harness, not in your code)",
                True,
            )
            return False
        for message in messages:
            if message is None:
                run.problem, run.harness_fault = ("the kata's process sent something the harness cannot read", True)
                continue
            run.reference_time += self._handle(message, kata, items, in_w, run)
        return True

    def _drain(self, out_r, reader, pid, kata, items, in_w, run: KataRun) -> None:
        """After the child exited: what it wrote last is still in the pipe (bounded: strays may write on)."""
        for _ in range(64):
            ready, _, _ = select.select([out_r], [], [], 0)
            if not ready or not self._receive(out_r, reader, pid, kata, items, in_w, run):
                return

    def _handle(self, message: dict, kata, items, in_w: int, run: KataRun) -> float:
        """Act on one message; return the seconds to add to the deadline (reference time)."""
        kind = message["type"]
        index = message.get("index")
        item = items[index] if isinstance(index, int) and 0 <= index < len(items) else None
        if kind == "start" and item is not None:
            run.current = index
            run.started.add(index)
            item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        elif kind == "report" and item is not None:
            config = self.plugin.config
            report = config.hook.pytest_report_from_serializable(config=config, data=message["report"])
            if report is not None:
                run.reports.setdefault(index, []).append(report)
                item.ihook.pytest_runtest_logreport(report=report)
        elif kind == "outcomes" and item is not None:
            self.plugin.receive_outcomes(kata, message.get("outcomes", []), message.get("artifacts", []))
            run.finished.add(index)
            item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        elif kind == "ref":
            started = time.monotonic()
            reply = {"type": "reply", **_serve_reference(message)}
            _write_all(in_w, wire.dumps(reply))
            return time.monotonic() - started
        elif kind == "warnings":
            terminal = self.plugin.config.pluginmanager.get_plugin("terminalreporter")
            if terminal is not None:
                from _pytest.terminal import WarningReport

                terminal.stats.setdefault("warnings", []).extend(
                    WarningReport(
                        message=w["message"],
                        nodeid=w["nodeid"],
                        fslocation=tuple(w["fslocation"]) if w["fslocation"] else None,
                    )
                    for w in message.get("warnings", [])
                )
        elif kind == "done":
            run.done = True
            self.preloader.children_loaded(message.get("loaded"))
        return 0.0

    # -------------------------------------------------------------- messages

    def _learner_line(self, text: str) -> str:
        """'katas/neuron.py, line 12, in weighted_sum' from a traceback or a faulthandler dump."""
        folder = str(self.plugin.implementation.folder)
        root = self.plugin.root
        frames = re.findall(r'File "([^"]+)", line (\d+),? in (\S+)', text)
        mine = [f for f in frames if f[0].startswith(folder + os.sep)]
        if not mine:
            return ""
        # faulthandler lists the most recent call first; format_stack lists it last.
        path, line, function = mine[0] if "most recent call first" in text else mine[-1]
        try:
            shown = str(Path(path).relative_to(root))
        except ValueError:
            shown = path
        source = _source_line(path, int(line))
        return f"{shown}, line {line}, in {function}" + (f"\n    {source}" if source else "")

    def _timeout_message(self, pid: int, limit: float, crash_file) -> str:
        """Why the kata ran out of time: a compiler still at work, or the learner's line that was running.

        The child is left for :meth:`_supervise` to kill once its traceback is written.
        """
        compiler = reaper.compiling(pid)
        if compiler is not None:
            return compiling_message(limit, compiler)
        try:
            os.kill(pid, signal.SIGUSR1)
        except OSError:
            pass
        time.sleep(DUMP_GRACE)
        return timeout_message(limit, self._learner_line(_read(crash_file)))

    def _crash_message(self, status: int | None, crash_file) -> str:
        dump = _read(crash_file)
        where = self._learner_line(dump)
        at = f"\n  at {where}" if where else ""
        if status is not None and os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
            words = SIGNAL_WORDS.get(name, name)
            return f"your code crashed Python ({words}); the kata's other checks did not run.{at}"
        code = os.WEXITSTATUS(status) if status is not None else None
        if "os._exit(" in dump or code not in (70, None):
            return (
                f"your code ended the Python process (exit status {code}): a kata must return its "
                f"result, not exit; the kata's other checks did not run.{at}"
            )
        tail = dump.strip().splitlines()[-1] if dump.strip() else "no message"
        return f"the kata's process stopped before it finished ({tail}).{at}"

    def _report_unfinished(self, kata, items, run: KataRun) -> None:
        """A failed report (and an outcome) for the check that was running when the child ended."""
        from .outcomes import Outcome

        index = run.current if run.current is not None else 0
        if index in run.finished:  # between two checks: blame the next one
            index = min(index + 1, len(items) - 1)
        item = items[index]
        if index not in run.started:
            item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        report = TestReport(
            nodeid=item.nodeid,
            location=item.location,
            keywords={k: 1 for k in item.keywords},
            outcome="failed",
            longrepr=f"[kata {kata.number} {ERROR}] {run.problem}",
            when="call",
            sections=[],
            duration=0.0,
            start=time.time(),
            stop=time.time(),
            user_properties=[],
        )
        item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        self.plugin.add_outcome(kata, Outcome(ERROR, run.problem, check=item.name, harness_fault=run.harness_fault))


class _ChildExit:
    """Learns when the kata's child exits: from a pidfd where Linux has one, else by polling ``waitpid``."""

    def __init__(self, pid: int):
        self.pid = pid
        self.status: int | None = None
        try:
            self.fd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.fd = None
        self.tick = 1.0 if self.fd is not None else 0.05  # how often the loop looks without a pidfd

    def fds(self) -> list[int]:
        return [self.fd] if self.fd is not None else []

    def exited(self) -> bool:
        if self.status is None:
            try:
                done, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                done, status = self.pid, 0
            if done:
                self.status = status
        return self.status is not None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _serve_reference(message: dict) -> dict:
    """Answer one reference call for the child: from the reference cache here, else from the reference daemon.

    Never computed in this process: that would import TensorFlow, after which forking the next
    kata's child is no longer safe (see :mod:`dojo.refcache.server`).
    """
    from ..refcache.store import CacheMiss

    try:
        return reference_server.answer(message, only_cached=True)
    except CacheMiss:
        return reference_server.compute(message)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        return
    try:
        os.waitpid(pid, 0)
    except OSError:
        pass


def _read(crash_file) -> str:
    try:
        crash_file.flush()
        crash_file.seek(0)
        return crash_file.read(200_000).decode("utf-8", "replace")
    except (OSError, ValueError):
        return ""


def _source_line(path: str, line: int) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, text in enumerate(handle, start=1):
                if number == line:
                    return text.strip()
    except OSError:
        pass
    return ""
