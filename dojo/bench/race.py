"""The ``race`` fixture: warm up, check, time, record. And the end-of-run report.

For each (operation, contender) test:

1. make the operation's inputs (seeded, once per operation, shared by all);
2. prepare the contender (or skip its row with the reason);
3. warm up: call it once (GPU: a few times) untimed, so imports, tracing,
   compilation and CUDA context creation stay out of the timing. For the
   learner this call is also the check for "not started";
4. for the learner only: the kata must pass (:mod:`.gate`);
5. time with pytest-benchmark (its wall clock; GPU thunks synchronise the
   device), and on a GPU also with CUDA events; the table reports the median.
"""

from __future__ import annotations

import pytest

from . import chart, gpu, storage, table
from .contenders import CannotRace, Field
from .gate import Gate
from .operation import LEARNER, Contender, Operation
from .records import Records, Row


class BenchPlugin:
    """State of one ``--bench`` run."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.records = Records()
        self._inputs: dict[str, tuple] = {}
        self._field: Field | None = None
        self.threads = config.getoption("bench_threads")
        self._blas_limit = None
        if self.threads:
            # threadpoolctl (a scikit-learn dependency) limits OpenBLAS/MKL inside NumPy for the whole run.
            from threadpoolctl import threadpool_limits

            self._blas_limit = threadpool_limits(limits=self.threads)

    # ------------------------------------------------------------- contenders

    def field(self) -> Field:
        if self._field is None:
            root = self.config.rootpath
            katas = self.config.pluginmanager.get_plugin("neural-katas")
            learner = gate = None
            if katas is not None and not self.config.getoption("bench_skip_learner"):
                learner = katas.implementation
                gate = Gate(root, katas.curriculum, learner.folder)
            self._field = Field(root, learner, gate, threads=self.threads)
            if self.threads:
                self._field.tf  # noqa: B018 - set TensorFlow's threads before a kata check starts it
        return self._field

    def inputs(self, operation: Operation) -> tuple:
        if operation.name not in self._inputs:
            import numpy as np

            self._inputs[operation.name] = tuple(operation.inputs(np.random.default_rng(operation.seed)))
        return self._inputs[operation.name]

    # ----------------------------------------------------------------- racing

    @pytest.fixture
    def race(self, benchmark, request):
        """``race(operation, contender)``: time one contender on one operation and record the row."""

        def run(operation: Operation, contender: Contender):
            self._race(benchmark, operation, contender)

        return run

    def _skip(self, operation: Operation, contender: Contender, label: str, reason: str):
        self.records.add(operation.name, operation.size, operation.note, Row(contender.kind, label, skipped=reason))
        pytest.skip(f"{operation.name} / {label}: {reason}")

    def _race(self, benchmark, operation: Operation, contender: Contender) -> None:
        field = self.field()
        inputs = self.inputs(operation)
        label = field.label(contender, operation)
        try:
            prepared = field.prepare(contender, operation, inputs)
        except CannotRace as reason:
            self._skip(operation, contender, label, str(reason))
        except NotImplementedError:  # e.g. the learner's Sequential() is still a stub
            self._skip(operation, contender, label, "not started (the stub raises NotImplementedError)")
        except Exception as error:
            if contender.kind != LEARNER:
                raise
            self._skip(operation, contender, label, f"raises {type(error).__name__}: {str(error)[:60]}")
        label = prepared.label
        warmups = gpu.WARMUP_CALLS if prepared.on_gpu else 1
        try:
            for _ in range(warmups):
                prepared.thunk()
        except NotImplementedError:
            self._skip(operation, contender, label, "not started (the stub raises NotImplementedError)")
        except Exception as error:
            if contender.kind != LEARNER:
                raise
            self._skip(operation, contender, label, f"raises {type(error).__name__}: {str(error)[:60]}")
        if contender.kind == LEARNER:
            reason = field.learner_gate(operation, contender)
            if reason:
                self._skip(operation, contender, label, reason)

        benchmark.group = operation.name
        benchmark.extra_info.update(contender=label, kind=contender.kind, size=operation.size)
        if operation.rounds:
            benchmark.pedantic(prepared.thunk, rounds=operation.rounds, iterations=1)
        else:
            benchmark(prepared.thunk)

        row = Row(contender.kind, label, cost=field.cost(operation, inputs))
        stats = getattr(benchmark, "stats", None)
        if benchmark.enabled and stats:
            row.median, row.rounds = float(stats.stats.median), int(stats.stats.rounds)
            if prepared.on_gpu:
                row.median, row.timer = gpu.event_median(prepared.thunk), "CUDA events"
                benchmark.extra_info["cuda_event_median_s"] = row.median
        self.records.add(operation.name, operation.size, operation.note, row)

    @pytest.fixture
    def modelled(self):
        """``modelled(operation, kind, label, seconds, cost)``: a row whose time is a model, not a measurement.

        For GPU kernels run on the CPU emulator: the roofline time of their
        counted traffic on a named GPU (dojo.gpu.traffic). The table labels it.
        """

        def add(
            operation: Operation,
            kind: str,
            label: str,
            seconds: float | None = None,
            cost=None,
            skipped: str | None = None,
            detail: str = "",
        ):
            self.records.add(
                operation.name,
                operation.size,
                operation.note,
                Row(kind, label, median=seconds, timer="modelled", cost=cost, skipped=skipped, detail=detail),
            )

        return add

    def learner_gate(self, operation: Operation) -> str | None:
        """Why the learner's row may not race yet (their kata does not pass), or None."""
        return self.field().learner_gate(operation, Contender(LEARNER))

    # ----------------------------------------------------------------- report

    @pytest.hookimpl(trylast=True)  # after pytest-benchmark's own tables: ours is the last thing on screen
    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.records:
            return
        timing = not self.config.getoption("benchmark_disable", False)
        table.write(terminalreporter, self.records, timing)
        if self.threads:
            note = self._field.threads_note if self._field is not None else ""
            terminalreporter.write_line(
                f"threads: NumPy BLAS and TensorFlow limited to {self.threads} each" + (f" ({note})" if note else "")
            )
        chart_path = self.config.getoption("bench_chart")
        if chart_path:
            drawn = chart.draw(self.records, chart_path)
            terminalreporter.write_line("")
            terminalreporter.write_line(f"chart: {drawn}" if drawn else "chart: nothing was timed, no chart drawn")
        json_path = self.config.getoption("bench_json")
        if json_path:
            environment = {}
            if self._field is not None and "tf" in self._field.__dict__:
                environment["tensorflow"] = self._field.tf.__version__
            saved = storage.save_summary(json_path, self.records.as_dicts(), environment)
            terminalreporter.write_line(f"summary: {saved}")
        if timing:
            terminalreporter.write_line(
                f"pytest-benchmark JSON: {storage.storage_folder(self.config)} (compare runs with --benchmark-compare)"
            )
