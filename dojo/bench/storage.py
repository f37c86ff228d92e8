"""Where results are kept.

pytest-benchmark saves every ``--bench`` run as JSON (``--benchmark-autosave``)
in ``.benchmarks/`` at the project root, so ``--benchmark-compare`` compares
a run with the last one (or ``--benchmark-compare=0003`` with a given one).
Options given on the command line win over these defaults.

``--bench-json PATH`` writes our own summary: the tables as data, with the
speed-ups over TensorFlow and the flags.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest

PYTEST_BENCHMARK_DEFAULT_STORAGE = "file://./.benchmarks"


def storage_folder(config: pytest.Config) -> Path:
    return config.rootpath / ".benchmarks"


def apply_defaults(config: pytest.Config) -> None:
    """Turn on autosave and anchor the storage at the project root (not the cwd)."""
    option = config.option
    if getattr(option, "benchmark_storage", None) == PYTEST_BENCHMARK_DEFAULT_STORAGE:
        option.benchmark_storage = f"file://{storage_folder(config)}"
    disabled = getattr(option, "benchmark_disable", False)
    if disabled or getattr(option, "collectonly", False):
        pass  # nothing will be timed: nothing to save
    elif not getattr(option, "benchmark_save", None) and not getattr(option, "benchmark_autosave", None):
        from pytest_benchmark.utils import get_tag

        option.benchmark_autosave = get_tag()  # what --benchmark-autosave stores: commit, date, dirty flag
    if getattr(option, "benchmark_columns", "unset") is None:
        # pytest-benchmark's own tables, printed before ours: the median first, as ours reports it.
        option.benchmark_columns = ["median", "iqr", "min", "max", "rounds"]


def save_summary(path: str | Path, tables: list[dict], environment: dict) -> Path:
    """Write the tables (as :meth:`records.Records.as_dicts` gives them) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "machine": platform.platform(),
        "python": platform.python_version(),
        "environment": environment,
        "operations": tables,
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
