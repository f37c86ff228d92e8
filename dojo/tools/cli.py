"""``kata``: the learner's and the facilitator's command line.

Every verb wraps pytest or the curriculum; ``pytest`` alone stays the main
way to work. Run ``kata --help`` or ``kata VERB --help``::

    kata status               progress by track, and the next kata
    kata list                 every kata and its state
    kata hint [KATA]          the next hint for the current kata
    kata watch [--poll]       rerun the next kata each time a file is saved
    kata track N              run one track alone (pytest --track N)
    kata reset KATA           the kata's stub back (your file is backed up first)
    kata solution KATA        the answer key's version (once the kata passes, or --force)
    kata bench [ARGS]         benchmarks (dojo.bench)
    kata warm [--fresh]       compute every expected value of the course now (a workshop's setup step)
    kata stop                 end this checkout's reference daemon (TensorFlow kept up between runs)
    kata catch-up N           fill in the answer key for every kata before N (workshop)
    kata workshop on|off      pair prompts after each kata passed
    kata progress --export    JSON + Markdown for the facilitator
    kata board FILES...       the room's progress board (table and PNG)
    kata dev check            for contributors: the course's structure, in seconds
    kata room serve           the live board on the workshop network (facilitator)
    kata room join URL CODE   post each run to the room (a pair); `kata room leave` stops
    kata help "MESSAGE"       in a room: raise a hand in the facilitator's help queue
    kata room report DB...    what several workshops learned about each kata (HTML + CSV)

The checkout is found from the current folder only (the nearest folder up
with ``curriculum/`` and ``katas/``), never from where the tool is installed,
so a verb that writes changes the checkout you stand in, and says which.
Every error is one line; ``KATA_DEBUG=1`` shows the traceback of an
unexpected one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import traceback
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from ..course import progress as progress_module
from ..course.curriculum import Curriculum, CurriculumError, Kata, load
from ..course.progress import Progress, ProgressError
from ..harness.report import bar
from ..states import DONE_STATES

STATE_STYLE = {
    "passed": "green",
    "skipped": "cyan",
    "not started": "yellow",
    "failing": "bold red",
    "error": "bold red",
}


class CliError(Exception):
    """A problem the user can fix; printed without a traceback, exit code 2."""


# ---------------------------------------------------------------- plumbing


#: Where to tell about an error the tool did not expect.
REPORT_TO = "please report it (the command and this line) to your facilitator or the Neural Katas maintainers"


def find_root(start: Path | None = None) -> Path:
    """The Neural Katas checkout you stand in: the nearest folder up with ``curriculum/`` and ``katas/``.

    Only the current folder counts (not where the tool is installed, nor an
    environment variable), so no verb ever changes a checkout you are not in.
    """
    try:
        here = (start or Path.cwd()).resolve()
    except OSError:  # the current folder was deleted
        raise CliError("the current folder no longer exists: cd into your copy of Neural Katas") from None
    for folder in (here, *here.parents):
        if (folder / "curriculum").is_dir() and (folder / "katas").is_dir():
            return folder
    raise CliError(
        f"not inside a Neural Katas folder (no curriculum/ and katas/ in {here} or above): cd into your copy first"
    )


class Context:
    def __init__(self, console: Console):
        self.console = console
        self.root = find_root()
        try:
            self.curriculum: Curriculum = load(self.root / "curriculum")
        except CurriculumError as error:
            raise CliError(
                f"the curriculum does not load ({error}): restore it with `git checkout curriculum/`"
            ) from None
        self._progress = Progress.load(self.root, say=self.note)  # a damaged file is set aside and said once

    def note(self, line: str) -> None:
        self.console.print(f"[yellow]kata: {escape(line)}[/]", soft_wrap=True)

    def progress(self) -> Progress:
        return Progress.load(self.root, say=self.note)

    def changed(self, what: str) -> None:
        """Say which checkout a writing verb changed: the folder, absolute, always."""
        self.console.print(f"  changed in {escape(str(self.root))}: {escape(what)}", soft_wrap=True)

    def kata(self, key: str) -> Kata:
        try:
            return self.curriculum.get(key)
        except KeyError as error:
            raise CliError(error.args[0]) from None

    def pytest(self, *args: str) -> int:
        command = [sys.executable, "-m", "pytest", *args]
        return subprocess.run(command, cwd=self.root).returncode


def _state_text(state: str) -> str:
    return f"[{STATE_STYLE.get(state, '')}]{state}[/]" if state in STATE_STYLE else state


# ------------------------------------------------------------------- verbs


def cmd_status(ctx: Context, args: argparse.Namespace) -> int:
    if getattr(args, "export", False):
        return cmd_export(ctx, args)
    progress = ctx.progress()
    done = progress.done(ctx.curriculum)
    total = len(ctx.curriculum.katas)
    console = ctx.console
    console.print(f"[bold]Neural Katas[/]  {bar(len(done), total)}  {len(done)}/{total} katas done")
    table = Table(show_edge=False, box=None, padding=(0, 2))
    for column in ("track", "done", "", "next in this track"):
        table.add_column(column)
    for track in ctx.curriculum.tracks:
        katas = ctx.curriculum.in_track(track)
        finished = sum(1 for k in katas if k.id in done)
        pending = next((k for k in katas if k.id not in done), None)
        table.add_row(
            f"{track.number:>2} {track.name}",
            f"{finished}/{len(katas)}",
            bar(finished, len(katas), 10),
            f"{pending.number} {escape(pending.title)}" if pending else "[green]done[/]",
        )
    console.print(table)
    nxt = progress.next_kata(ctx.curriculum)
    if nxt is None:
        console.print("\n[bold green]Every kata is done.[/]")
        return 0
    entry = progress.entry(nxt.id)
    state = entry.get("state", "not started")
    streak = entry.get("streak", 0)
    console.print(
        f"\n[bold]next[/]  kata {nxt.number}  {escape(nxt.title)}   {_state_text(state)}"
        + (f"  ({streak} failing attempt{'s' if streak != 1 else ''} in a row)" if streak else "")
    )
    console.print(f"      edit katas/{nxt.path}, {nxt.target}")
    console.print("      run `pytest` (or `kata watch`); `kata hint` for a hint")
    _room_line(ctx, ask_queue=True)
    return 0


def _room_line(ctx: Context, ask_queue: bool = False) -> None:
    """The room this checkout joined, its rotation timer (as cached), and with ``ask_queue`` the hand's place."""
    from ..room.client import membership, queue_place, status_line

    member = membership(ctx.root)
    if member is None:
        return
    ctx.console.print(f"\n{escape(status_line(member))}")
    place = queue_place(member) if ask_queue else None
    if place is not None:
        ctx.console.print(f"room  your hand is up: number {place} in the help queue")


def cmd_help(ctx: Context, args: argparse.Namespace) -> int:
    """``kata help "message"``: raise a hand in the room's help queue."""
    from ..room import client

    try:
        hand = client.raise_hand(ctx.root, " ".join(args.message))
    except client.RoomError as error:
        raise CliError(str(error)) from None
    ctx.console.print(
        f"your hand is up: number {hand['place']} in the help queue"
        + (f" of {hand['of']}" if isinstance(hand.get("of"), int) else "")
        + ". The facilitator sees your kata, your last failure and your message. "
        "`kata status` shows your place."
    )
    return 0


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    progress = ctx.progress()
    table = Table(title="Neural Katas: every kata", box=None, padding=(0, 1))
    # Below 120 columns the id and the last run give way, so that titles stay readable.
    wide = ctx.console.width >= 120
    columns = ("kata", "id", "title", "state", "checks", "last run") if wide else ("kata", "title", "state", "checks")
    for column in columns:
        table.add_column(column, no_wrap=column != "title", min_width=24 if column == "title" else None)
    katas = ctx.curriculum.katas
    if args.track:
        track = _track(ctx, args.track)
        katas = ctx.curriculum.in_track(track)
    nxt = progress.next_kata(ctx.curriculum)
    for kata in katas:
        entry = progress.entry(kata.id)
        marker = "→ " if nxt is not None and kata.id == nxt.id else "  "
        cells = {
            "kata": marker + kata.number,
            "id": kata.id,
            "title": escape(kata.title),
            "state": _state_text(entry.get("state", "not started")),
            "checks": entry.get("checks", ""),
            "last run": str(entry.get("last_run", ""))[:16].replace("T", " "),
        }
        table.add_row(*(cells[column] for column in columns))
    ctx.console.print(table)
    if not wide:
        ctx.console.print("[dim](a wider terminal, 120 columns or more, also shows each kata's id and last run)[/]")
    return 0


def _track(ctx: Context, key: str):
    try:
        return ctx.curriculum.track(int(key) if key.isdigit() else key)
    except KeyError as error:
        raise CliError(error.args[0]) from None


def cmd_hint(ctx: Context, args: argparse.Namespace) -> int:
    progress = ctx.progress()
    kata = ctx.kata(args.kata) if args.kata else progress.next_kata(ctx.curriculum)
    if kata is None:
        ctx.console.print("[green]Every kata is done: no hints needed.[/]")
        return 0
    before = progress.hint_level(kata)
    level = progress.reveal_hint(kata)
    try:
        progress.save()
    except ProgressError as error:
        raise CliError(f"the hint is not saved: {error}") from None
    console = ctx.console
    console.print(f"[bold]kata {kata.number}  {escape(kata.title)}[/]   (katas/{kata.path}, {kata.target})")
    hints = Table.grid(padding=(0, 2))
    hints.add_column(no_wrap=True)
    hints.add_column()
    for index in range(level + 1):
        style = "bold cyan" if index == level else "dim"
        hints.add_row(
            f"  [{style}]hint {index + 1} of {len(kata.hints)}[/]",
            f"[{style}]{escape(kata.hints[index])}[/]" if index < level else escape(kata.hints[index]),
        )
    console.print(hints)
    if level == before == len(kata.hints) - 1:
        console.print(
            f"\nThat was the last hint. Still stuck? `kata solution {kata.number} --force` "
            f"shows the answer key's version."
        )
    console.print(f"[dim]  (hint saved in {escape(str(ctx.root))}/.katas/progress.json)[/]", soft_wrap=True)
    return 0


def cmd_watch(ctx: Context, args: argparse.Namespace) -> int:
    from .rerun import WarmPytest
    from .watch import Watcher

    console = ctx.console
    extra = [a for a in args.pytest_args if a != "--"]
    watcher = Watcher(
        ctx.root / "katas", poll=args.poll, interval=args.interval, say=lambda text: console.print(f"[yellow]{text}[/]")
    )
    # Each rerun is a copy of this process with pytest and NumPy loaded, not a fresh Python.
    runner = WarmPytest(ctx.root)
    try:
        code = runner.run(*extra)
        while True:
            console.print(f"\n[dim]watching katas/ ({watcher.mode}); save a file to rerun, Ctrl-C to stop[/]")
            changed = watcher.wait(timeout=args.timeout)
            if changed is None:
                console.print(f"no change within {args.timeout:g} s: stopping.")
                return 2 if args.once else code
            if console.is_terminal and not args.once:
                console.clear()
            names = ", ".join(Path(p).name for p in changed)
            console.print(f"[bold]changed:[/] {names}: running the kata tests again")
            code = runner.run(*extra)
            if args.once:
                return code
    except KeyboardInterrupt:
        console.print("\nstopped watching.")
        return 0
    finally:
        watcher.stop()


def cmd_track(ctx: Context, args: argparse.Namespace) -> int:
    track = _track(ctx, args.track)
    return ctx.pytest("--track", str(track.number), *[a for a in args.pytest_args if a != "--"])


def cmd_reset(ctx: Context, args: argparse.Namespace) -> int:
    from .workspace import WorkspaceError, reset

    kata = ctx.kata(args.kata)
    try:
        change = reset(ctx.root, ctx.curriculum, kata)
    except WorkspaceError as error:
        raise CliError(str(error)) from None
    if change.backup is None:
        ctx.console.print(
            f"kata {kata.number} {escape(kata.title)}: {change.note} (katas/{kata.path} in {escape(str(ctx.root))})",
            soft_wrap=True,
        )
        return 0
    if change.problem:
        ctx.console.print(
            f"kata {kata.number} {escape(kata.title)}: [bold]{kata.target}[/] in katas/{kata.path} "
            f"is back to its stub, but [bold red]{escape(change.problem)}[/]",
            soft_wrap=True,
        )
    else:
        ctx.console.print(
            f"kata {kata.number} {escape(kata.title)}: [bold]{kata.target}[/] in katas/{kata.path} "
            f"is the original stub again."
        )
    ctx.console.print(f"  your previous file is saved as {change.backup.relative_to(ctx.root)}")
    ctx.changed(f"katas/{kata.path}")
    if change.note:
        ctx.console.print(f"  [yellow]{escape(change.note)}[/]", soft_wrap=True)
    return 1 if change.problem else 0


def cmd_solution(ctx: Context, args: argparse.Namespace) -> int:
    from .workspace import WorkspaceError, solution_text

    kata = ctx.kata(args.kata)
    state = ctx.progress().state(kata.id)
    if state not in DONE_STATES and not args.force:
        if sys.stdin.isatty():
            answer = ctx.console.input(
                f"kata {kata.number} does not pass yet ({state}). Seeing the answer ends the "
                f"puzzle. Type [bold]show[/] to see it anyway: "
            )
            if answer.strip().lower() != "show":
                ctx.console.print("Not shown. `kata hint` gives the next hint instead.")
                return 1
        else:
            ctx.console.print(
                f"kata {kata.number} does not pass yet ({state}): the answer key is shown once it "
                f"passes.\nTry `kata hint`, or `kata solution {kata.number} --force` to see it anyway."
            )
            return 1
    try:
        text = solution_text(ctx.root, kata, ctx.curriculum)
    except WorkspaceError as error:
        raise CliError(str(error)) from None
    ctx.console.print(
        Panel(
            Syntax(text, "python", line_numbers=False, word_wrap=True),
            title=f"kata {kata.number} {escape(kata.title)}: solutions/{kata.path}",
            expand=False,
        )
    )
    return 0


def cmd_gpu_picture(ctx: Context, args: argparse.Namespace) -> int:
    """Run a gpu kata's tests with pictures on: which thread touched which element, for its small case."""
    import os

    kata = ctx.kata(args.kata)
    if kata.module != "gpu":
        raise CliError(f"{kata.id} is not a GPU kernel kata: pictures are drawn for the gpu track")
    os.environ["KATAS_GPU_PICTURE"] = "1"
    code = ctx.pytest("--kata", kata.id, *(["--impl", args.impl] if args.impl else []))
    picture = ctx.root / ".katas" / "gpu" / f"{kata.id}.png"
    if picture.exists():
        ctx.console.print(f"picture: {picture.relative_to(ctx.root)}")
    else:
        ctx.console.print("no picture: the kata did not run a kernel (not started?)")
    return code


def cmd_bench(ctx: Context, args: argparse.Namespace) -> int:
    try:
        from .. import bench
    except ImportError as error:
        raise CliError(
            f"the benchmark tool (dojo.bench) could not be imported ({error}), so `kata bench` cannot run here"
        ) from None
    result = bench.main([a for a in args.bench_args if a != "--"])
    return int(result or 0)


class _WarmProgress:
    """A pytest plugin that moves a rich progress bar: one step per kata test."""

    def __init__(self, bar, task):
        self.bar, self.task = bar, task

    def pytest_collection_finish(self, session) -> None:
        self.bar.update(self.task, total=len(session.items), description="computing")

    def pytest_runtest_logfinish(self, nodeid: str, location) -> None:
        self.bar.update(self.task, advance=1, description=nodeid.split("::")[0].rsplit("/", 1)[-1])


def cmd_warm(ctx: Context, args: argparse.Namespace) -> int:
    import contextlib
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..refcache import warmup
    from ..refcache.store import Store, cache_folder
    from . import warm_summary

    console = ctx.console
    lock = warmup.WarmLock(ctx.root)
    if not lock.acquire():
        console.print(
            f"A warm-up is already running in the background (PID {lock.holder()}, log "
            f"{warmup.state_dir(ctx.root).name}/{warmup.LOG_NAME}); waiting for it to finish first."
        )
        while not lock.acquire():
            time.sleep(1)
    log_path = warmup.state_dir(ctx.root) / warmup.LOG_NAME
    console.print(
        "Computing every expected value of the course with TensorFlow (the answer key's run of "
        "every kata test); values already in the reference cache are read back."
    )
    store = Store(cache_folder())
    before = store.size()
    started = time.perf_counter()
    columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    extra = ["--capture=sys"] + (["--fresh-reference"] if args.fresh else [])
    # The bar writes to the terminal; pytest's own output goes to the log.
    with open(log_path, "w") as log, Progress(*columns, console=Console(file=sys.stdout)) as bar:
        plugin = _WarmProgress(bar, bar.add_task("collecting", total=None))
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                code = warmup.run(ctx.root, plugins=[plugin], extra=extra, lock=lock)
        except KeyboardInterrupt:  # a second Ctrl-C while pytest was finishing
            code = warm_summary.INTERRUPTED
    interrupted = code == warm_summary.INTERRUPTED
    console.print(
        warm_summary.summary(before, store.size(), time.perf_counter() - started, interrupted)
        + f" pytest's output: {log_path.relative_to(ctx.root)}"
    )
    if interrupted:
        return 130  # the shell's status for Ctrl-C
    if code not in (0, None):
        console.print(f"[yellow]The answer key's run ended with exit code {code}: see the log.[/]")
    return 0 if code in (0, None) else 1


def _minutes(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return "?"
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def cmd_stop(ctx: Context, args: argparse.Namespace) -> int:
    """End what runs in the background for this checkout: the reference daemon, and a warm-up if one runs."""
    from ..refcache import daemon_client, warmup

    stopped = []
    said = daemon_client.stop(ctx.root)
    if said is not None:
        served = said.get("served")
        stopped.append(
            f"the reference daemon (pid {said.get('pid')}, up {_minutes(said.get('up'))}"
            + (
                f", {served} value{'s' if served != 1 else ''} computed)"
                if isinstance(served, int)
                else ", not answering: sent SIGTERM)"
            )
        )
    if args.warm_up:
        pid = warmup.stop(ctx.root)
        if pid is not None:
            stopped.append(f"the background warm-up (pid {pid})")
    if not stopped:
        ctx.console.print(
            "Nothing was running for this checkout: no reference daemon" + (", no warm-up." if args.warm_up else "."),
            soft_wrap=True,
        )
    else:
        ctx.console.print(f"Stopped {' and '.join(stopped)}.", soft_wrap=True)
    return 0


def cmd_catch_up(ctx: Context, args: argparse.Namespace) -> int:
    from .workspace import WorkspaceError, catch_up

    key = args.kata
    is_track = key.isdigit() or any(key in (t.module, t.name.lower()) for t in ctx.curriculum.tracks)
    if is_track and key not in ctx.curriculum.by_id:  # a track: catch up to its first kata
        katas = ctx.curriculum.in_track(_track(ctx, key))
        if not katas:
            raise CliError(f"track {key} has no katas")
        start = katas[0]
    else:
        start = ctx.kata(key)
    try:
        changes = catch_up(ctx.root, ctx.curriculum, start, overwrite=args.overwrite)
    except WorkspaceError as error:
        raise CliError(str(error)) from None
    if not changes:
        ctx.console.print(f"Nothing to fill in: every kata before {start.number} is done or already the answer key.")
        return 0
    for change in changes:
        ctx.console.print(
            f"  filled in kata {change.kata.number} {escape(change.kata.title)} ({change.kata.target})"
            + (f"  [yellow]{escape(change.note)}[/]" if change.note else "")
        )
    for copy in sorted({str(c.backup.relative_to(ctx.root)) for c in changes}):
        ctx.console.print(f"  backup: {copy}")
    ctx.changed(", ".join(sorted({str(c.path.relative_to(ctx.root)) for c in changes})))
    ctx.console.print(f"\nYou can start at kata {start.number} {escape(start.title)}: run `pytest`.")
    return 0


def cmd_workshop(ctx: Context, args: argparse.Namespace) -> int:
    settings = progress_module.workshop_settings(ctx.root)
    if args.switch in ("on", "off"):
        settings["pair_prompts"] = args.switch == "on"
    if args.name:
        settings["name"] = args.name
    if args.switch in ("on", "off") or args.name:
        try:
            progress_module.save_workshop_settings(ctx.root, settings)
        except ProgressError as error:
            raise CliError(str(error)) from None
        ctx.changed(".katas/workshop.json")
    state = "on" if settings["pair_prompts"] else "off"
    ctx.console.print(
        f"workshop mode is [bold]{state}[/]"
        + (f" (pair: {settings['name']})" if settings.get("name") else "")
        + (
            ": after each kata passed, pytest prompts the pair to swap driver and navigator."
            if settings["pair_prompts"]
            else "."
        )
    )
    _room_line(ctx)
    return 0


def cmd_export(ctx: Context, args: argparse.Namespace) -> int:
    name = args.name or progress_module.workshop_settings(ctx.root).get("name")
    if not name:
        raise CliError('give the pair a name: kata progress --export --name "Ana & Ben"')
    folder = (Path(args.out) if args.out else Path.cwd()).absolute()
    try:
        json_path, md_path = progress_module.write_export(ctx.progress(), ctx.curriculum, name, folder)
    except ProgressError as error:
        raise CliError(str(error)) from None
    ctx.console.print(f"wrote {json_path} and {md_path}: hand the .json to your facilitator.")
    return 0


def cmd_board(ctx: Context | None, args: argparse.Namespace, console: Console) -> int:
    from ..course.board import BoardError, show

    png = None if args.no_png else Path(args.png)
    try:
        return show([Path(p) for p in args.files], png, console)
    except BoardError as error:
        raise CliError(str(error)) from None


def cmd_room(ctx: Context | None, args: argparse.Namespace, console: Console) -> int:
    from ..room import client

    if args.action == "serve":
        return _room_serve(args, console)
    if args.action == "report":
        return _room_report(args, console)
    ctx = Context(console)
    if args.action == "join":
        name = args.name or progress_module.workshop_settings(ctx.root).get("name")
        if not name:
            raise CliError('give the pair a name: kata room join URL CODE --name "Ana & Ben"')
        try:
            member = client.join(ctx.root, args.url, args.code, name)
        except client.RoomError as error:
            raise CliError(str(error)) from None
        settings = progress_module.workshop_settings(ctx.root)
        if not settings.get("name"):
            settings["name"] = member["name"]
            progress_module.save_workshop_settings(ctx.root, settings)
        console.print(
            f"joined the room at [bold]{escape(member['url'])}[/] as [bold]{escape(member['name'])}[/]: "
            f"each `pytest` run now posts your kata states there (never your code)."
        )
        console.print(escape(client.status_line(member)))
        return 0
    if args.action == "leave":
        left = client.leave(ctx.root)
        console.print(
            f"left the room at {escape(left['url'])}: runs are no longer posted." if left else "not in a room."
        )
        return 0
    member = client.membership(ctx.root)
    if member is None:
        console.print('not in a room: `kata room join URL CODE --name "Ana & Ben"` (the facilitator has URL and CODE)')
        return 0
    _room_line(ctx, ask_queue=True)
    return 0


def _room_report(args: argparse.Namespace, console: Console) -> int:
    """``kata room report A.sqlite B.sqlite``: the per-kata report of several workshops, merged."""
    import sqlite3

    from ..files import write_atomic
    from ..room import analysis

    paths = [Path(p) for p in args.databases]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise CliError(f"no such file: {', '.join(missing)} (give the rooms' room.sqlite or exports/room-*.sqlite)")
    try:
        curriculum = load(find_root() / "curriculum")
    except CurriculumError as error:
        raise CliError(f"the curriculum does not load: {error}") from None
    try:
        report = analysis.from_files(paths, curriculum)
    except sqlite3.Error as error:
        raise CliError(f"cannot read the rooms' databases ({error}): are they room.sqlite files?") from None
    out = Path(args.out).absolute()
    write_atomic(out / "katas.html", analysis.as_html(report))
    write_atomic(out / "katas.csv", analysis.as_csv(report))
    console.print(
        f"{len(report['katas'])} katas, {report['pairs']} pairs in {report['workshops']} workshops: "
        f"wrote {escape(str(out / 'katas.html'))} and katas.csv",
        soft_wrap=True,
    )
    return 0


def _room_serve(args: argparse.Namespace, console: Console) -> int:
    try:
        from ..room.board import Settings
        from ..room.server import PortBusy, RoomConfig, StateInUse, serve
    except ImportError as error:
        raise CliError(f"the room server needs starlette and uvicorn ({error}): pip install -e .") from None
    from ..room.address import lan_address

    root = find_root()
    state_dir = Path(args.state_dir) if args.state_dir else root / ".katas" / "room"
    try:
        curriculum = load(root / "curriculum")
    except CurriculumError as error:
        raise CliError(f"the curriculum does not load: {error}") from None
    settings = Settings(
        stuck_runs=args.stuck_runs,
        stuck_minutes=args.stuck_minutes,
        mistake_minutes=args.mistake_minutes,
        rotate_minutes=args.rotate_minutes,
        quiet_minutes=args.quiet_minutes,
        silent_minutes=args.silent_minutes,
        hide_names=args.hide_names,
    )
    host = lan_address() if args.host in ("0.0.0.0", "::") else args.host
    url = f"http://{host}:{args.port}"

    def ready(secrets) -> None:
        lines = [
            f"[bold]Neural Katas room[/] on {escape(url)}   (state in {escape(str(state_dir))})",
            f"  join code    [bold]{secrets.code}[/]",
            f'  pairs run    kata room join {escape(url)} {secrets.code} --name "Ana & Ben"',
            f"  the board    {escape(url)}/board?code={secrets.code}   (project it)",
            f"  admin token  {secrets.admin_token}   (keep it to yourself)",
            f"  your view    {escape(url)}/admin?token={secrets.admin_token}   (help queue, controls; not projected)",
            f"  export       curl -H 'Authorization: Bearer {secrets.admin_token}' {escape(url)}/admin/export.csv"
            f"   (.json, .png, .katas.html, .katas.csv; also written when the server stops)",
            "  [dim]Ctrl-C stops the server.[/]",
        ]
        for line in lines:
            console.print(line, soft_wrap=True)

    def stopped(paths) -> None:
        console.print("room stopped; the session is in " + ", ".join(escape(str(p)) for p in paths), soft_wrap=True)

    config = RoomConfig(curriculum=curriculum, state_dir=state_dir, settings=settings, trust_proxy=args.trust_proxy)
    try:
        serve(config, args.host, args.port, on_ready=ready, on_stop=stopped)
    except PortBusy as error:
        raise CliError(f"{error}: is a room already running? Stop it, or give --port another number") from None
    except StateInUse as error:
        raise CliError(f"{error}: stop that server first, or give --state-dir another folder") from None
    return 0


# ------------------------------------------------------------------ parser


def cmd_dev(ctx: Context, args: argparse.Namespace) -> int:
    """``kata dev check``: the course's structure (for contributors), without TensorFlow."""
    if args.action == "notebooks":
        from ..notebook import generate

        changed = generate.write(ctx.root)
        for path in changed:
            ctx.changed(str(path.relative_to(ctx.root)))
        ctx.console.print(
            f"{len(changed)} notebook{'s' if len(changed) != 1 else ''} written; the others were up to date"
        )
        return 0
    from .devcheck import check

    problems = check(ctx.root)
    for problem in problems:
        ctx.console.print(escape(str(problem)), soft_wrap=True)
    if problems:
        ctx.console.print(
            f"[bold red]{len(problems)} problem{'s' if len(problems) != 1 else ''}[/] in the course "
            f"structure (docs/CONTRIBUTING.md says how a kata is laid out)"
        )
        return 1
    katas, tracks = len(ctx.curriculum.katas), len(ctx.curriculum.tracks)
    ctx.console.print(
        f"[green]course structure OK[/]: {katas} katas in {tracks} tracks, each with its stub, answer, "
        f"tests, mutants and alternatives"
    )
    return 0


def parser() -> argparse.ArgumentParser:
    """Every verb of ``kata`` with its arguments.

    Longer than 60 lines on purpose: it is a declaration, one table of the
    command's verbs read top to bottom in the order ``kata --help`` lists them.
    Cut into pieces, a reader would hunt through several functions to learn
    what the command offers; each verb's work lives in its own ``cmd_*``.
    """
    main = argparse.ArgumentParser(
        prog="kata",
        description="Neural Katas: progress, hints, watch mode, "
        "workshop tools. `pytest` runs the katas; this tool helps around it.",
    )
    verbs = main.add_subparsers(dest="verb", metavar="VERB")

    def verb(name: str, handler, text: str, aliases=()):
        sub = verbs.add_parser(name, help=text, description=text, aliases=list(aliases))
        sub.set_defaults(handler=handler)
        return sub

    for name in ("status", "progress"):
        sub = verb(
            name,
            cmd_status,
            "progress by track, and the next kata"
            if name == "status"
            else "progress (like status); --export writes JSON and Markdown for the facilitator",
        )
        sub.add_argument("--export", action="store_true", help="write progress-<name>.json and .md")
        sub.add_argument("--name", help="pair names for the export, e.g. 'Ana & Ben'")
        sub.add_argument("--out", help="folder for the export (default: the current folder)")
    sub = verb("list", cmd_list, "every kata and its state")
    sub.add_argument("--track", help="only this track")
    sub = verb("hint", cmd_hint, "reveal the next hint for the current kata (or KATA)")
    sub.add_argument("kata", nargs="?", help="kata number or id (default: the current kata)")
    sub = verb("help", cmd_help, 'in a room: raise a hand, e.g. kata help "our shapes never match"')
    sub.add_argument("message", nargs="+", help="what you need, in a few words")
    sub = verb("watch", cmd_watch, "rerun the next kata every time a file in katas/ is saved")
    sub.add_argument("--poll", action="store_true", help="poll modification times instead of file events")
    sub.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    sub.add_argument("--once", action="store_true", help="stop after the first rerun (exit code: pytest's)")
    sub.add_argument("--timeout", type=float, default=None, help="stop after this many seconds without a change")
    sub.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments after --")
    sub = verb("track", cmd_track, "run one track alone; earlier tracks count as done")
    sub.add_argument("track", help="track number or module name")
    sub.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments")
    sub = verb("reset", cmd_reset, "restore the kata's stub (a backup of your file goes to .katas/backups/)")
    sub.add_argument("kata", help="kata number or id")
    from .history import cmd_history, cmd_restore

    sub = verb("history", cmd_history, "the copies of your files that every run keeps (.katas/history/)")
    sub.add_argument("file", nargs="?", help="only this file, e.g. katas/neuron.py")
    sub = verb("restore", cmd_restore, "bring back a kept copy of a file in katas/ (the newest sound one by default)")
    sub.add_argument("file", help="the file, e.g. katas/neuron.py")
    sub.add_argument("when", nargs="?", help="which copy: its time as `kata history` lists it (or its start)")
    sub = verb("doctor", None, "check the install, katas/, .katas/ and the room; repair what is safe to repair")
    sub.add_argument("--import", dest="do_import", action="store_true", help="also import NumPy, TensorFlow and Keras")
    sub = verb("solution", cmd_solution, "show the answer key's version of a kata once it passes")
    sub.add_argument("kata", help="kata number or id")
    sub.add_argument("--force", action="store_true", help="show it even though the kata does not pass yet")
    sub = verb(
        "gpu-picture",
        cmd_gpu_picture,
        "draw which GPU thread touched which element for a gpu kata's small case (.katas/gpu/KATA.png)",
    )
    sub.add_argument("kata", help="kata number or id, e.g. gpu.relu")
    sub.add_argument("--impl", default=None, help="implementation folder (default: katas/)")
    sub = verb("bench", cmd_bench, "benchmarks: your code against the answer key, GPU kernels and TensorFlow")
    sub.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments for dojo.bench")
    sub = verb(
        "warm",
        cmd_warm,
        "compute every expected value of the course now, so that no kata waits "
        "for TensorFlow (a workshop's setup step)",
    )
    sub.add_argument("--fresh", action="store_true", help="recompute every value live and refresh the cache")
    sub = verb(
        "stop",
        cmd_stop,
        "end this checkout's reference daemon (TensorFlow, kept up between runs; it ends by itself after "
        "10 idle minutes)",
    )
    sub.add_argument("--warm-up", action="store_true", help="also end a background warm-up that is running")
    sub = verb("catch-up", cmd_catch_up, "fill in the answer key for every kata before KATA (or track N)")
    sub.add_argument("kata", help="a kata (8.2, conv.im2col) or a track number (8: up to its first kata)")
    sub.add_argument("--overwrite", action="store_true", help="also replace katas you already passed")
    sub = verb("workshop", cmd_workshop, "workshop mode: pair prompts after each kata passed")
    sub.add_argument("switch", nargs="?", choices=["on", "off"], help="on or off (default: show)")
    sub.add_argument("--name", help="the pair's names, used by `kata progress --export`")
    sub = verb(
        "dev",
        cmd_dev,
        "for contributors: `kata dev check` proves the course's structure in seconds; `kata dev notebooks` writes the notebooks",
    )
    sub.add_argument(
        "action",
        choices=["check", "notebooks"],
        help="check: manifest, stubs, answer key, tests, mutants, docs, notebooks; "
        "notebooks: write notebooks/<track>.ipynb from the course",
    )
    sub = verb("board", None, "the room's progress board from several exports (table and PNG)")
    sub.add_argument("files", nargs="+", help="progress-*.json files from `kata progress --export`")
    sub.add_argument("--png", default="progress-board.png", help="where to draw the board")
    sub.add_argument("--no-png", action="store_true", help="only print the table")
    room = verb("room", None, "the live room: a web board on the workshop network (serve), pairs post to it (join)")
    _room_actions(room)
    return main


def _room_actions(room: argparse.ArgumentParser) -> None:
    """``kata room serve|join|leave|status|report`` and their options."""
    actions = room.add_subparsers(dest="action", metavar="ACTION")
    serve = actions.add_parser(
        "serve",
        help="the facilitator's live board",
        description="Serve the live board on the workshop network; prints the URL, the join code and the admin token.",
    )
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default: every interface)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    serve.add_argument("--stuck-runs", type=int, default=5, help="stuck after this many failing runs (default 5)")
    serve.add_argument("--stuck-minutes", type=float, default=10, help="or after this long failing (default 10)")
    serve.add_argument(
        "--mistake-minutes",
        type=float,
        default=10,
        help="the mistakes panel counts this many minutes back (default 10)",
    )
    serve.add_argument(
        "--rotate-minutes",
        type=float,
        default=10,
        help="driver/navigator swap every this many minutes (default 10; 0: no timer)",
    )
    serve.add_argument("--quiet-minutes", type=float, default=10, help="a pair silent this long is greyed (10)")
    serve.add_argument(
        "--silent-minutes",
        type=float,
        default=5,
        help="a pair stuck this long without `kata help` is flagged a silent hand (default 5)",
    )
    serve.add_argument(
        "--hide-names", action="store_true", help="the projected board shows no name next to STUCK (also in /admin)"
    )
    serve.add_argument(
        "--trust-proxy",
        action="store_true",
        help="take the client's address from X-Forwarded-For (only behind your own proxy on this machine)",
    )
    serve.add_argument("--state-dir", help="where the database, the secrets and the exports live (default .katas/room)")
    join = actions.add_parser(
        "join",
        help="post each pytest run to the room",
        description="Join the room: each pytest run on katas/ then posts the pair's kata states (never code).",
    )
    join.add_argument("url", help="the room's URL, as printed by `kata room serve`")
    join.add_argument("code", help="the join code")
    join.add_argument("--name", help="the pair's names, e.g. 'Ana & Ben' (default: kata workshop --name)")
    actions.add_parser("leave", help="stop posting to the room")
    report = actions.add_parser(
        "report",
        help="what several workshops learned about each kata",
        description="Merge rooms' databases (room.sqlite, or exports/room-*.sqlite) into katas.html and katas.csv.",
    )
    report.add_argument("databases", nargs="+", help="the rooms' SQLite files")
    report.add_argument("--out", default=".", help="folder for katas.html and katas.csv (default: here)")
    actions.add_parser("status", help="the room this checkout joined")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # everything after `bench` belongs to dojo.bench, options included
        args = argparse.Namespace(verb="bench", handler=cmd_bench, bench_args=argv[1:])
    else:
        args = parser().parse_args(argv)
    console = _console()
    try:
        if args.verb == "board":  # works anywhere: a facilitator needs no checkout
            return cmd_board(None, args, console)
        if args.verb == "room":
            return cmd_room(None, args, console)
        if args.verb == "doctor":  # works where the curriculum does not load: that is one of its findings
            from .doctor import cmd_doctor

            return cmd_doctor(console, args)
        ctx = Context(console)
        handler = getattr(args, "handler", None) or cmd_status
        if args.verb is None:
            args.export = False
        return handler(ctx, args)
    except CliError as error:
        return _say_error(console, str(error), 2)
    except KeyboardInterrupt:
        return _say_error(console, "stopped (Ctrl-C)", 130)
    except BrokenPipeError:  # output piped into `head`, which has gone: nothing more to say
        return 1
    except Exception as error:
        if os.environ.get("KATA_DEBUG"):
            traceback.print_exc()
        frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
        where = f" (at {Path(frame.filename).name}, line {frame.lineno})" if frame else ""
        verb = getattr(args, "verb", None) or "status"
        return _say_error(
            console,
            f"`kata {verb}` stopped on an unexpected error: {type(error).__name__}: "
            f"{error}{where}; {REPORT_TO}. KATA_DEBUG=1 shows the traceback.",
            3,
        )


def _console() -> Console:
    """Rich's console on stdout; on stderr where stdout is closed (``kata status >&-``)."""
    out = sys.stdout if sys.stdout is not None and not getattr(sys.stdout, "closed", False) else sys.stderr
    try:
        terminal = out is not None and out.isatty()
    except (OSError, ValueError):
        terminal = False
    # Piped output (a log, a test) gets a fixed width instead of rich's 80 columns.
    width = None if terminal or os.environ.get("COLUMNS") else 100
    return Console(highlight=False, width=width, file=out if out is not None else open(os.devnull, "w"))


def _say_error(console: Console, line: str, code: int) -> int:
    """Print one error line; if stdout itself is broken, on stderr; never raise."""
    line = " ".join(line.split("\n"))
    try:
        console.print(f"[bold red]kata:[/] {escape(line)}", soft_wrap=True)
    except Exception:
        try:
            print(f"kata: {line}", file=sys.__stderr__, flush=True)
        except Exception:
            pass
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
