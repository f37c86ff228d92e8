"""The ``kernels`` package's contract besides the numbers: backends, errors, describe(), cost()."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import kernels
from kernels import _dispatch

# left out of the quick tier: every kernel on the emulator and every source: the full suite's part
pytestmark = pytest.mark.slow


def test_backend_and_reason_agree_with_the_runtime_probe():
    assert kernels.backend() == ("cupy" if kernels.gpu_available() else "numpy")
    reason = kernels.why_no_gpu()
    assert isinstance(reason, str) and reason
    if not kernels.gpu_available():
        assert reason.startswith("no GPU: ")


def test_importing_kernels_never_imports_cupy():
    code = "import sys, kernels; kernels.relu(__import__('numpy').ones(3)); print('cupy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_describe_names_the_backend_and_the_device():
    info = kernels.describe()
    assert {
        "backend",
        "device",
        "compute_capability",
        "cupy_version",
        "cuda_runtime",
        "numpy_version",
        "reason",
    } <= set(info)
    assert info["backend"] == kernels.backend()
    if kernels.gpu_available():
        assert info["compute_capability"] and info["cupy_version"] and "NumPy" not in info["device"]
    else:
        assert info["compute_capability"] is None and "NumPy fallback" in info["device"]


def test_numpy_arrays_run_the_numpy_fallback_and_say_so():
    kernels.softmax(np.ones((2, 3)))
    assert kernels.last_backend() == "numpy"


def test_array_module_shim_without_cupy_is_numpy(monkeypatch):
    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    assert _dispatch.array_module(np.ones(2), None) is np


@pytest.mark.skipif(not kernels.gpu_available(), reason=kernels.why_no_gpu())
def test_mixing_numpy_and_cupy_arrays_is_refused():
    import cupy

    with pytest.raises(TypeError, match="cupy.asarray"):
        kernels.dense_forward(cupy.ones((2, 3)), np.ones((3, 4)), np.zeros(4))


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.complex128])
def test_non_float_dtypes_are_refused_with_the_fix(dtype):
    with pytest.raises(TypeError, match=r"float32 or float64; received dtype=.*astype"):
        kernels.relu(np.ones(3, dtype=dtype))


def test_mixed_float_dtypes_promote_like_numpy():
    y = kernels.dense_forward(np.ones((2, 3), np.float32), np.ones((3, 4)), np.zeros(4, np.float32))
    assert y.dtype == np.float64


def test_bias_none_means_no_bias():
    x, kernel = np.arange(6.0).reshape(2, 3), np.ones((3, 2))
    np.testing.assert_array_equal(kernels.dense_forward(x, kernel, None), x @ kernel)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: kernels.dense_forward(np.ones((2, 3)), np.ones((3, 4)), np.zeros(4), activation="softmax"),
            "activation must be None",
        ),
        (lambda: kernels.dense_forward(np.ones((2, 5)), np.ones((3, 4)), np.zeros(4)), "do not line up"),
        (lambda: kernels.conv2d(np.ones((1, 4, 4, 2)), np.ones((3, 3, 3, 1)), np.zeros(1)), "in_channels"),
        (lambda: kernels.im2col(np.ones((4, 4, 2)), (3, 3)), "NHWC"),
        (lambda: kernels.max_pool2d(np.ones((1, 4, 4, 1)), padding="full"), 'padding must be "valid" or "same"'),
        (lambda: kernels.max_pool2d(np.ones((1, 4, 4, 1)), pool_size=0), "pool_size must be a positive int"),
        (lambda: kernels.max_pool2d_backward(np.ones((1, 3, 3, 1)), np.ones((1, 4, 4, 1))), "dout must have the shape"),
        (
            lambda: kernels.lstm_cell(
                np.ones((2, 3)), np.ones((2, 4)), np.ones((2, 4)), np.ones((3, 12)), np.ones((4, 16)), np.ones(16)
            ),
            "lstm_cell shapes do not line up",
        ),
        (lambda: kernels.softmax(np.float64(1.0)), "at least one axis"),
    ],
)
def test_bad_arguments_are_refused_with_the_received_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_nan_filled_outputs_is_scoped_and_visible_in_unwritten_elements():
    with kernels.nan_filled_outputs():
        assert np.isnan(_dispatch.output(np, (3,), np.float64)).all()
    # outside the block the mode is off again (unless the environment asks for it)
    if not _dispatch._nan_fill:
        assert not getattr(_dispatch._state, "nan_fill", False)


def test_scalars_and_lists_keep_their_shape():
    assert kernels.relu(np.float64(-2.0)).shape == ()
    np.testing.assert_array_equal(kernels.relu([[-1.0, 2.0]]), [[0.0, 2.0]])


def test_non_contiguous_inputs_are_read_correctly():
    x = np.arange(24.0).reshape(4, 6)[:, ::2].T  # strided and transposed
    np.testing.assert_allclose(kernels.softmax(x).sum(axis=-1), 1.0)
    np.testing.assert_array_equal(kernels.relu(x - 10), np.maximum(x - 10, 0))


def test_empty_inputs_give_empty_outputs():
    assert kernels.relu(np.ones((0, 3))).shape == (0, 3)
    assert kernels.softmax(np.ones((0, 3))).shape == (0, 3)
    assert kernels.softmax(np.ones((3, 0))).shape == (3, 0)
    assert kernels.im2col(np.ones((1, 2, 2, 1)), (3, 3)).shape == (0, 9)  # no window fits
    assert kernels.max_pool2d_backward(np.ones((0, 2, 2, 1)), np.ones((0, 4, 4, 1))).shape == (0, 4, 4, 1)


# ---------------------------------------------------------------------- cost


def test_cost_knows_every_public_op():
    for op in kernels.OPS:
        assert callable(getattr(kernels, op)), op
    with pytest.raises(ValueError, match="no cost model"):
        kernels.cost("gelu", np.ones(3))


def test_cost_of_elementwise_and_softmax():
    x = np.ones((10, 20), np.float32)
    assert kernels.cost("relu", x) == (2 * 200 * 4, 200)
    assert kernels.cost(kernels.softmax, x) == (2 * 200 * 4, 5 * 200)


def test_cost_of_dense_counts_the_matmul_as_2mkn():
    x, kernel, bias = np.ones((32, 784)), np.ones((784, 128)), np.ones(128)
    moved, flops = kernels.cost("dense_forward", x, kernel, bias, activation="relu")
    assert moved == (32 * 784 + 784 * 128 + 128 + 32 * 128) * 8
    assert flops == 2 * 32 * 784 * 128 + 32 * 128 * 2


def test_cost_of_conv2d_uses_keras_output_size():
    x, kernel, bias = np.ones((2, 7, 6, 3)), np.ones((3, 3, 3, 4)), np.ones(4)
    _, flops = kernels.cost("conv2d", x, kernel, bias, strides=2, padding="same")
    out = kernels.conv2d(x, kernel, bias, strides=2, padding="same")
    positions = out.shape[0] * out.shape[1] * out.shape[2]
    assert flops == 2 * positions * 3 * 3 * 3 * 4 + out.size


def test_cost_of_pooling_and_lstm_are_positive_and_scale_with_size():
    small, large = np.ones((1, 4, 4, 2)), np.ones((1, 8, 8, 2))
    assert kernels.cost("max_pool2d", large) > kernels.cost("max_pool2d", small)
    dout = np.ones((1, 2, 2, 2))
    assert kernels.cost("max_pool2d_backward", dout, small).flops == 8 * (4 + 1)
    args = [np.ones(s) for s in [(4, 3), (4, 5), (4, 5), (3, 20), (5, 20), (20,)]]
    moved, flops = kernels.cost("lstm_cell", *args)
    assert flops >= 2 * 4 * (3 + 5) * 20 and moved == (12 + 20 + 20 + 60 + 100 + 20 + 40) * 8
