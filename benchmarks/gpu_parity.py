"""Does the GPU track behave on a real GPU as it does on the emulator? One run, one JSON, one table.

    python benchmarks/gpu_parity.py                # both halves where a CUDA device is, the emulator's elsewhere
    python benchmarks/gpu_parity.py --small        # the answer key and one mutant per kata (a smoke test)
    python benchmarks/gpu_parity.py --katas gpu.relu gpu.row_sums

The emulator half (any machine): every GPU kata's answer key, mutants and
alternatives are run through the kata's tests on the emulator (a nested
pytest session each, as the mutation self-tests do), and each answer key's
modelled H200 time (sectors, at the benchmark's size) is computed.

The CuPy half (a CUDA device; run in a child process with KATAS_GPU=cupy, so
that the two backends never share a process): the same verdicts on the
device, whether they agree with the emulator's, each answer key timed with
CUDA events (fresh inputs for every timed call, the last result checked
against TensorFlow after the timing, a median below the roofline floor of
the device refused as suspicious) beside its modelled time, and the
project's kernels/ against CuPy's built-ins.

It writes ``parity.json`` and ``parity.md`` in ``--out`` (default
``.katas/gpu-parity``). Without a device it says that the CuPy half needs one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "selftest"), str(ROOT / "benchmarks")]

ROUNDS = 15  # timed calls per kernel on the device, each on fresh inputs


def _variants(katas: list[str], small: bool) -> list[tuple[str, str, object]]:
    """(kata, kind, variant or None for the answer key) for the GPU katas asked for."""
    import mutants  # noqa: F401 - fills the registry
    from mutation import REGISTRY

    chosen = []
    for kata in katas:
        chosen.append((kata, "answer key", None))
        found = [v for v in REGISTRY if v.kata_id == kata]
        if small:
            found = [v for v in found if v.kind == "mutant"][:1]
        chosen += [(kata, v.kind, v) for v in found]
    return chosen


def _gpu_katas(only: list[str] | None) -> list[str]:
    from dojo.course.curriculum import load

    katas = [k.id for k in load(ROOT / "curriculum").katas if k.id.startswith("gpu.")]
    return [k for k in katas if not only or k in only]


def verdicts(katas: list[str], small: bool, scratch: Path) -> list[dict]:
    """Run every chosen variant through its kata's tests on this process's backend."""
    from mutation import SOLUTIONS, build_implementation, run_kata

    rows = []
    for number, (kata, kind, variant) in enumerate(_variants(katas, small)):
        started = time.perf_counter()
        if variant is None:
            implementation = SOLUTIONS
            name = "answer key"
        else:
            implementation = build_implementation(variant, "gpu", kata.split(".")[1], scratch / f"v{number}")
            name = variant.obj.__name__
        verdict = run_kata(kata, implementation)
        expected = "passed" if kind in ("answer key", "alternative") else "failing or error"
        right = verdict.state == "passed" if kind != "mutant" else verdict.state in ("failing", "error")
        rows.append(
            {
                "kata": kata,
                "kind": kind,
                "variant": name,
                "state": verdict.state,
                "expected": expected,
                "as_expected": right,
                "message": verdict.message.splitlines()[0] if verdict.message else "",
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    return rows


def modelled_times(katas: list[str]) -> dict[str, dict]:
    """Each answer key's modelled H200 time at the benchmark's size, from its sectors on the emulator."""
    import bench_gpu

    from dojo.course.implementation import resolve
    from dojo.gpu import traffic

    answer_key = resolve("solutions", ROOT)
    found = {}
    for operation in bench_gpu.OPERATIONS:
        name = operation.kata[1]
        if f"gpu.{name}" not in katas:
            continue
        small = bench_gpu.SMALL[operation.name](np.random.default_rng(0))
        big = operation.inputs(np.random.default_rng(0)) if name != "dense_forward" else small
        ratio, note = bench_gpu._emulated_ratio(
            answer_key.get("gpu", name), small, bench_gpu._small_ideal(name, small), name
        )
        ideal = bench_gpu._small_ideal(name, big)
        flops = bench_gpu.FLOPS[operation.name](*big)
        found[f"gpu.{name}"] = {
            "size": operation.size,
            "traffic_vs_ideal": round(ratio, 3),
            "modelled_seconds": traffic.modelled_seconds(ratio * ideal, flops),
            "roofline_floor_seconds": traffic.modelled_seconds(ideal, flops),
            "sectors": note,
        }
    return found


def device_timings(katas: list[str], modelled: dict) -> dict[str, dict]:
    """On the device: CUDA-event medians over fresh inputs, rechecked against TensorFlow afterwards."""
    import bench_gpu
    import cupy

    from dojo.course.implementation import resolve
    from dojo.gpu import traffic
    from reference import gpu as ref

    answer_key = resolve("solutions", ROOT)
    name_of_device = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    device = traffic.H100 if "H100" in name_of_device else traffic.H200
    found = {}
    for operation in bench_gpu.OPERATIONS:
        name = operation.kata[1]
        if f"gpu.{name}" not in katas:
            continue
        function = answer_key.get("gpu", name)
        seconds, host, out = [], None, None
        for round_ in range(ROUNDS + 1):  # the first call compiles: not timed
            host = operation.inputs(np.random.default_rng(100 + round_))
            inputs = [cupy.asarray(a) for a in host]
            start, end = cupy.cuda.Event(), cupy.cuda.Event()
            start.record()
            out = function(*inputs)
            end.record()
            end.synchronize()
            if round_:
                seconds.append(cupy.cuda.get_elapsed_time(start, end) / 1e3)
        reference = getattr(ref, "row_sums" if name == "warp_row_sums" else name)(*host)
        results = out if isinstance(out, tuple) else (out,)
        expected = reference if isinstance(reference, tuple) else (reference,)
        correct = all(np.allclose(cupy.asnumpy(r), e, rtol=1e-9, atol=1e-9) for r, e in zip(results, expected))
        median = float(np.median(seconds))
        ideal = bench_gpu._small_ideal(name, host)
        floor = traffic.modelled_seconds(ideal, bench_gpu.FLOPS[operation.name](*host), device)
        found[f"gpu.{name}"] = {
            "device": name_of_device,
            "median_seconds": median,
            "correct_after_timing": correct,
            "roofline_floor_seconds": floor,
            "suspicious": median < floor,
            "modelled_seconds": modelled.get(f"gpu.{name}", {}).get("modelled_seconds"),
        }
    return found


def kernels_vs_cupy() -> list[dict]:
    """The project's kernels/ against CuPy's own operations, CUDA events, on the device."""
    import cupy

    import kernels

    rng = np.random.default_rng(0)
    x = cupy.asarray(rng.normal(size=(4096, 1024)))
    w, b = cupy.asarray(rng.normal(size=(1024, 1024))), cupy.asarray(rng.normal(size=(1024,)))
    pairs = [
        ("relu", lambda: kernels.relu(x), lambda: cupy.maximum(x, 0)),
        ("sigmoid", lambda: kernels.sigmoid(x), lambda: 1 / (1 + cupy.exp(-x))),
        ("softmax", lambda: kernels.softmax(x), lambda: _cupy_softmax(cupy, x)),
        ("dense_forward", lambda: kernels.dense_forward(x, w, b), lambda: x @ w + b),
    ]
    rows = []
    for name, ours, theirs in pairs:
        times = [_event_median(cupy, f) for f in (ours, theirs)]
        same = bool(cupy.allclose(ours(), theirs(), rtol=1e-9, atol=1e-9))
        rows.append({"operation": name, "kernels_seconds": times[0], "cupy_seconds": times[1], "agree": same})
    return rows


def _cupy_softmax(cupy, x):
    e = cupy.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _event_median(cupy, thunk) -> float:
    thunk()
    times = []
    for _ in range(ROUNDS):
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        thunk()
        end.record()
        end.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, end) / 1e3)
    return float(np.median(times))


def _half(backend: str, katas: list[str], small: bool, scratch: Path) -> dict:
    """What this process measures on its backend ("emulator" or "cupy")."""
    result = {"backend": backend, "verdicts": verdicts(katas, small, scratch)}
    if backend == "emulator":
        result["modelled"] = modelled_times(katas)
    else:
        result["timings"] = device_timings(katas, {})
        result["kernels_vs_cupy"] = kernels_vs_cupy()
    return result


def _device_half(args, katas: list[str]) -> dict | None:
    """Run the CuPy half in a child process (KATAS_GPU=cupy), or None with the reason printed."""
    import kernels

    if not kernels.gpu_available():
        print(f"the CuPy half needs a CUDA device: {kernels.why_no_gpu()}; only the emulator half ran")
        return None
    out = Path(args.out) / "cupy-half.json"
    command = [sys.executable, __file__, "--half", "cupy", "--out", args.out, "--katas", *katas]
    command += ["--small"] if args.small else []
    environment = {**os.environ, "KATAS_GPU": "cupy"}
    environment.pop("KATAS_GPU_PROBED", None)
    done = subprocess.run(command, env=environment, check=False, timeout=480)
    if done.returncode != 0 or not out.exists():
        print(f"the CuPy half failed (exit {done.returncode})")
        return None
    return json.loads(out.read_text())


def markdown(report: dict) -> str:
    """One table: per variant, the emulator's verdict, the device's, and whether they agree."""
    device = {(v["kata"], v["variant"]): v for v in (report.get("cupy") or {}).get("verdicts", [])}
    lines = [
        "| kata | variant | kind | emulator | device | agree |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["emulator"]["verdicts"]:
        other = device.get((row["kata"], row["variant"]))
        on_device = other["state"] if other else "needs a device"
        agree = "-" if other is None else ("yes" if other["state"] == row["state"] else "**no**")
        lines.append(f"| {row['kata']} | {row['variant']} | {row['kind']} | {row['state']} | {on_device} | {agree} |")
    lines += [
        "",
        "| kata | size | modelled H200 | measured (CUDA events) | correct after timing |",
        "|---|---|---|---|---|",
    ]
    timings = (report.get("cupy") or {}).get("timings", {})
    for kata, model in report["emulator"].get("modelled", {}).items():
        measured = timings.get(kata)
        shown = "needs a device"
        if measured:
            shown = f"{measured['median_seconds'] * 1e6:.3g} µs" + (
                " (below the roofline: suspicious)" if measured["suspicious"] else ""
            )
        correct = "-" if not measured else ("yes" if measured["correct_after_timing"] else "**no**")
        lines.append(f"| {kata} | {model['size']} | {model['modelled_seconds'] * 1e6:.3g} µs | {shown} | {correct} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the answer key and one mutant per kata")
    parser.add_argument("--katas", nargs="*", help="only these katas (gpu.relu ...)")
    parser.add_argument("--out", default=str(ROOT / ".katas" / "gpu-parity"))
    parser.add_argument("--half", choices=["emulator", "cupy"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    katas = _gpu_katas(args.katas)
    if args.half:  # a child: one backend, its JSON
        os.environ.setdefault("KATAS_GPU", args.half)
        result = _half(args.half, katas, args.small, out / f"scratch-{args.half}")
        (out / f"{args.half}-half.json").write_text(json.dumps(result, indent=1))
        return 0
    os.environ["KATAS_GPU"] = "emulator"
    started = time.perf_counter()
    report = {"emulator": _half("emulator", katas, args.small, out / "scratch-emulator")}
    report["cupy"] = _device_half(args, katas)
    report["seconds"] = round(time.perf_counter() - started, 1)
    wrong = [v for v in report["emulator"]["verdicts"] if not v["as_expected"]]
    disagree = [
        v
        for v, d in zip(report["emulator"]["verdicts"], (report["cupy"] or {}).get("verdicts", []))
        if v["state"] != d["state"]
    ]
    (out / "parity.json").write_text(json.dumps(report, indent=1))
    (out / "parity.md").write_text(markdown(report))
    print(
        f"{len(report['emulator']['verdicts'])} variants on the emulator, {len(wrong)} not as expected; "
        f"{'no device' if report['cupy'] is None else f'{len(disagree)} verdicts differ on the device'}; "
        f"{report['seconds']} s; wrote {out / 'parity.json'} and {out / 'parity.md'}"
    )
    return 1 if wrong or disagree else 0


if __name__ == "__main__":
    sys.exit(main())
