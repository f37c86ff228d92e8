"""The gpu track: your kernels against kernels/, CuPy's built-ins and TensorFlow.

With a CUDA device (``dojo.gpu.backend() == "cupy"``), every kata races for
real: inputs on the device first, a warm-up, then pytest-benchmark's clock
over synchronised calls and CUDA events for the median.

Without one, the kernels run on the CPU emulator, whose clock says nothing
about a GPU. So each operation gets *modelled* rows instead, labelled so:
the emulator counts the global-memory traffic of your kernel and of the
answer key on a test-sized case, and of the reference kernel in kernels/
where it is a custom kernel (softmax, relu, sigmoid, the fused LSTM cell);
the traffic ratio against the ideal (each input read once, each output
written once) is carried to the size below, and the time is the roofline
bound on an NVIDIA H200 (4.8 TB/s HBM3e, 34 TFLOPS FP64, dojo/gpu/traffic.py).
"""

from __future__ import annotations

import numpy as np
import pytest

import dojo.gpu
from dojo.bench import ANSWER_KEY, KERNELS, LEARNER, Operation, race_cases
from dojo.bench.operation import CUPY
from dojo.gpu import traffic

ON_GPU = not dojo.gpu.emulated()


def _on_device(function, inputs):
    """Inputs to the device once; the timed call synchronises the stream."""
    from dojo.bench import gpu

    device_inputs = gpu.to_device(inputs)
    thunk = gpu.synchronised(lambda: function(*device_inputs))
    thunk.on_gpu = True
    return thunk


DEVICE = {LEARNER: _on_device, ANSWER_KEY: _on_device}


def _op(name, size, inputs, small, flops, **fields):
    """An operation; ``small`` makes the emulated case (rng -> inputs), ``flops(*inputs)`` its arithmetic."""
    operation = Operation(
        name=f"gpu.{name}",
        size=size,
        inputs=inputs,
        kata=("gpu", name),
        build=DEVICE,
        cost=lambda *a: (
            traffic.ideal_bytes([v for v in a if isinstance(v, np.ndarray)], []) + _output_bytes(name, a),
            flops(*a),
        ),
        **fields,
    )
    SMALL[operation.name] = small
    FLOPS[operation.name] = flops
    return operation


SMALL: dict[str, object] = {}
FLOPS: dict[str, object] = {}


def _output_bytes(name, args):
    x = args[0]
    if name in ("row_sums", "warp_row_sums"):
        return 8 * x.shape[0]
    if name == "dense_forward":
        return 8 * x.shape[0] * args[1].shape[1]
    if name == "conv2d":
        kh, kw, _, out = args[1].shape
        return 8 * x.shape[0] * (x.shape[1] - kh + 1) * (x.shape[2] - kw + 1) * out
    if name == "lstm_cell":
        return 2 * args[2].nbytes
    return x.nbytes


def _normal(*shapes):
    return lambda rng: tuple(rng.normal(size=s) for s in shapes)


OPERATIONS = [
    _op(
        "leaky_relu",
        "x (1000, 1000) float64",
        _normal((1000, 1000)),
        _normal((37, 11)),
        lambda x: 2 * x.size,
        tensorflow=lambda tf, x: lambda: tf.nn.leaky_relu(x, alpha=0.2),
        cupy=lambda cp, x: lambda: cp.where(x >= 0, x, 0.2 * x),
    ),
    _op(
        "relu",
        "x (1000, 1000) float64",
        _normal((1000, 1000)),
        _normal((257,)),
        lambda x: x.size,
        kernel="relu",
        tensorflow=lambda tf, x: lambda: tf.nn.relu(x),
        cupy=lambda cp, x: lambda: cp.maximum(x, 0),
    ),
    _op(
        "add_bias",
        "x (4096, 1024), bias (1024,) float64",
        _normal((4096, 1024), (1024,)),
        _normal((37, 13), (13,)),
        lambda x, b: x.size,
        tensorflow=lambda tf, x, b: lambda: tf.nn.bias_add(x, b),
        cupy=lambda cp, x, b: lambda: x + b,
    ),
    _op(
        "sigmoid",
        "x (1000, 1000) float64",
        _normal((1000, 1000)),
        _normal((1000,)),
        lambda x: 4 * x.size,
        kernel="sigmoid",
        tensorflow=lambda tf, x: lambda: tf.math.sigmoid(x),
    ),
    _op(
        "row_sums",
        "x (4096, 1024) float64",
        _normal((4096, 1024)),
        _normal((5, 300)),
        lambda x: x.size,
        tensorflow=lambda tf, x: lambda: tf.reduce_sum(x, axis=1),
        cupy=lambda cp, x: lambda: x.sum(axis=1),
    ),
    _op(
        "warp_row_sums",
        "x (4096, 1024) float64",
        _normal((4096, 1024)),
        _normal((5, 300)),
        lambda x: x.size,
        tensorflow=lambda tf, x: lambda: tf.reduce_sum(x, axis=1),
        cupy=lambda cp, x: lambda: x.sum(axis=1),
    ),
    _op(
        "transpose",
        "x (4096, 4096) float64",
        _normal((4096, 4096)),
        _normal((64, 96)),
        lambda x: 0,
        tensorflow=lambda tf, x: lambda: tf.transpose(x),
        cupy=lambda cp, x: lambda: cp.ascontiguousarray(x.T),
    ),
    _op(
        "softmax",
        "x (4096, 1000) float64",
        _normal((4096, 1000)),
        _normal((4, 300)),
        lambda x: 5 * x.size,
        kernel="softmax",
        tensorflow=lambda tf, x: lambda: tf.nn.softmax(x),
    ),
    _op(
        "dense_forward",
        "x (128, 128) @ kernel (128, 128) + bias, float64 (modelled at the emulated size)",
        _normal((128, 128), (128, 128), (128,)),
        _normal((128, 128), (128, 128), (128,)),
        lambda x, k, b: 2 * x.shape[0] * k.shape[0] * k.shape[1],
        kernel="dense_forward",
        tensorflow=lambda tf, x, k, b: lambda: tf.matmul(x, k) + b,
        cupy=lambda cp, x, k, b: lambda: x @ k + b,
    ),
    _op(
        "conv2d",
        "x (32, 28, 28, 32), kernel 3x3 32->64, valid, float64",
        _normal((32, 28, 28, 32), (3, 3, 32, 64), (64,)),
        _normal((2, 7, 6, 3), (3, 3, 3, 4), (4,)),
        lambda x, k, b: 2 * x.shape[0] * (x.shape[1] - 2) * (x.shape[2] - 2) * k.size,
        kernel="conv2d",
        tensorflow=lambda tf, x, k, b: lambda: tf.nn.conv2d(x, k, 1, "VALID") + b,
    ),
    _op(
        "lstm_cell",
        "batch 256, input 256, units 512, float64",
        lambda rng: (
            rng.normal(size=(256, 256)),
            rng.normal(size=(256, 512)),
            rng.normal(size=(256, 512)),
            0.1 * rng.normal(size=(256, 2048)),
            0.1 * rng.normal(size=(512, 2048)),
            rng.normal(size=2048),
        ),
        lambda rng: (
            rng.normal(size=(13, 4)),
            rng.normal(size=(13, 37)),
            rng.normal(size=(13, 37)),
            rng.normal(size=(4, 148)),
            rng.normal(size=(37, 148)),
            rng.normal(size=148),
        ),
        lambda x, h, c, k, r, b: 2 * x.shape[0] * (k.shape[0] + r.shape[0]) * k.shape[1] + 30 * c.size,
        kernel="lstm_cell",
    ),
]

if ON_GPU:

    @pytest.mark.parametrize("operation, contender", race_cases(*OPERATIONS))
    def test_gpu(race, operation, contender):
        race(operation, contender)

else:

    @pytest.mark.parametrize("operation", OPERATIONS, ids=str)
    def test_gpu_modelled(request, modelled, operation):
        _model(request, modelled, operation)


# ------------------------------------------------------------ modelled rows (no GPU)


def _emulated_ratio(function, small_inputs, ideal: int, name: str = "") -> tuple[float, str]:
    """The traffic over the ideal, in sectors (times the coalescing), and a note on sectors and banks."""
    from dojo.gpu import cp

    device = [cp.asarray(a) for a in small_inputs]
    with traffic.recording() as launches:
        function(*device)
    found = traffic.measure(launches)
    measured = found.total
    if name == "lstm_cell":  # the two matrix products are CuPy's (cuBLAS): counted at their ideal, z written once
        x_t, h, _, kernel, recurrent, _ = small_inputs
        measured += x_t.nbytes + h.nbytes + kernel.nbytes + recurrent.nbytes + 8 * x_t.shape[0] * kernel.shape[1]
    return traffic.sector_ratio(found, measured / ideal), _sectors_note(found)


def _sectors_note(found) -> str:
    """Sectors against coalesced, bank conflicts, where the reads and writes fall short (one line each)."""
    return "\n".join(line.strip() for line in traffic.coalescing(found))


def _small_ideal(name, small):
    return traffic.ideal_bytes(list(small), []) + _output_bytes(name, small)


def _model(request, modelled, operation: Operation) -> None:
    from dojo.course.implementation import resolve

    bench = request.config.pluginmanager.get_plugin("neural-katas-bench")
    katas = request.config.pluginmanager.get_plugin("neural-katas")
    name = operation.kata[1]
    small = SMALL[operation.name](np.random.default_rng(0))
    big = operation.inputs(np.random.default_rng(0)) if name != "dense_forward" else small
    big_ideal = _small_ideal(name, big)
    flops = FLOPS[operation.name](*big)
    device = traffic.DEFAULT_DEVICE
    where = f"on an {device.name}"
    cost = (float(big_ideal), float(flops))

    def row(kind, label, ratio, note=""):
        seconds = traffic.modelled_seconds(ratio * big_ideal, flops, device)
        passes, _, detail = note.partition("\n") if note.startswith(" (") else ("", "", note)
        modelled(operation, kind, f"{label}: {ratio:.2g}x the ideal traffic{passes}", seconds, cost, detail=detail)

    modelled(operation, "ideal", f"ideal traffic {where}", traffic.modelled_seconds(big_ideal, flops, device), cost)
    implementations = [(ANSWER_KEY, "answer key", resolve("solutions", request.config.rootpath))]
    if katas is not None and katas.implementation.folder != implementations[0][2].folder:
        implementations.insert(0, (LEARNER, "your code", katas.implementation))
    for kind, label, implementation in implementations:
        reason = bench.learner_gate(operation) if kind == LEARNER else None
        if reason:
            modelled(operation, kind, label, skipped=reason)
            continue
        try:
            function = implementation.get("gpu", name)
            ratio, note = _emulated_ratio(function, small, _small_ideal(name, small), name)
        except NotImplementedError:
            modelled(operation, kind, label, skipped="not started (the stub raises NotImplementedError)")
            continue
        row(kind, f"{label} (emulated)", ratio, note)
    reference = _reference_ratio(name, small)
    if reference is not None:
        row(KERNELS, "kernels/ (emulated)", reference[0], reference[1])
    else:
        modelled(operation, KERNELS, "kernels/", skipped="not a custom kernel here (cuBLAS / NumPy): no model")
    modelled(operation, CUPY, "CuPy built-in", skipped="needs a CUDA device; the emulator runs only your kernels")


def _reference_ratio(name, small):
    """Traffic ratio of the kernels/ implementation, run on the emulator where it is a custom kernel."""
    from dojo.gpu import cupy_emulator as cp
    from kernels import _sources

    ideal = _small_ideal(name, small)
    if name in ("relu", "sigmoid"):
        spec = _sources.ELEMENTWISE[name]
        kernel = cp.ElementwiseKernel(
            spec.in_params, spec.out_params, spec.operation, spec.name, preamble=_sources.preamble()
        )
        return _emulated_ratio(lambda x: kernel(x), small, ideal)
    if name == "softmax":
        module = cp.RawModule(
            code=_sources.module_source("softmax"), name_expressions=_sources.name_expressions("softmax")
        )
        kernel = module.get_function("kernels_softmax_rows<double>")

        def softmax(x):
            y = cp.empty_like(x)
            kernel((x.shape[0],), (256,), (x, y, np.int64(x.shape[0]), np.int64(x.shape[1])))
            return y

        ratio, note = _emulated_ratio(softmax, small, ideal)
        return ratio, " (3 passes)\n" + note
    return None
