"""The GPU in a notebook: which backend ran a kata, and races drawn as an HTML table.

``from dojo.gpu import cp`` chooses once per process (:mod:`dojo.gpu`): real
CuPy where CuPy finds a CUDA device (Colab's GPU runtime, a workstation), the
CPU emulator everywhere else (``KATAS_GPU=emulator`` or ``cupy`` insists). The
kernel keeps that choice, and the kata's forked child inherits it, so the card
says which one ran the learner's kernels. CUDA is never initialised in the
kernel itself (the probe asks in a subprocess): a forked child could not use it after.

``%kata race [-k WORDS]`` runs the benchmarks (``pytest --bench``: the learner's
code, the answer key, the GPU kernels and TensorFlow) in a separate process, so
the race may use the device freely, and shows each operation's table as HTML.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

from ..course.curriculum import Kata
from .card import Card


@cache
def _test_text(tests: Path) -> str:
    try:
        return tests.read_text(encoding="utf-8")
    except OSError:
        return ""


def uses_gpu(kata: Kata, course: Path | None = None) -> bool:
    """Does this kata's test run the learner's CUDA kernels (through ``dojo.gpu``)?"""
    if course is None:
        return kata.module == "gpu"
    return "dojo.gpu" in _test_text(course / "tests" / "katas" / f"test_{kata.module}.py")


def backend_line() -> str:
    """Which backend runs ``cp`` in this kernel, in words."""
    from .. import gpu

    if gpu.backend() == "cupy":
        return "CuPy on this notebook's CUDA device (real GPU)"
    forced = os.environ.get("KATAS_GPU", "").strip().lower() == "emulator"
    why = "KATAS_GPU=emulator asked for it" if forced else "no CUDA device with CuPy in this notebook"
    return f"the CPU emulator (dojo.gpu.cupy_emulator): {why}"


def race(home: Path, words: str | None = None, timeout: float = 1800) -> Card | list:
    """Run ``pytest --bench`` in ``home`` (optionally ``-k words``) and return its tables as HTML cards."""
    with tempfile.TemporaryDirectory(prefix="katas-race-") as folder:
        summary = Path(folder) / "race.json"
        command = [sys.executable, "-m", "pytest", "--bench", f"--bench-json={summary}", "-q", "-p", "no:randomly"]
        if words:
            command += ["-k", words]
        try:
            done = subprocess.run(command, cwd=home, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return _race_problem(f"the race ran over {timeout:g} s and was stopped: pick fewer with -k WORDS")
        if not summary.exists():
            last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
            return _race_problem(f"the race wrote no tables (pytest exit {done.returncode}): {last[0]}")
        document = json.loads(summary.read_text(encoding="utf-8"))
    return [RaceTable(operation) for operation in document.get("operations", [])] or _race_problem(
        "no benchmark matched: try another -k WORDS (for example -k relu)"
    )


def _race_problem(message: str) -> Card:
    card = Card("race", "error")
    card.add("what", message, tone="bad")
    return card


class RaceTable:
    """One operation's race: contenders, medians, speed-up over TensorFlow (HTML and text)."""

    def __init__(self, operation: dict):
        self.operation = operation

    def _cells(self) -> list[tuple[str, str, str, str]]:
        rows = []
        for row in self.operation.get("rows", []):
            median = row.get("median")
            speedup = row.get("speedup_vs_tensorflow")
            rows.append(
                (
                    str(row.get("label", "")),
                    _time(median) if median is not None else "-",
                    f"{speedup:.3g}x" if speedup else "-",
                    f"not raced: {row['skipped']}" if row.get("skipped") else str(row.get("rate", "")),
                )
            )
        return rows

    def title(self) -> str:
        return f"{self.operation.get('operation', '')} · {self.operation.get('size', '')}"

    def text(self) -> str:
        lines = [self.title()]
        lines.append(f"  {'contender':<44} {'median':>10}  {'vs TF':>8}  rate")
        for label, median, speedup, rate in self._cells():
            lines.append(f"  {label[:44]:<44} {median:>10}  {speedup:>8}  {rate}")
        return "\n".join(lines)

    def html(self) -> str:
        esc = html.escape
        head = "".join(
            f'<th style="text-align:{a};padding:2px 8px;white-space:nowrap">{h}</th>'
            for h, a in (("contender", "left"), ("median", "right"), ("vs TF", "right"), ("rate", "left"))
        )
        body = "".join(
            "<tr>"
            + "".join(
                f'<td style="text-align:{a};padding:2px 8px">{esc(value)}</td>'
                for value, a in zip(cells, ("left", "right", "right", "left"))
            )
            + "</tr>"
            for cells in self._cells()
        )
        note = self.operation.get("note")
        caption = esc(self.title()) + (f"<br><small>{esc(note)}</small>" if note else "")
        return (
            f'<table class="neural-katas-race" style="border-collapse:collapse">'
            f'<caption style="text-align:left;font-weight:600">{caption}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": self.text(), "text/html": self.html()}


def _time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"
