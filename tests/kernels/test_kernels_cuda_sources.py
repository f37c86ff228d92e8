"""Every CUDA source of ``kernels`` compiles with ``nvcc -ptx`` (no GPU needed).

On a GPU machine CuPy compiles these same sources with NVRTC at the first
call; here ``nvcc`` stands in, so that a syntax or type error in a kernel
fails CI on every machine that has the CUDA toolkit (skipped, with the
reason, where ``nvcc`` is not on PATH).

* RawModules: the exact text CuPy hands NVRTC (``device_math.cu`` + the
  module's ``.cu``), plus one line per name expression that takes the
  template's address, which forces ``nvcc`` to instantiate it for float and
  double just as NVRTC's ``name_expressions`` do. The PTX must then hold
  exactly those entry points.
* ElementwiseKernels: each body from ``kernels._sources.ELEMENTWISE`` inside
  a small kernel shaped like the one CuPy generates (``typedef <type> T;``,
  inputs as ``const T&``, outputs as ``T&``, one per dtype).

The architecture is pinned to ``compute_75`` (Turing), the oldest one nvcc 13
still accepts and one CUDA 12 accepts too: code that compiles for it compiles
for every newer GPU. ``-std=c++11`` keeps the sources free of newer C++
than older NVRTC versions take by default; warnings are errors.
``KERNELS_NVCC_ARCH`` overrides the architecture.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from kernels import _sources
from kernels.activations import SOFTMAX_BLOCK

# left out of the quick tier: every kernel on the emulator and every source: the full suite's part
pytestmark = pytest.mark.slow

NVCC = shutil.which("nvcc")
ARCH = os.environ.get("KERNELS_NVCC_ARCH", "compute_75")
needs_nvcc = pytest.mark.skipif(
    NVCC is None, reason="nvcc is not on PATH: install the CUDA toolkit to compile-check the kernels"
)


def nvcc_ptx(source: str, tmp_path, stem: str) -> str:
    """Compile ``source`` to PTX; fail the test with nvcc's own message if it does not compile."""
    path = tmp_path / f"{stem}.cu"
    path.write_text(source)
    ptx = tmp_path / f"{stem}.ptx"
    command = [NVCC, "-ptx", f"-arch={ARCH}", "-std=c++11", "-Werror", "all-warnings", "-o", str(ptx), str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}"
    return ptx.read_text()


def entry_points(ptx: str) -> list[str]:
    return re.findall(r"\.entry\s+([A-Za-z_][A-Za-z0-9_]*)", ptx)


# ------------------------------------------------------------- RawModules


def test_every_cu_file_is_a_module_or_the_shared_preamble():
    shipped = set(_sources.cuda_filenames())
    used = {f"{module}.cu" for module in _sources.RAW_MODULES} | {"device_math.cu"}
    assert shipped == used, (
        f"kernels/cuda/ ships {sorted(shipped - used)} that nothing compiles, "
        f"or RAW_MODULES names {sorted(used - shipped)} that do not exist"
    )


@needs_nvcc
@pytest.mark.parametrize("module", sorted(_sources.RAW_MODULES))
def test_raw_module_compiles_for_float_and_double(module, tmp_path):
    instantiate = "\n".join(
        f"void* kernels_instantiate_{n} = (void*)&{expression};"
        for n, expression in enumerate(_sources.name_expressions(module))
    )
    ptx = nvcc_ptx(
        _sources.module_source(module) + "\n// as NVRTC name_expressions do:\n" + instantiate, tmp_path, module
    )
    entries = entry_points(ptx)
    for kernel in _sources.RAW_MODULES[module]:
        mangled = [e for e in entries if f"{len(kernel)}{kernel}I" in e]
        # I f E / I d E: the float and the double instantiation
        assert sorted(e[e.index(kernel) + len(kernel) :][:3] for e in mangled) == ["IdE", "IfE"], (
            f"{kernel}: expected a float and a double entry point in the PTX, found {entries}"
        )
    assert len(entries) == len(_sources.name_expressions(module)), entries


@needs_nvcc
def test_device_math_preamble_compiles_alone(tmp_path):
    nvcc_ptx(_sources.preamble(), tmp_path, "device_math")


def test_softmax_block_size_agrees_with_the_cu_source():
    match = re.search(r"#define\s+KERNELS_SOFTMAX_BLOCK\s+(\d+)", _sources.cuda_source("softmax.cu"))
    assert match and int(match.group(1)) == SOFTMAX_BLOCK, (
        "the Python launch size must equal the shared-memory size the kernel was written for"
    )


# -------------------------------------------------------- ElementwiseKernels


@needs_nvcc
@pytest.mark.parametrize("name", sorted(_sources.ELEMENTWISE))
def test_elementwise_body_compiles_for_float_and_double(name, tmp_path):
    ptx = nvcc_ptx(_sources.preamble() + "\n" + _sources.elementwise_standalone_source(name), tmp_path, name)
    spec = _sources.ELEMENTWISE[name]
    assert sorted(entry_points(ptx)) == sorted(f"{spec.name}_{c}" for c in _sources.FLOAT_TYPES)


def test_nvcc_check_would_catch_a_type_error(tmp_path):
    """The compile check is not vacuous: a body with an undeclared name fails it."""
    if NVCC is None:
        pytest.skip("nvcc is not on PATH")
    broken = _sources.preamble() + '\nextern "C" __global__ void k(float* y) { y[0] = undeclared_name; }\n'
    with pytest.raises(AssertionError, match="undeclared_name"):
        nvcc_ptx(broken, tmp_path, "broken")
