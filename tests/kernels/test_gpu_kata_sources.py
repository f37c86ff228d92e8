"""The answer key's GPU kernels (solutions/gpu.py) compile with ``nvcc -ptx``, as CuPy's NVRTC would.

The emulator compiles the same text with the host C++ compiler; this check
makes sure it is also CUDA that a GPU accepts (no host-only C++ slipped in).
Skipped, with the reason, where ``nvcc`` is not on PATH. Runs with the
emulator as ``cp`` (the kernels' source text is what matters).
"""

from __future__ import annotations

import importlib
import os

import pytest
from test_kernels_cuda_sources import NVCC, entry_points, needs_nvcc, nvcc_ptx

from dojo.gpu import cupy_emulator, source

# left out of the quick tier: every kernel on the emulator and every source: the full suite's part
pytestmark = pytest.mark.slow


def _answer_key_kernels():
    previous = os.environ.get("KATAS_GPU")
    os.environ["KATAS_GPU"] = "emulator"
    try:
        import dojo.gpu

        if not dojo.gpu.emulated():  # a GPU machine: reload with the emulator so the sources read the same
            importlib.reload(dojo.gpu)
        module = importlib.import_module("solutions.gpu")
        if not isinstance(module.cp, type(cupy_emulator)) or not getattr(module.cp, "EMULATED", False):
            module = importlib.reload(module)
    finally:
        if previous is None:
            os.environ.pop("KATAS_GPU", None)
        else:
            os.environ["KATAS_GPU"] = previous
    raw = {name: value for name, value in vars(module).items() if isinstance(value, cupy_emulator.RawKernel)}
    elementwise = {
        name: value for name, value in vars(module).items() if isinstance(value, cupy_emulator.ElementwiseKernel)
    }
    return raw, elementwise


RAW, ELEMENTWISE = _answer_key_kernels()


def test_the_answer_key_has_kernels_to_check():
    assert len(RAW) >= 8 and len(ELEMENTWISE) >= 1, (sorted(RAW), sorted(ELEMENTWISE))


@needs_nvcc
@pytest.mark.parametrize("name", sorted(RAW))
def test_answer_key_raw_kernel_compiles_with_nvcc(name, tmp_path):
    kernel = RAW[name]
    ptx = nvcc_ptx(kernel.code, tmp_path, name)
    assert kernel.name in entry_points(ptx), f"{kernel.name} is not an entry point of the PTX: {entry_points(ptx)}"


@needs_nvcc
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_answer_key_elementwise_kernel_compiles_with_nvcc(name, tmp_path):
    in_params, out_params, operation, kernel_name = ELEMENTWISE[name].specification
    ptx = nvcc_ptx(source.elementwise_cuda(in_params, out_params, operation, kernel_name), tmp_path, name)
    assert entry_points(ptx) == [kernel_name]


def test_nvcc_is_found_or_the_skip_says_why():
    assert NVCC is not None or needs_nvcc.kwargs["reason"]
