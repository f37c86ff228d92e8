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
* ``failing 1.1, cold``: the same with the reference cache deleted first
  (TensorFlow is imported and computes the expected values);
* ``failing in rnn, warm``: a wrong ``simple_rnn_forward`` after every
  earlier kata (capstones included) passed and was recorded;
* ``watch rerun``: from saving a file under ``kata watch`` to its report.

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--sandbox-only", action="store_true", help="only the warm failing kata, with and without the sandbox"
    )
    args = parser.parse_args()
    env = {**os.environ, "KATAS_NO_WARMUP": "1", "COLUMNS": "120"}
    env.pop("CI", None)
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
        if args.sandbox_only:
            run([PYTHON, "-m", "pytest"], wrong, env)  # fills the cache for kata 1.1
            for _ in range(args.repeat):
                times.setdefault("failing 1.1, warm", []).append(run([PYTHON, "-m", "pytest"], wrong, env))
                times.setdefault("failing 1.1, warm, no sandbox", []).append(
                    run([PYTHON, "-m", "pytest"], wrong, {**env, "KATAS_NO_SANDBOX": "1"})
                )
            return report_sandbox(times)
        late = copy_checkout(tmp / "late")
        print("preparing: every kata before rnn.simple_rnn_forward passed once (capstones included) ...", flush=True)
        subprocess.run(
            [PYTHON, "-m", "dojo", "catch-up", "rnn.simple_rnn_forward"],
            cwd=late,
            env=env,
            capture_output=True,
            check=True,
        )
        replace_stub(late, "rnn", "rnn.simple_rnn_forward", WRONG_RNN)
        run([PYTHON, "-m", "pytest"], late, env)  # records the passes (and fills the cache)
        run([PYTHON, "-m", "pytest"], wrong, env)  # fills the cache for kata 1.1
        for _ in range(args.repeat):
            times.setdefault("bare pytest --co", []).append(run([PYTHON, "-m", "pytest", "--co", "-q"], empty, env))
            times.setdefault("stubs", []).append(run([PYTHON, "-m", "pytest"], fresh, env))
            times.setdefault("failing 1.1, warm", []).append(run([PYTHON, "-m", "pytest"], wrong, env))
            times.setdefault("failing 1.1, warm, no sandbox", []).append(
                run([PYTHON, "-m", "pytest"], wrong, {**env, "KATAS_NO_SANDBOX": "1"})
            )
            if args.sandbox_only:
                continue
            times.setdefault("failing 1.1, warm, no fork", []).append(
                run([PYTHON, "-m", "pytest"], wrong, {**env, "KATAS_IN_PROCESS": "1"})
            )
            times.setdefault("failing in rnn, warm", []).append(run([PYTHON, "-m", "pytest"], late, env))
            times.setdefault("watch rerun", []).append(watch_rerun(wrong, env))
            shutil.rmtree(wrong / CACHE, ignore_errors=True)
            times.setdefault("failing 1.1, cold", []).append(run([PYTHON, "-m", "pytest"], wrong, env))
    median = {name: statistics.median(values) for name, values in times.items()}
    for name, value in median.items():
        print(f"{name:<24} {value:6.2f} s   (runs: {', '.join(f'{v:.2f}' for v in times[name])})")
    bare, stubs = median["bare pytest --co"], median["stubs"]
    print(f"\nstubs / bare                       {stubs / bare:5.2f}x  (goal <= 1.5x)")
    print(f"failing 1.1 warm / stubs           {median['failing 1.1, warm'] / stubs:5.2f}x  (goal <= 1.5x)")
    print(f"failing in rnn warm / stubs        {median['failing in rnn, warm'] / stubs:5.2f}x  (goal <= 1.5x)")
    print(f"failing 1.1 cold / warm            {median['failing 1.1, cold'] / median['failing 1.1, warm']:5.2f}x")
    print(
        f"fork-per-kata / in-process (warm)  {median['failing 1.1, warm'] / median['failing 1.1, warm, no fork']:5.2f}x"
        f"  (goal <= 1.2x)"
    )
    print(f"watch rerun                        {median['watch rerun']:5.2f} s")
    report_sandbox(times)
    return 0


def report_sandbox(times: dict[str, list[float]]) -> int:
    """The sandbox's price: a warm failing kata with it and without it (KATAS_NO_SANDBOX=1)."""
    with_it = statistics.median(times["failing 1.1, warm"])
    without = statistics.median(times["failing 1.1, warm, no sandbox"])
    for name in ("failing 1.1, warm", "failing 1.1, warm, no sandbox"):
        values = times[name]
        print(f"{name:<30} {statistics.median(values):6.2f} s   (runs: {', '.join(f'{v:.2f}' for v in values)})")
    print(f"sandbox / no sandbox (warm)        {with_it / without:5.2f}x  (goal <= 1.10x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
