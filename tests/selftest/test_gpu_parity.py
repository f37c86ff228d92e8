"""benchmarks/gpu_parity.py runs its emulator half here, at small size, and says the rest needs a device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# left out of the quick tier, as the other benchmark self-tests (test_bench): a benchmark script that compiles
# and races kernels on the emulator is not what a contributor needs checked before every commit
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_the_parity_script_runs_the_emulator_half_and_writes_json_and_markdown(tmp_path):
    environment = {**os.environ, "KATAS_GPU": "emulator", "KATAS_NO_WARMUP": "1"}
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "gpu_parity.py"),
            "--small",
            "--katas",
            "gpu.relu",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=environment,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "parity.json").read_text())
    verdicts = report["emulator"]["verdicts"]
    assert [(v["kind"], v["state"]) for v in verdicts] == [("answer key", "passed"), ("mutant", "failing")]
    assert report["emulator"]["modelled"]["gpu.relu"]["modelled_seconds"] > 0
    if report["cupy"] is None:
        assert "the CuPy half needs a CUDA device" in done.stdout
        assert "needs a device" in (tmp_path / "parity.md").read_text()
