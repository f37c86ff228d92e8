"""How long a learner waits for a verdict, measured side by side in one run (not a test).

    python benchmarks/feedback.py [--repeat 5]

It copies the checkout to a temporary folder (so your own progress is never
touched) and times, each as the median of ``--repeat`` runs, alternating so
that a noisy machine hits every case alike:

* ``bare``: ``pytest --co`` in an empty folder (the floor: pytest itself);
* ``stubs``: ``pytest`` on the fresh stubs (kata 1.1 not started);
* ``failing 1.1, warm``: kata 1.1 written wrongly, every reference cached;
* ``failing 1.1, warm, no sandbox``: the same with ``KATAS_NO_SANDBOX=1``,
  to price the Landlock sandbox;
  ``--sandbox-only`` times just these two;
* ``failing 1.1, warm, no fork``: the same with ``KATAS_IN_PROCESS=1`` (the
  checks in the harness's own process), to price the fork-per-kata runner;
* ``failing 1.1, cold``: the same with the reference cache deleted and the
  reference daemon stopped first (TensorFlow is imported and computes the
  expected values);
* ``new miss, daemon warm``: kata 1.1 wrong, with a new, empty cache of its
  own (every value of the run is new: none on disk, none in the daemon's
  memory), while the checkout's reference daemon is up from an earlier run:
  a later wrong answer that needs new values. Goal: within 2 s of
  ``failing 1.1, warm``;
* ``new miss, no daemon``: the same with ``KATAS_REFERENCE_IDLE=0``: a new
  TensorFlow process for the run, as every run that missed had before the
  daemon;
* ``failing in rnn, warm``: a wrong ``simple_rnn_forward`` after every
  earlier kata (capstones included) passed and was recorded;
* ``watch rerun``: from saving a file under ``kata watch`` to its report;
* ``first answer, 60 s after the stubs``: a fresh copy with an empty cache
  and the warm-up on, as a learner has it: ``pytest`` on the stubs (which
  starts the background warm-up), ``--wait`` seconds (60) of reading the
  kata, then a wrong 1.1; the wrong run is timed, then the warm-up is
  stopped. Goal: at most 1.5x ``failing 1.1, warm``.

``--cases`` picks some (names as printed, separated by ``;``; a name that
is not a case picks the cases it begins, e.g. ``--cases "stubs;first answer"``);
the rnn case needs minutes of preparation (the capstones) and is skipped when
not picked. The learner's own cache is used, never ``KATAS_REFERENCE_CACHE``.
It prints each median and the ratios the feedback issue asks about.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
CACHE = Path(".katas") / "reference-cache"
WRONG_WEIGHTED_SUM = "    return float(sum(inputs))  # wrong on purpose: the weights are missing\n"
WRONG_RNN = "    return np.zeros((x.shape[0], kernel.shape[1]))  # wrong on purpose\n"


def run(args: list[str], cwd: Path, env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=cwd, capture_output=True, env=env, timeout=3600)
    return time.perf_counter() - started


def copy_checkout(target: Path) -> Path:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    subprocess.run(["git", "add", "-A"], cwd=target, check=True)
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "stubs"],
        cwd=target,
        check=True,
    )
    return target


def replace_stub(checkout: Path, module: str, kata_id: str, body: str) -> None:
    path = checkout / "katas" / f"{module}.py"
    text = path.read_text()
    stub = f'    raise NotImplementedError("kata {kata_id}")\n'
    path.write_text(text.replace(stub, body, 1))


def watch_rerun(checkout: Path, env: dict) -> float:
    """Seconds from a save to the end of the rerun that ``kata watch`` starts."""
    watcher = subprocess.Popen(
        [PYTHON, "-m", "dojo", "watch", "--poll", "--interval", "0.05", "--once", "--timeout", "300"],
        cwd=checkout,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    seen = []
    for line in watcher.stdout:
        seen.append(line)
        if "watching katas/" in line:
            break
    time.sleep(0.3)
    target = checkout / "katas" / "neuron.py"
    started = time.perf_counter()
    target.write_text(target.read_text() + "\n")
    watcher.wait(timeout=600)
    elapsed = time.perf_counter() - started
    rest = watcher.stdout.read()
    if "running the kata tests again" not in rest:  # a watcher that died early would time nothing
        raise SystemExit("kata watch did not rerun after the save:\n" + "".join(seen) + rest)
    return elapsed


def stop_warm_up(checkout: Path) -> None:
    """End the checkout's background warm-up (its own session: the whole group) and wait until it is gone."""
    import signal

    lock = checkout / ".katas" / "warm.lock"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        done = subprocess.run(
            [
                PYTHON,
                "-c",
                "import sys; from dojo.refcache.warmup import WarmLock; print(WarmLock(sys.argv[1]).holder())",
                str(checkout),
            ],
            cwd=checkout,
            capture_output=True,
            text=True,
            check=False,
        )
        holder = done.stdout.strip()
        if not lock.exists() or holder in ("None", ""):
            return
        if holder.isdigit():
            try:
                os.killpg(int(holder), signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.2)


def stop_daemon(checkout: Path, env: dict) -> None:
    """`kata stop` in the copy: its reference daemon ends (and the next miss starts TensorFlow anew)."""
    subprocess.run([PYTHON, "-m", "dojo", "stop"], cwd=checkout, env=env, capture_output=True, timeout=600)


def new_miss(checkout: Path, tmp: Path, number: int, env: dict, daemon: bool) -> float:
    """A wrong 1.1 whose every reference value is new: an empty cache folder of its own.

    With ``daemon``, an untimed run (on another new folder, so that the timed run's values are in
    no one's memory) first makes sure the daemon is up, as a learner's earlier run left it.
    """
    if daemon:
        run([PYTHON, "-m", "pytest"], checkout, {**env, "KATAS_REFERENCE_CACHE": str(tmp / f"before-{number}")})
    else:
        env = {**env, "KATAS_REFERENCE_IDLE": "0"}
    folder = tmp / f"miss-{'daemon' if daemon else 'alone'}-{number}"  # never a folder another case filled
    return run([PYTHON, "-m", "pytest"], checkout, {**env, "KATAS_REFERENCE_CACHE": str(folder)})


def first_answer_after_stubs(tmp: Path, number: int, env: dict, wait: float) -> float:
    """Fresh copy, empty cache, warm-up on: stubs, ``wait`` seconds, then the timed wrong 1.1."""
    checkout = copy_checkout(tmp / f"first-{number}")
    learner = {name: value for name, value in env.items() if name != "KATAS_NO_WARMUP"}
    try:
        run([PYTHON, "-m", "pytest"], checkout, learner)  # the stubs: starts the warm-up
        time.sleep(wait)  # the learner reads the kata and writes an answer
        replace_stub(checkout, "neuron", "neuron.weighted_sum", WRONG_WEIGHTED_SUM)
        return run([PYTHON, "-m", "pytest"], checkout, learner)
    finally:
        stop_warm_up(checkout)
        stop_daemon(checkout, env)
        shutil.rmtree(checkout, ignore_errors=True)


CASES = (
    "bare pytest --co",
    "stubs",
    "failing 1.1, warm",
    "failing 1.1, warm, no sandbox",
    "failing 1.1, warm, no fork",
    "failing in rnn, warm",
    "watch rerun",
    "failing 1.1, cold",
    "new miss, daemon warm",
    "new miss, no daemon",
    "first answer, 60 s after the stubs",
)


def _prepare_late(tmp: Path, env: dict) -> Path:
    late = copy_checkout(tmp / "late")
    print("preparing: every kata before rnn.simple_rnn_forward passed once (capstones included) ...", flush=True)
    subprocess.run(
        [PYTHON, "-m", "dojo", "catch-up", "rnn.simple_rnn_forward"], cwd=late, env=env, capture_output=True, check=True
    )
    replace_stub(late, "rnn", "rnn.simple_rnn_forward", WRONG_RNN)
    run([PYTHON, "-m", "pytest"], late, env)  # records the passes (and fills the cache)
    return late


def _ratios(median: dict[str, float]) -> None:
    def ratio(label: str, top: str, bottom: str, goal: str = "") -> None:
        if top in median and bottom in median:
            print(f"{label:<38} {median[top] / median[bottom]:5.2f}x  {goal}".rstrip())

    print()
    ratio("stubs / bare", "stubs", "bare pytest --co", "(goal <= 1.5x)")
    ratio("failing 1.1 warm / stubs", "failing 1.1, warm", "stubs", "(goal <= 1.5x)")
    ratio("failing in rnn warm / stubs", "failing in rnn, warm", "stubs", "(goal <= 1.5x)")
    ratio("failing 1.1 cold / warm", "failing 1.1, cold", "failing 1.1, warm")
    for case in ("new miss, daemon warm", "new miss, no daemon"):
        if case in median and "failing 1.1, warm" in median:
            extra = median[case] - median["failing 1.1, warm"]
            goal = "(goal <= 2 s)" if "warm" in case else ""
            print(f"{case + ' - failing 1.1 warm':<38} {extra:+5.2f} s  {goal}".rstrip())
    ratio("sandbox / no sandbox (warm)", "failing 1.1, warm", "failing 1.1, warm, no sandbox", "(goal <= 1.10x)")
    ratio("fork-per-kata / in-process (warm)", "failing 1.1, warm", "failing 1.1, warm, no fork", "(goal <= 1.2x)")
    ratio(
        "first answer after stubs / warm", "first answer, 60 s after the stubs", "failing 1.1, warm", "(goal <= 1.5x)"
    )
    if "watch rerun" in median:
        print(f"{'watch rerun':<38} {median['watch rerun']:5.2f} s")


def _picked(cases: str, sandbox_only: bool) -> list[str]:
    """The cases to time: all, or those named (a name, else the cases it begins), or the sandbox pair."""
    if sandbox_only:
        return ["failing 1.1, warm", "failing 1.1, warm, no sandbox"]
    wanted = [name.strip() for name in cases.split(";") if name.strip()]
    if not wanted:
        return list(CASES)
    return [c for c in CASES if any(c == w or (w not in CASES and c.startswith(w)) for w in wanted)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--wait", type=float, default=60.0, help="seconds between the stubs and the first answer")
    parser.add_argument("--cases", default="", help="names (or their beginnings) separated by ';' (default: all)")
    parser.add_argument(
        "--sandbox-only", action="store_true", help="only the warm failing kata, with and without the sandbox"
    )
    args = parser.parse_args()
    picked = _picked(args.cases, args.sandbox_only)
    env = {**os.environ, "KATAS_NO_WARMUP": "1", "COLUMNS": "120"}
    env.pop("CI", None)
    env.pop("KATAS_REFERENCE_CACHE", None)  # the learner's own cache in each copy, as on a fresh clone
    # As on a learner's machine: Python keeps compiled bytecode (some CI images turn it off,
    # which makes every run recompile the harness, the checks and pytest's rewritten tests).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        empty = tmp / "empty"
        empty.mkdir()
        fresh = copy_checkout(tmp / "fresh")
        wrong = copy_checkout(tmp / "wrong")
        replace_stub(wrong, "neuron", "neuron.weighted_sum", WRONG_WEIGHTED_SUM)
        late = _prepare_late(tmp, env) if "failing in rnn, warm" in picked else None
        run([PYTHON, "-m", "pytest"], wrong, env)  # fills the cache for kata 1.1
        timed = {
            "bare pytest --co": lambda n: run([PYTHON, "-m", "pytest", "--co", "-q"], empty, env),
            "stubs": lambda n: run([PYTHON, "-m", "pytest"], fresh, env),
            "failing 1.1, warm": lambda n: run([PYTHON, "-m", "pytest"], wrong, env),
            "failing 1.1, warm, no sandbox": lambda n: run(
                [PYTHON, "-m", "pytest"], wrong, {**env, "KATAS_NO_SANDBOX": "1"}
            ),
            "failing 1.1, warm, no fork": lambda n: run(
                [PYTHON, "-m", "pytest"], wrong, {**env, "KATAS_IN_PROCESS": "1"}
            ),
            "failing in rnn, warm": lambda n: run([PYTHON, "-m", "pytest"], late, env),
            "watch rerun": lambda n: watch_rerun(wrong, env),
            "failing 1.1, cold": lambda n: (
                stop_daemon(wrong, env)
                or shutil.rmtree(wrong / CACHE, ignore_errors=True)
                or run([PYTHON, "-m", "pytest"], wrong, env)
            ),
            "new miss, daemon warm": lambda n: new_miss(wrong, tmp, n, env, daemon=True),
            "new miss, no daemon": lambda n: new_miss(wrong, tmp, n, env, daemon=False),
            "first answer, 60 s after the stubs": lambda n: first_answer_after_stubs(tmp, n, env, args.wait),
        }
        for number in range(args.repeat):
            for name in picked:
                times.setdefault(name, []).append(timed[name](number))
            # The cold case emptied the cache: refill it so that the next round's warm cases are warm.
            run([PYTHON, "-m", "pytest"], wrong, env)
        for checkout in (fresh, wrong, late):  # nothing of the benchmark outlives it
            if checkout is not None:
                stop_daemon(checkout, env)
    median = {name: statistics.median(values) for name, values in times.items()}
    for name, value in median.items():
        print(f"{name:<36} {value:6.2f} s   (runs: {', '.join(f'{v:.2f}' for v in times[name])})")
    _ratios(median)
    return 0


if __name__ == "__main__":
    sys.exit(main())
