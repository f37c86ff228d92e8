"""``pytest --bench``: options, configuration, and which files are benchmarks.

Benchmarks live in ``benchmarks/bench_*.py``, outside ``tests/``, and are
collected only with ``--bench``: plain ``pytest`` (the learner's view) and
``pytest tests ...`` (CI) never run them, and ``pytest benchmarks`` without
``--bench`` collects nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import sizes, storage

BENCH_FOLDER = "benchmarks"
BENCH_PATTERN = "bench_*.py"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("katas-bench", "Neural Katas benchmarks")
    group.addoption(
        "--bench",
        action="store_true",
        default=False,
        help="race your code, the answer key, kernels and TensorFlow (benchmarks/); "
        "add --benchmark-disable for a quick smoke run",
    )
    group.addoption(
        "--bench-chart", metavar="PATH", default=None, help="also draw the results as a bar chart PNG at PATH"
    )
    group.addoption(
        "--bench-json",
        metavar="PATH",
        default=None,
        help="also write the tables (medians, speed-ups, rates) as JSON to PATH",
    )
    group.addoption(
        "--bench-threads",
        type=int,
        default=None,
        metavar="N",
        help="limit NumPy's BLAS and TensorFlow to N threads each, so both race on the same cores "
        "(default: each library's own choice)",
    )
    group.addoption(
        "--full",
        action="store_true",
        default=False,
        dest="bench_full",
        help="race at the realistic sizes (several minutes); by default the sizes and rounds fit a laptop's minute",
    )
    group.addoption(
        "--bench-skip-learner",
        action="store_true",
        default=False,
        help="do not time your code (no kata check runs before the race)",
    )


def _laptop_rounds(option) -> None:
    """A shorter time budget per benchmark, unless the command line set one (pytest-benchmark's defaults are
    1 s and 5 rounds: 91 benchmarks then take minutes before the first table)."""
    if getattr(option, "benchmark_max_time", None) == 1.0:
        option.benchmark_max_time = sizes.LAPTOP_MAX_TIME
    if getattr(option, "benchmark_min_rounds", None) == 5:
        option.benchmark_min_rounds = sizes.LAPTOP_MIN_ROUNDS


def _enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("bench", False))


def _bench_root(config: pytest.Config) -> Path:
    return config.rootpath / BENCH_FOLDER


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads its options (it configures last)
def pytest_configure(config: pytest.Config) -> None:
    if not _enabled(config):
        return
    full = bool(config.getoption("bench_full", False))
    sizes.set_full(full)
    storage.apply_defaults(config)
    if not full:
        _laptop_rounds(config.option)
    if config.args_source != pytest.Config.ArgsSource.ARGS or not config.args:
        # `pytest --bench` with no paths: the benchmarks, not the katas.
        config.args = [str(_bench_root(config))]
    from .progress import RaceProgress
    from .race import BenchPlugin

    config.pluginmanager.register(BenchPlugin(config), "neural-katas-bench")
    if RaceProgress.wanted(config):
        config.option.console_output_style = "classic"  # no "[ 40%]" at the ends of lines: the bar says it
        config.pluginmanager.register(RaceProgress(), "neural-katas-bench-progress")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config):
    if _enabled(config):
        return None
    root = _bench_root(config)
    if collection_path == root or root in collection_path.parents:
        return True  # benchmarks run only with --bench
    return None


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    config = parent.config
    if not _enabled(config) or not file_path.match(BENCH_PATTERN):
        return None
    if _bench_root(config) not in file_path.parents or parent.session.isinitpath(file_path):
        return None  # a file named on the command line is collected by pytest itself
    return pytest.Module.from_parent(parent, path=file_path)
