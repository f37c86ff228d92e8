"""The README's test command, several times in a row, with every core kept busy (not a test).

    python benchmarks/loaded_suite.py [--runs 3] [--busy 2] [--against CHECKOUT] [-- PYTEST ARGS]

Starts ``--busy`` background busy loops (default: one per core), each a
Python process spinning at the same priority as the suite, then runs
``pytest tests --impl solutions --all -n auto`` (the README's command; or the
pytest arguments after ``--``) ``--runs`` times in a row, and stops the loops.
It prints each run's exit status, wall time and summary line, and exits 1 if
any run failed: a test whose verdict depends on the machine's speed shows up
here as a failure that a quiet machine never gives.

``--against CHECKOUT`` times another checkout of the course (a ``git
worktree`` of main, say) side by side with this one: the runs alternate, this
one then that one, ``--runs`` times each, and the last line gives both medians
and their ratio. On a shared machine whose speed drifts by a fifth or more within
a few hours, that ratio is the figure that says whether a change made the suite
slower; two medians taken an hour apart do not. Each run imports ``dojo`` from
its own checkout, its subprocesses too (``PYTHONPATH``), so the pair times
the two versions of the harness, not the one installed.

Examples::

    python benchmarks/loaded_suite.py                      # the whole suite, three times, loaded
    python benchmarks/loaded_suite.py -- tests/selftest/test_isolation.py -p no:randomly
    python benchmarks/loaded_suite.py --busy 0             # the suite's time on a quiet machine: median of three
    python benchmarks/loaded_suite.py --busy 0 --against ../main   # this change against main, alternating
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README_COMMAND = ["tests", "--impl", "solutions", "--all", "-n", "auto"]
BUSY_LOOP = "while True:\n    pass\n"


def start_busy_loops(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(count)]


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.kill()
    for process in processes:
        process.wait()


def summary_line(output: str) -> str:
    """pytest's last line ("12 passed, 3 deselected in 4.56s"), wherever the run's own report put it."""
    lines = [
        line for line in output.splitlines() if re.search(r"\b(passed|failed|errors?|deselected|skipped)\b.* in ", line)
    ]
    return lines[-1].strip(" =") if lines else "(no summary line: -q given twice hides it; the exit status speaks)"


def run_suite(pytest_args: list[str], checkout: Path = ROOT, own_path: bool = False) -> tuple[int, float, str]:
    """One run of pytest in ``checkout``; ``own_path``: its subprocesses import that checkout's ``dojo`` too."""
    environment = dict(os.environ)
    if own_path:
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, (str(checkout), os.environ.get("PYTHONPATH"))))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *pytest_args],
        cwd=checkout,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    output = done.stdout + done.stderr
    if done.returncode != 0:
        failures = [line for line in output.splitlines() if line.startswith(("FAILED", "ERROR"))]
        output = "\n".join(failures) or output[-3000:]
    return done.returncode, seconds, output


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = README_COMMAND
    if "--" in argv:
        cut = argv.index("--")
        argv, pytest_args = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs in a row (default 3)")
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 2, help="busy loops (default: one per core)")
    parser.add_argument("--against", type=Path, help="another checkout, timed side by side with this one")
    args = parser.parse_args(argv)
    checkouts = [ROOT]
    if args.against is not None:
        other = args.against.resolve()
        if other == ROOT:
            parser.error(f"--against {args.against}: that is this checkout; name another (a git worktree of main)")
        if not (other / "dojo").is_dir():
            parser.error(f"--against {args.against}: not another checkout of the course (no dojo/ there)")
        checkouts.append(other)
    print(f"pytest {' '.join(pytest_args)}: {args.runs} runs, {args.busy} busy loops, {os.cpu_count()} cores")
    loops = start_busy_loops(args.busy)
    failed = 0
    times: dict[Path, list[float]] = {checkout: [] for checkout in checkouts}
    try:
        for number in range(1, args.runs + 1):
            for checkout in checkouts:  # alternating: a drift of the machine's speed falls on both
                code, seconds, output = run_suite(pytest_args, checkout, own_path=len(checkouts) > 1)
                failed += code != 0
                times[checkout].append(seconds)
                load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
                where = f" {checkout}" if len(checkouts) > 1 else ""
                print(
                    f"run {number}{where}: exit {code}, {seconds:.0f} s, load {load}: {summary_line(output)}",
                    flush=True,
                )
                if code != 0:
                    print(output)
    finally:
        stop(loops)
    runs = args.runs * len(checkouts)
    medians = {checkout: statistics.median(seconds) for checkout, seconds in times.items()}
    print(f"{runs - failed} of {runs} runs passed ({args.busy} busy loops); median {medians[ROOT]:.0f} s")
    if len(checkouts) > 1:
        other = checkouts[1]
        print(
            f"side by side: this checkout {medians[ROOT]:.1f} s, {other} {medians[other]:.1f} s: "
            f"ratio {medians[ROOT] / medians[other]:.2f}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
