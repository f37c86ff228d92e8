"""The benchmark harness (dojo/bench): collected only with --bench, tables, flags, chart, JSON."""

import json
from pathlib import Path

import pytest

from dojo.bench import chart, storage, table
from dojo.bench.command import main
from dojo.bench.operation import ANSWER_KEY, KERNELS, LEARNER, TENSORFLOW, Contender, Operation, race_cases
from dojo.bench.records import Records, Row

pytestmark = pytest.mark.slow  # left out of the quick tier: benchmark sessions with TensorFlow

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch):
    """The pytest sessions these tests start are not xdist workers, even when this suite runs under xdist:
    pytest-benchmark reads PYTEST_XDIST_WORKER, disables benchmarks and, on worker gw0, warns."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def run_here(pytester, *args, subprocess=False):
    """Run pytest on the real project (its conftest, its benchmarks) from pytester's temporary folder.

    A run that imports TensorFlow goes to a subprocess: pytester drops the
    modules an in-process run imported, and TensorFlow cannot be imported twice.
    """
    run = pytester.runpytest_subprocess if subprocess else pytester.runpytest_inprocess
    return run(f"--rootdir={ROOT}", "-c", str(ROOT / "pyproject.toml"), "-p", "no:cacheprovider", *args)


# ------------------------------------------------------------- collection


def test_benchmarks_are_not_collected_without_bench(pytester):
    result = run_here(pytester, str(ROOT / "benchmarks"), "--collect-only", "-q")
    assert "bench_" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_bench_collects_the_benchmarks_and_not_the_katas(pytester):
    result = run_here(pytester, "--bench", str(ROOT / "benchmarks"), "--collect-only")
    result.stdout.fnmatch_lines(
        [
            "*bench_activations.py::test_activations_and_dense[[]relu-answer-key[]]*",
            "*bench_conv.py::test_conv_and_pool[[]conv2d-tensorflow[]]*",
        ]
    )
    assert "tests/katas" not in result.stdout.str()


def test_smoke_run_prints_one_table_per_operation(pytester, tmp_path):
    summary = tmp_path / "bench.json"
    result = run_here(
        pytester,
        "--bench",
        str(ROOT / "benchmarks"),
        "--benchmark-disable",
        "-k",
        "test_activations_and_dense and relu",
        f"--bench-json={summary}",
        subprocess=True,
    )
    result.stdout.fnmatch_lines(
        [
            "*Neural Katas benchmarks*",
            "relu · x (1000, 1000) float64*",
            "*your code (katas/)*not raced: *",
            "*answer key (solutions/)*ran once*",
            "*TensorFlow*(CPU)*ran once*",
        ]
    )
    assert result.ret == 0
    data = json.loads(summary.read_text())
    assert [op["operation"] for op in data["operations"]] == ["relu"]


# ------------------------------------------------------------- records and tables


def _records(tf_median=10e-3, fast=0.5e-3):
    records = Records()
    for row in (
        Row(LEARNER, "your code (katas/)", skipped="not started"),
        Row(ANSWER_KEY, "answer key (solutions/)", median=20e-3, cost=(16e6, 1e6)),
        Row(KERNELS, "kernels (CuPy on H100)", median=fast, cost=(16e6, 1e6), timer="CUDA events"),
        Row(TENSORFLOW, "TensorFlow (CPU)", median=tf_median, cost=(16e6, 1e6)),
    ):
        records.add("relu", "x (1000, 1000)", "", row)
    return records


def test_speedup_is_tensorflow_median_over_the_row_median():
    relu = _records().tables["relu"]
    assert relu.speedup(relu.rows[1]) == pytest.approx(0.5)
    assert relu.speedup(relu.rows[2]) == pytest.approx(20.0)
    assert relu.speedup(relu.rows[0]) is None


def test_more_than_ten_times_faster_than_tensorflow_is_flagged():
    lines = table.render(_records().tables["relu"])
    assert any(line.startswith("  !! kernels (CuPy on H100) is 20.0x faster than TensorFlow") for line in lines)
    assert not any("!!" in line for line in table.render(_records(fast=2e-3).tables["relu"]))


def test_rate_is_bandwidth_for_memory_bound_and_flops_for_compute_bound():
    assert Row(KERNELS, "k", median=1e-3, cost=(16e6, 1e6)).rate() == "16.0 GB/s"
    assert Row(KERNELS, "k", median=1e-3, cost=(1e6, 2e9)).rate() == "2,000.0 GFLOP/s"


def test_table_rows_say_why_a_contender_did_not_race():
    lines = table.render(_records().tables["relu"])
    assert any("your code (katas/)" in line and "not raced: not started" in line for line in lines)
    assert any("(CUDA events)" in line for line in lines)


def test_chart_is_a_png(tmp_path):
    path = chart.draw(_records(), tmp_path / "bench.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    empty = Records()
    empty.add("relu", "x", "", Row(ANSWER_KEY, "answer key"))
    assert chart.draw(empty, tmp_path / "none.png") is None


def test_summary_json_keeps_speedups_and_flags(tmp_path):
    path = storage.save_summary(tmp_path / "s.json", _records().as_dicts(), {})
    rows = json.loads(path.read_text())["operations"][0]["rows"]
    assert [r["flagged"] for r in rows] == [False, False, True, False]
    assert rows[2]["speedup_vs_tensorflow"] == pytest.approx(20.0)


def test_race_cases_name_each_operation_and_contender():
    op = Operation(
        name="conv2d_naive",
        size="s",
        inputs=lambda rng: (),
        kata=("conv", "conv2d_naive"),
        extra=(Contender(ANSWER_KEY, "conv2d"),),
        tensorflow=lambda tf: None,
    )
    assert [case.id for case in race_cases(op)] == [
        "conv2d_naive-your-code",
        "conv2d_naive-answer-key",
        "conv2d_naive-answer-key-conv2d",
        "conv2d_naive-tensorflow",
    ]


def test_main_runs_pytest_with_bench(capsys):
    assert main(["--collect-only", "-k", "relu-answer-key"]) == 0
    assert "relu-answer-key" in capsys.readouterr().out
