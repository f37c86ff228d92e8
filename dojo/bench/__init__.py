"""Benchmarks: race the learner's code against the answer key, the GPU kernels and TensorFlow.

``conftest.py`` registers this package next to the kata harness. It adds
``pytest --bench``, which collects the benchmark modules in ``benchmarks/``
(never collected without it, so plain ``pytest`` stays the learner's view)
and times every operation with pytest-benchmark for each *contender*:

* your code (the implementation under ``--impl``, ``katas/`` by default),
  only once its kata passes;
* the answer key (``solutions/``);
* ``kernels`` (CuPy on a GPU, or its NumPy fallback, labelled as such);
* TensorFlow, on the same float64 inputs.

After the run it prints one table per operation (median, speed-up over
TensorFlow, achieved bandwidth or FLOP rate), lets pytest-benchmark save JSON
under ``.benchmarks/`` (so ``--benchmark-compare`` works) and, on request,
draws a bar chart (``--bench-chart PATH``).

One module per responsibility, as pytest-benchmark itself is split:

==================  =====================================================
``options``          command-line options, configuration, collection
``operation``        what a benchmark module declares (Operation, Contender)
``sizes``            laptop sizes by default, the realistic ones with ``--full``
``progress``         the race's progress bar, on a terminal
``contenders``       turning a contender into a timed callable, or a skip reason
``gate``             does the learner's kata pass? (run its tests once)
``gpu``              device transfers, synchronisation, CUDA-event timing
``race``             the ``race`` fixture: warm up, time, record
``records``          the run's results, speed-ups and flags
``table``            the tables printed at the end
``storage``          where pytest-benchmark saves JSON; our summary JSON
``chart``            the bar chart PNG
``command``          ``main(args)`` for the ``kata bench`` verb
==================  =====================================================
"""

from .command import main
from .operation import ANSWER_KEY, KERNELS, LEARNER, TENSORFLOW, Contender, Operation, race_cases
from .options import pytest_addoption, pytest_collect_file, pytest_configure, pytest_ignore_collect

__all__ = [
    "ANSWER_KEY",
    "KERNELS",
    "LEARNER",
    "TENSORFLOW",
    "Contender",
    "Operation",
    "race_cases",
    "main",
    "pytest_addoption",
    "pytest_collect_file",
    "pytest_configure",
    "pytest_ignore_collect",
]
