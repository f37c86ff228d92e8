"""The CPU emulator of dojo.gpu: results, faults named, races found, traffic counted, binaries cached.

Each test builds a tiny kernel, as a learner would, and checks what the
emulator does with it. No GPU is needed; a C++ compiler is (the emulator's
own requirement, which one test checks is explained in one line).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from dojo.gpu import cupy_emulator as cp
from dojo.gpu import runtime, traffic
from dojo.gpu.runtime import KernelCompileError, KernelFault, NoCompiler

pytestmark = pytest.mark.slow  # left out of the quick tier: kernels compiled and run on the emulator

COPY = r"""
extern "C" __global__ void copy(const double* x, double* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i];
}
"""


def _launch(code, name, grid, block, *args, shared_mem=0):
    cp.RawKernel(code, name)(grid, block, args, shared_mem=shared_mem)


def test_a_kernel_computes_and_leaves_unwritten_elements_nan():
    x = cp.asarray(np.arange(10.0))
    y = cp.empty(12)
    _launch(COPY, "copy", (3,), (4,), x, y, np.int32(10))
    assert np.array_equal(cp.asnumpy(y)[:10], np.arange(10.0))
    assert np.isnan(cp.asnumpy(y)[10:]).all()


def test_out_of_bounds_names_thread_block_array_and_index():
    code = COPY.replace("if (i < n) ", "")
    with pytest.raises(KernelFault, match=r"thread \(2,0,0\) of block \(2,0,0\) read x\[10\], but x has 10 elements"):
        _launch(code, "copy", (3,), (4,), cp.asarray(np.arange(10.0)), cp.empty(10), np.int32(10))


def test_missing_barrier_in_shared_memory_is_named():
    code = r"""
extern "C" __global__ void total(const double* x, double* out) {
    __shared__ double partial[8];
    int t = threadIdx.x;
    partial[t] = x[t];
    for (int s = 4; s > 0; s /= 2) { if (t < s) partial[t] += partial[t + s]; }
    if (t == 0) out[0] = partial[0];
}
"""
    with pytest.raises(KernelFault, match=r"__syncthreads\(\) is missing"):
        _launch(code, "total", (1,), (8,), cp.asarray(np.ones(8)), cp.empty(1))
    fixed = code.replace("partial[t] = x[t];", "partial[t] = x[t]; __syncthreads();").replace(
        "partial[t + s]; }", "partial[t + s]; __syncthreads(); }"
    )
    out = cp.empty(1)
    _launch(fixed, "total", (1,), (8,), cp.asarray(np.arange(8.0)), out)
    assert out[0] == 28.0


def test_a_race_is_found_even_when_the_schedule_hides_it():
    # Coroutine threads never interleave inside `+=`, so the sum comes out right here; the shadow
    # memory still sees two unordered writes and names the race.
    code = r"""
extern "C" __global__ void add(const double* x, double* out) { out[0] += x[threadIdx.x]; }
"""
    with pytest.raises(KernelFault, match=r"data race on out\[0\].*atomicAdd"):
        _launch(code, "add", (1,), (4,), cp.asarray(np.ones(4)), cp.zeros(1))
    atomic = code.replace("out[0] += x[threadIdx.x];", "atomicAdd(&out[0], x[threadIdx.x]);")
    out = cp.zeros(1)
    _launch(atomic, "add", (2,), (4,), cp.asarray(np.ones(4)), out)
    assert out[0] == 8.0


def test_races_between_blocks_are_named():
    code = r"""
extern "C" __global__ void stamp(double* y) { y[threadIdx.x] = blockIdx.x; }
"""
    with pytest.raises(KernelFault, match="different blocks never synchronise"):
        _launch(code, "stamp", (2,), (4,), cp.empty(4))


def test_a_barrier_not_every_thread_reaches_is_reported_not_hung():
    code = r"""
extern "C" __global__ void early(double* y) {
    if (threadIdx.x >= 2) return;
    __syncthreads();
    y[threadIdx.x] = 1.0;
}
"""
    with pytest.raises(
        KernelFault,
        match=r"divergent barrier in block \(0,0,0\): 2 threads .* wait at the __syncthreads\(\) on line (\d+) "
        r"while 2 .* have returned without reaching it.*the threads that returned on line \d+ never reach it",
    ):
        _launch(code, "early", (1,), (4,), cp.empty(4))


def test_too_little_dynamic_shared_memory_is_named():
    code = r"""
extern "C" __global__ void stage(const double* x, double* y) {
    extern __shared__ double buffer[];
    buffer[threadIdx.x] = x[threadIdx.x];
    __syncthreads();
    y[threadIdx.x] = buffer[blockDim.x - 1 - threadIdx.x];
}
"""
    with pytest.raises(KernelFault, match=r"dynamic shared buffer\[4\], but the launch gave shared_mem=32 bytes"):
        _launch(code, "stage", (1,), (8,), cp.asarray(np.arange(8.0)), cp.empty(8), shared_mem=32)
    y = cp.empty(8)
    _launch(code, "stage", (1,), (8,), cp.asarray(np.arange(8.0)), y, shared_mem=64)
    assert np.array_equal(cp.asnumpy(y), np.arange(8.0)[::-1])


def test_compile_errors_show_the_learners_line():
    code = '\nextern "C" __global__ void broken(double* y) {\n    y[0] = undeclared_name;\n}\n'
    kernel = cp.RawKernel(code, "broken")
    with pytest.raises(KernelCompileError, match=r"test_gpu_emulator.py:\d+:\d+: error: .*undeclared_name"):
        kernel((1,), (1,), (cp.empty(1),))


def test_a_missing_compiler_is_one_line_saying_what_to_install(monkeypatch):
    monkeypatch.setattr(runtime.shutil, "which", lambda name: None)
    monkeypatch.delenv("CXX", raising=False)
    with pytest.raises(NoCompiler, match="install g\\+\\+") as error:
        runtime.compiler()
    assert "\n" not in str(error.value)


def test_arguments_are_checked_like_cupy_and_stricter():
    kernel = cp.RawKernel(COPY, "copy")
    x, y = cp.asarray(np.arange(4.0)), cp.empty(4)
    with pytest.raises(TypeError, match="NumPy array in host memory"):
        kernel((1,), (4,), (np.arange(4.0), y, np.int32(4)))
    with pytest.raises(TypeError, match="float32 array, but the kernel declares `double\\* x`"):
        kernel((1,), (4,), (cp.asarray(np.arange(4.0, dtype=np.float32)), y, np.int32(4)))
    with pytest.raises(ValueError, match="not C-contiguous"):
        kernel((1,), (4,), (cp.asarray(np.ones((4, 4)))[:, 0], y, np.int32(4)))
    with pytest.raises(TypeError, match=r"pass np.int32"):
        kernel((1,), (4,), (x, y, 4))
    with pytest.raises(TypeError, match="takes 3 arguments"):
        kernel((1,), (4,), (x, y))
    with pytest.raises(ValueError, match="at most 1024"):
        kernel((1,), (2048,), (x, y, np.int32(4)))
    with pytest.raises(ValueError, match="ceiling division"):
        kernel((0,), (4,), (x, y, np.int32(4)))


def _copy_kernel():
    return cp.RawKernel(COPY, "copy")  # one place in a file, as a learner's module-level kernel


def test_compiled_kernels_are_cached_by_source_hash(monkeypatch):
    _copy_kernel()((1,), (4,), (cp.asarray(np.ones(4)), cp.empty(4), np.int32(4)))

    def no_compiling(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr(runtime.subprocess, "run", no_compiling)
    _copy_kernel()((1,), (4,), (cp.asarray(np.ones(4)), cp.empty(4), np.int32(4)))  # a rerun: from the cache


def test_elementwise_and_reduction_kernels():
    add = cp.ElementwiseKernel("T x, T b", "T y", "y = x + b", "add_bias")
    x, b = np.arange(6.0).reshape(2, 3), np.array([10.0, 20.0, 30.0])
    assert np.array_equal(cp.asnumpy(add(cp.asarray(x), cp.asarray(b))), x + b)
    total = cp.ReductionKernel("T x", "T y", "x * x", "a + b", "y = a", "0", "sum_squares")
    assert np.allclose(cp.asnumpy(total(cp.asarray(x), axis=1)), (x * x).sum(1))


# ------------------------------------------------------------------ traffic


def test_an_ideal_kernel_reports_exactly_the_ideal_and_a_wasteful_one_twice_the_reads():
    x = cp.asarray(np.arange(128.0))
    with traffic.recording() as launches:
        _launch(COPY, "copy", (4,), (32,), x, cp.empty(128), np.int32(128))
    ideal = traffic.ideal_bytes([x], [x])
    measured = traffic.measure(launches)
    assert measured.total == ideal == 2048
    at_once = COPY.replace("y[i] = x[i];", "y[i] = x[i] > 0.0 ? x[i] : x[i];")
    with traffic.recording() as launches:
        _launch(at_once, "copy", (4,), (32,), x, cp.empty(128), np.int32(128))
    assert traffic.measure(launches).read["x"] == x.nbytes  # the same element again at once: a register
    twice = COPY.replace("if (i < n) y[i] = x[i];", "double a = x[i]; __syncthreads(); y[i] = x[i] + a - a;")
    with traffic.recording() as launches:
        _launch(twice, "copy", (4,), (32,), x, cp.empty(128), np.int32(128))
    measured = traffic.measure(launches)
    assert measured.read["x"] == 2 * x.nbytes, "the wasteful kernel reads x twice"
    text = traffic.report(measured, ideal, arrays={"x": x.nbytes})
    assert "reads x twice" in text and "1.5x the minimum traffic" in text and "(modelled)" in text


def test_modelled_time_is_the_roofline_on_the_named_device():
    assert traffic.modelled_seconds(4.8e9, 0) == pytest.approx(1e-3)  # 4.8 GB at 4.8 TB/s
    assert traffic.modelled_seconds(0, 34e9) == pytest.approx(1e-3)  # 34 GFLOP at 34 TFLOPS
    assert "4.8 TB/s" in traffic.H200.source


@pytest.mark.parametrize(
    "name, args, ideal",
    [
        ("leaky_relu", lambda rng: (rng.normal(size=(37, 11)),), lambda x: 2 * x.nbytes),
        ("relu", lambda rng: (rng.normal(size=(257,)),), lambda x: 2 * x.nbytes),
        ("sigmoid", lambda rng: (rng.normal(size=(1000,)),), lambda x: 2 * x.nbytes),
        ("row_sums", lambda rng: (rng.normal(size=(5, 300)),), lambda x: x.nbytes + 8 * x.shape[0]),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_the_answer_keys_ideal_kernels_report_the_counted_ideal(name, args, ideal):
    from solutions import gpu

    host = args(np.random.default_rng(0))
    with traffic.recording() as launches:
        getattr(gpu, name)(*(cp.asarray(a) for a in host))
    assert traffic.measure(launches).total == ideal(*host)


def test_the_reference_softmax_of_kernels_runs_on_the_emulator_and_reads_x_twice():
    from kernels import _sources

    module = cp.RawModule(code=_sources.module_source("softmax"), name_expressions=_sources.name_expressions("softmax"))
    kernel = module.get_function("kernels_softmax_rows<double>")
    host = np.random.default_rng(1).normal(size=(3, 300))
    x, y = cp.asarray(host), cp.empty((3, 300))
    with traffic.recording() as launches:
        kernel((2,), (256,), (x, y, np.int64(3), np.int64(300)))
    e = np.exp(host - host.max(1, keepdims=True))
    assert np.allclose(cp.asnumpy(y), e / e.sum(1, keepdims=True))
    measured = traffic.measure(launches)
    # three passes: max (reads x), exp (reads x, writes y), scale (reads and writes y)
    assert measured.read == {"x": 2 * host.nbytes, "y": host.nbytes}
    assert measured.written == {"y": 2 * host.nbytes}


def test_a_failing_kata_draws_one_picture_the_first_failing_checks(tmp_path, monkeypatch):
    """Every check of a kata draws into ``.katas/gpu/<kata>.png``: only the first failure's picture is
    drawn (the one its message, which the report shows, names); the later checks do not redraw it."""
    from dojo.gpu import checks
    from dojo.testkit.checks import KataFailure

    monkeypatch.setenv("KATAS_ROOT", str(tmp_path))
    monkeypatch.setattr(checks, "_FAILURE_DRAWN", set(), raising=False)
    drawn = []
    monkeypatch.setattr("dojo.gpu.picture.draw", lambda launch, path, title="": drawn.append(title) or path)
    unguarded = COPY.replace("if (i < n) ", "")

    def copy_without_the_guard(x):
        y = cp.empty_like(x)
        cp.RawKernel(unguarded, "copy")(((x.size + 3) // 4,), (4,), (x, y, np.int32(x.size)))
        return y

    messages = []
    for size in (3, 5, 7):
        with pytest.raises(KataFailure) as failure:
            checks.run(copy_without_the_guard, np.arange(float(size)), kata_id="gpu.copy", call=f"copy({size})")
        messages.append(str(failure.value))
    assert drawn == ["copy(3): the launch that stopped"]
    assert "picture of which thread touched which element" in messages[0]
    assert not any("picture" in m for m in messages[1:])


def _cell_colour(image, panel, row, col):
    left, top, _, _ = panel.cell_box(row, col)
    return image.getpixel((left + 2, top + 2))  # inside the cell, clear of its border and its label


def test_the_picture_colours_cells_by_block_leaves_untouched_ones_white_and_marks_the_fault(tmp_path):
    from PIL import Image

    from dojo.gpu import picture

    x, y = cp.asarray(np.arange(10.0)), cp.empty(12)
    _launch(COPY, "copy", (3,), (4,), x, y, np.int32(10))  # 12 threads, 10 guarded copies
    launch = runtime.LAUNCHES[-1]
    image = Image.open(picture.draw(launch, tmp_path / "copy.png", "copy(10)")).convert("RGB")
    x_panel, y_panel = picture.layout(launch)
    assert "x (10,): cell = read by thread" in x_panel.heading()
    assert _cell_colour(image, y_panel, 0, 0) == picture.BLOCK_COLOURS[0]
    assert _cell_colour(image, y_panel, 0, 5) == picture.BLOCK_COLOURS[1]  # element 5: thread 1 of block 1
    assert _cell_colour(image, y_panel, 0, 11) == picture.UNTOUCHED  # past n: no thread wrote it

    with pytest.raises(KernelFault) as fault:
        _launch(COPY.replace("if (i < n) ", ""), "copy", (3,), (4,), x, cp.empty(10), np.int32(10))
    launch = fault.value.launch
    image = Image.open(picture.draw(launch, tmp_path / "fault.png")).convert("RGB")
    x_panel = picture.layout(launch)[0]
    assert x_panel.fault_index == 10 and x_panel.fault_cell() == (1, 0)  # the row below: x has one row of 10
    assert _cell_colour(image, x_panel, *x_panel.fault_cell()) == picture.FAULT


def test_a_2d_array_is_drawn_in_its_own_rows_and_columns(tmp_path):
    """A row/column mistake shows as a band of rows: the window keeps the array's rows, the first 30 of 37."""
    from PIL import Image

    from dojo.gpu import picture

    elements = 37 * 13
    writers = np.where(np.arange(elements) < 16 * 13, np.arange(elements) % 256, -1)  # the first 16 rows only
    array = runtime.ArrayTraffic("y", elements, 8, 0, elements, 0, False, writers, writers, (37, 13))
    launch = runtime.Launch("add_bias", (1, 1, 1), (16, 16, 1), 0, 0, [array])
    (panel,) = picture.layout(launch)
    assert (panel.rows, panel.cols) == (30, 13)
    assert "the first 30 of 37 rows" in panel.heading()
    assert picture._label(17, 256, (16, 16, 1)) == (0, "1,1")
    image = Image.open(picture.draw(launch, tmp_path / "2d.png")).convert("RGB")
    assert _cell_colour(image, panel, 15, 12) == picture.BLOCK_COLOURS[0]
    assert _cell_colour(image, panel, 16, 0) == picture.UNTOUCHED


def test_the_same_kernel_in_another_copy_of_the_course_is_not_compiled_again(monkeypatch, tmp_path):
    """Each mutation self-test copies the course to a folder of its own: a kernel's file is only named in
    compiler errors, so it is not part of the cache key; its line is (a barrier's report names it)."""
    monkeypatch.setenv("KATAS_GPU_CACHE", str(tmp_path / "cache"))
    code = COPY.replace("y[i] = x[i];", "y[i] = x[i] + 1.0;")

    def launch_from(path, line=1):
        namespace = {"cp": cp, "code": code}
        exec(compile("\n" * (line - 1) + "kernel = cp.RawKernel(code, 'copy')", str(path), "exec"), namespace)
        y = cp.empty(4)
        namespace["kernel"]((1,), (4,), (cp.asarray(np.ones(4)), y, np.int32(4)))
        return cp.asnumpy(y)

    compiled = []
    real_run = runtime.subprocess.run
    monkeypatch.setattr(runtime.subprocess, "run", lambda *a, **k: compiled.append(a) or real_run(*a, **k))
    runtime._load.cache_clear()
    assert np.array_equal(launch_from(tmp_path / "copy1" / "gpu.py"), np.full(4, 2.0))
    assert np.array_equal(launch_from(tmp_path / "copy2" / "gpu.py"), np.full(4, 2.0))
    assert len(compiled) == 1
    launch_from(tmp_path / "copy2" / "gpu.py", line=7)  # moved down the file: its lines change
    assert len(compiled) == 2
    broken = cp.RawKernel(code.replace("x[i] + 1.0;", "x[i] +;"), "copy", _where=("copy3/gpu.py", 4))
    with pytest.raises(KernelCompileError, match=r"copy3/gpu\.py"):  # an error still names the real file
        broken((1,), (4,), (cp.asarray(np.ones(4)), cp.empty(4), np.int32(4)))


def test_no_block_is_drawn_in_the_red_of_a_fault():
    import colorsys

    from dojo.gpu import picture

    def reddish(colour):  # a bright, saturated colour whose hue is within 15 degrees of red
        hue, saturation, value = colorsys.rgb_to_hsv(*(c / 255 for c in colour))
        return min(hue, 1 - hue) * 360 < 15 and saturation > 0.3 and value > 0.6

    assert reddish(picture.FAULT)
    assert not any(reddish(colour) for colour in picture.BLOCK_COLOURS)


# ------------------------------------------------------- races, as a sanitizer sees them


def test_the_halving_race_of_a_reduction_names_both_threads_lines_and_the_hazard():
    """No barrier between the levels of a tree: thread 0 reads partial[1] before thread 1 writes it."""
    code = r"""
extern "C" __global__ void total(const double* x, double* out) {
    __shared__ double partial[8];
    int t = threadIdx.x;
    partial[t] = x[t];
    __syncthreads();
    for (int s = 4; s > 0; s /= 2) {
        if (t < s) partial[t] += partial[t + s];
    }
    if (t == 0) out[0] = partial[0];
}
"""
    with pytest.raises(KernelFault) as fault:
        _launch(code, "total", (1,), (8,), cp.asarray(np.ones(8)), cp.empty(1))
    assert re.search(
        r"data race on shared partial\[\d\] \(a write after a read\): thread \(0,0,0\) of block \(0,0,0\) read it "
        r"on line (\d+), and thread \(\d,0,0\) of block \(0,0,0\) wrote it on line \1, in the same barrier interval",
        str(fault.value),
    ), fault.value
    assert "__syncthreads() is missing" in str(fault.value)


def test_two_writes_to_one_shared_element_in_one_interval_are_a_write_after_a_write():
    code = r"""
extern "C" __global__ void last(double* out) {
    __shared__ double slot;
    slot = threadIdx.x;
    __syncthreads();
    if (threadIdx.x == 0) out[0] = slot;
}
"""
    with pytest.raises(KernelFault, match=r"data race on shared slot\[0\] \(a write after a write\).*its own element"):
        _launch(code, "last", (1,), (4,), cp.empty(1))


def test_a_read_of_what_another_block_wrote_is_a_race_across_blocks():
    code = r"""
extern "C" __global__ void shift(double* y) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    y[i] = i;
    if (threadIdx.x == 0 && i > 0) y[i] += y[i - 1];
}
"""
    with pytest.raises(KernelFault) as fault:
        _launch(code, "shift", (2,), (4,), cp.empty(8))
    message = str(fault.value)
    assert re.search(r"data race on y\[3\] \(a read after a write\): thread \(3,0,0\) of block \(0,0,0\)", message)
    assert "thread (0,0,0) of block (1,0,0) read it" in message and "different blocks never synchronise" in message


def test_a_barrier_inside_a_branch_is_a_divergent_barrier_named_with_the_branch():
    code = r"""
extern "C" __global__ void total(const double* x, double* out) {
    __shared__ double partial[8];
    int t = threadIdx.x;
    partial[t] = x[t];
    __syncthreads();
    for (int s = 4; s > 0; s /= 2) {
        if (t < s) {
            partial[t] += partial[t + s];
            __syncthreads();
        }
    }
    if (t == 0) out[0] = partial[0];
}
"""
    kernel = cp.RawKernel(code, "total")
    with pytest.raises(KernelFault) as fault:
        kernel((1,), (8,), (cp.asarray(np.ones(8)), cp.empty(1)))
    first = kernel._where[1]
    message = str(fault.value)
    assert f"wait at the __syncthreads() on line {first + 9}" in message
    assert f"inside `if (t < s)` (line {first + 7})" in message
    assert "is missing" not in message


def test_barriers_at_two_different_places_are_divergent():
    code = r"""
extern "C" __global__ void split(double* y) {
    if (threadIdx.x % 2) {
        y[threadIdx.x] = 1.0;
        __syncthreads();
    } else {
        y[threadIdx.x] = 2.0;
        __syncthreads();
    }
}
"""
    with pytest.raises(KernelFault, match=r"wait at the one on line \d+.*inside `else` of `if \(threadIdx.x % 2\)`"):
        _launch(code, "split", (1,), (4,), cp.empty(4))


def test_a_race_the_shadow_memory_cannot_see_shows_in_the_reverse_thread_order():
    """A __device__ variable is memory the emulator does not shadow: the second order still catches it."""
    from dojo.gpu import checks
    from dojo.testkit.checks import KataFailure

    kernel = cp.RawKernel(
        r"""
__device__ double last_value;
extern "C" __global__ void publish(const double* x, double* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) last_value = x[i];
    __syncthreads();
    if (i < n) y[i] = last_value;
}
""",
        "publish",
    )

    def kata(x):
        y = cp.empty_like(x)
        kernel((1,), (8,), (x, y, np.int32(x.size)))
        return y

    with pytest.raises(KataFailure, match=r"depends on the order the threads run in: element 0 is .*could not pin"):
        checks.run(kata, np.arange(8.0), kata_id="selftest.publish", call="publish(x)")


def test_atomics_in_another_order_may_round_differently_and_still_pass():
    from dojo.gpu import checks

    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void total(const double* x, double* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) atomicAdd(&out[0], x[i]);
}
""",
        "total",
    )

    def kata(x):
        out = cp.zeros(1)
        kernel((4,), (32,), (x, out, np.int32(x.size)))
        return out

    x = np.random.default_rng(0).normal(size=100) * 1e3
    run = checks.run(kata, x, kata_id="selftest.total", call="total(x)")
    assert np.isclose(run.results[0][0], x.sum())


# ------------------------------------------------------- device code only, loops bounded


@pytest.mark.parametrize(
    "line, refused",
    [
        ("#include <cstdlib>", r"includes <cstdlib>, a host header"),
        ('    system("touch /tmp/dojo-should-not-exist");', r"calls system\(\), a host function"),
        ('    FILE* f = fopen("/tmp/x", "w");', r"calls fopen\(\), a host function"),
        ("    if (fork() == 0) y[0] = 1.0;", r"calls fork\(\), a host function"),
        ('    asm("nop");', r"uses `asm`"),
    ],
)
def test_device_code_that_calls_the_host_is_refused_at_compile_time(line, refused, tmp_path):
    code = f'\n{line if line.startswith("#") else ""}\nextern "C" __global__ void k(double* y) {{\n'
    code += f"{'' if line.startswith('#') else line}\n    y[0] = 0.0;\n}}\n"
    kernel = cp.RawKernel(code, "k")
    with pytest.raises(KernelCompileError, match=r"your kernel `k` \(.*line \d+\) " + refused):
        kernel((1,), (1,), (cp.empty(1),))


def test_a_device_function_named_like_a_host_function_is_the_learners_own():
    code = r"""
__device__ double read(const double* x, int i) { return x[i]; }
extern "C" __global__ void k(const double* x, double* y) { y[threadIdx.x] = read(x, threadIdx.x); }
"""
    y = cp.empty(3)
    _launch(code, "k", (1,), (3,), cp.asarray(np.arange(3.0)), y)
    assert np.array_equal(cp.asnumpy(y), np.arange(3.0))


def test_a_loop_that_touches_no_memory_is_stopped_and_named_with_its_line():
    code = r"""
extern "C" __global__ void spin(double* y, int n) {
    double v = 0.0;
    for (int k = 0; k < n; k += 0) {
        v += 1.0;
    }
    y[0] = v;
}
"""
    kernel = cp.RawKernel(code, "spin")
    with pytest.raises(KernelFault, match=rf"went round the loop on line {kernel._where[1] + 3} \d+ times without"):
        kernel((1,), (1,), (cp.empty(1), np.int32(5)))


# ------------------------------------------------------- ElementwiseKernel as CuPy runs it


def test_elementwise_arguments_are_indexed_through_their_strides_as_in_cupy():
    """Views, transposes, reversed and broadcast inputs, a strided output: no copies, no refusals."""
    kernel = cp.ElementwiseKernel("T a, T b", "T y", "y = a * 2 + b", "strided_axpy")
    rng = np.random.default_rng(0)
    a_host, b_host = rng.normal(size=(5, 8)), rng.normal(size=(8,))
    a, b = cp.asarray(a_host), cp.asarray(b_host)
    assert np.allclose(kernel(a.T, b[None, :5]), a_host.T * 2 + b_host[None, :5])
    assert np.allclose(kernel(a[:, ::-2], b[::-2]), a_host[:, ::-2] * 2 + b_host[::-2])
    out = cp.empty((8, 5)).T
    kernel(a, b, out)
    assert np.allclose(cp.asnumpy(out), a_host * 2 + b_host)


def test_chainers_lstm_kernel_runs_on_strided_gate_views():
    """The production pattern that was refused: the four gates as strided views of one array."""
    lstm = cp.ElementwiseKernel(
        "T c_prev, T a, T i_, T f, T o",
        "T c, T h",
        """
        T aa = tanh(a);
        T ai = 1 / (1 + exp(-i_));
        T af = 1 / (1 + exp(-f));
        T ao = 1 / (1 + exp(-o));
        c = aa * ai + af * c_prev;
        h = ao * tanh(c);
        """,
        "lstm_fwd",
    )
    rng = np.random.default_rng(1)
    gates, c_prev = rng.normal(size=(3, 6, 4)), rng.normal(size=(3, 6))
    g = cp.asarray(gates)
    c, h = lstm(cp.asarray(c_prev), g[:, :, 0], g[:, :, 1], g[:, :, 2], g[:, :, 3])

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    expected_c = np.tanh(gates[..., 0]) * sigmoid(gates[..., 1]) + sigmoid(gates[..., 2]) * c_prev
    assert np.allclose(cp.asnumpy(c), expected_c, rtol=1e-14)
    assert np.allclose(cp.asnumpy(h), sigmoid(gates[..., 3]) * np.tanh(expected_c), rtol=1e-14)


def test_elementwise_messages_use_only_the_learners_names():
    kernel = cp.ElementwiseKernel("T a", "T y", "y = a / 0.0 + undefined_thing", "names_only")
    with pytest.raises(KernelCompileError) as error:
        kernel(cp.asarray(np.ones(3)))
    assert "_raw_" not in str(error.value)
    with pytest.raises(ValueError, match=r"names_only2: the inputs do not broadcast to one shape: a \(3,\), b \(4,\)"):
        cp.ElementwiseKernel("T a, T b", "T y", "y = a + b", "names_only2")(cp.ones(3), cp.ones(4))


# ------------------------------------------------------- warps


VOTES = r"""
extern "C" __global__ void votes(const int* x, unsigned* out) {
    unsigned b = __ballot_sync(0xffffffff, x[threadIdx.x] > 0);
    int a = __any_sync(0xffffffff, x[threadIdx.x] > 5);
    int l = __all_sync(0xffffffff, x[threadIdx.x] >= 0);
    double v = __shfl_xor_sync(0xffffffff, (double)threadIdx.x, 1);
    int u = __shfl_up_sync(0xffffffff, (int)threadIdx.x, 3);
    int s = __shfl_sync(0xffffffff, (int)threadIdx.x, 5, 8);
    int d = __shfl_down_sync(0xffffffff, (int)threadIdx.x, 2, 16);
    if (threadIdx.x == 0) { out[0] = b; out[1] = a; out[2] = l; out[3] = __activemask(); }
    out[4 + 4 * threadIdx.x] = (unsigned)v; out[5 + 4 * threadIdx.x] = u;
    out[6 + 4 * threadIdx.x] = s; out[7 + 4 * threadIdx.x] = d;
}
"""


def test_warp_votes_and_shuffles_behave_as_cuda_documents():
    x = cp.asarray(np.array([lane % 3 for lane in range(32)], dtype=np.int32))
    out = cp.zeros(4 + 4 * 32, dtype=np.uint32)
    _launch(VOTES, "votes", (1,), (32,), x, out)
    got = cp.asnumpy(out)
    assert got[0] == sum(1 << lane for lane in range(32) if lane % 3)  # ballot: the lanes whose x > 0
    assert (got[1], got[2], got[3]) == (0, 1, 0xFFFFFFFF)  # any(x > 5), all(x >= 0), every lane active
    lanes = np.arange(32)
    per_lane = got[4:].reshape(32, 4)
    assert np.array_equal(per_lane[:, 0], lanes ^ 1)  # xor butterfly partner
    assert np.array_equal(per_lane[:, 1], np.where(lanes >= 3, lanes - 3, lanes))  # up: below 0 keeps its own
    assert np.array_equal(per_lane[:, 2], (lanes // 8) * 8 + 5)  # width 8: lane 5 of each group of 8
    within = (lanes % 16) + 2 < 16
    assert np.array_equal(per_lane[:, 3], np.where(within, lanes + 2, lanes))  # down within groups of 16


@pytest.mark.parametrize(
    "change, named",
    [
        ("__shfl_down_sync(0xffffffff, v, 16)", None),
        (
            "__shfl_down_sync(0x0000ffff, v, 16)",
            r"lane 16\) calls __shfl_down_sync\(0x0000ffff, \.\.\.\) on line \d+, ",
        ),
        ("(t < 16 ? __shfl_down_sync(0x0000ffff, v, 16) : v)", r"reads lane 16, which is not in the mask 0x0000ffff"),
        ("(t < 8 ? __shfl_down_sync(0xffffffff, v, 16) : v)", r"calls __shfl_down_sync on line \d+, but lane 8 of"),
    ],
)
def test_a_shuffle_outside_its_mask_is_named(change, named):
    code = r"""
extern "C" __global__ void fold(const double* x, double* y) {
    int t = threadIdx.x;
    double v = x[t];
    if (t >= 8 && t < 12) return;
    v = v + CHANGE;
    y[t] = v;
}
""".replace("CHANGE", change)
    if "t < 8" not in change:
        code = code.replace("    if (t >= 8 && t < 12) return;\n", "")
    y = cp.zeros(32)
    if named is None:
        _launch(code, "fold", (1,), (32,), cp.asarray(np.arange(32.0)), y)
        assert cp.asnumpy(y)[0] == 16.0 and cp.asnumpy(y)[31] == 62.0
        return
    with pytest.raises(KernelFault, match=named):
        _launch(code, "fold", (1,), (32,), cp.asarray(np.arange(32.0)), y)


def test_syncwarp_orders_shared_memory_within_a_warp_and_only_there():
    code = r"""
extern "C" __global__ void rotate(double* y) {
    __shared__ double slot[64];
    int t = threadIdx.x;
    slot[t] = t;
    SYNC
    y[t] = slot[(t / 32) * 32 + (t + 1) % 32];
}
"""
    y = cp.zeros(64)
    _launch(code.replace("SYNC", "__syncwarp();"), "rotate", (1,), (64,), y)
    assert cp.asnumpy(y)[31] == 0.0 and cp.asnumpy(y)[63] == 32.0
    with pytest.raises(KernelFault, match=r"data race on shared slot|before any thread of its block wrote it"):
        _launch(code.replace("SYNC", ""), "rotate", (1,), (64,), y)
    across = code.replace("SYNC", "__syncwarp();").replace("(t / 32) * 32 + (t + 1) % 32", "(t + 32) % 64")
    with pytest.raises(KernelFault, match=r"data race on shared slot\[\d+\]|before any thread of its block wrote it"):
        _launch(across, "rotate", (1,), (64,), y)


# ------------------------------------------------------- sectors and banks


def test_sectors_count_how_a_warp_reads_not_how_many_elements():
    """Coalesced: 32 doubles of a warp in 8 sectors. Strided by 8: a sector per lane, 4x. Broadcast: 1."""
    code = r"""
extern "C" __global__ void gather(const double* x, double* y, int step) {
    int t = threadIdx.x;
    y[t] = x[t * step];
}
"""
    x = cp.asarray(np.arange(512.0))
    for step, sectors in ((1, 8), (8, 32), (0, 1)):
        with traffic.recording() as launches:
            _launch(code, "gather", (1,), (32,), x, cp.empty(32), np.int32(step))
        measured = traffic.measure(launches)
        assert measured.sectors["x"] == sectors and measured.min_sectors["x"] == (1 if step == 0 else 8)
        assert measured.sectors["y"] == measured.min_sectors["y"] == 8
    text = "\n".join(traffic.coalescing(traffic.measure(launches)))
    assert "1x: 1x is fully coalesced" in text  # the broadcast: one sector, one request
    with traffic.recording() as launches:
        _launch(code, "gather", (1,), (32,), x, cp.empty(32), np.int32(8))
    assert "reads x in 4x the sectors it needs (line " in "\n".join(traffic.coalescing(traffic.measure(launches)))
    assert "neighbouring threads are 8 elements apart" in "\n".join(traffic.coalescing(traffic.measure(launches)))


def test_bank_conflicts_of_a_column_read_and_the_padding_that_removes_them():
    code = r"""
extern "C" __global__ void column(const double* x, double* y) {
    __shared__ double tile[32][WIDTH];
    int t = threadIdx.x;
    for (int k = 0; k < 32; ++k) tile[k][t] = x[k * 32 + t];
    __syncthreads();
    y[t] = tile[t][0];
}
"""
    x = cp.asarray(np.arange(1024.0))
    replays = {}
    for width in (32, 33):
        with traffic.recording() as launches:
            _launch(code.replace("WIDTH", str(width)), "column", (1,), (32,), x, cp.empty(32))
        replays[width] = traffic.measure(launches).bank_replays
    assert replays[33] == 0
    assert replays[32] == 2 * 16 - 2  # two half-warps, each 16 lanes on one bank: 32 passes for a minimum of 2


def test_the_picture_shows_shared_memory_who_wrote_and_read_each_slot_and_the_failing_slot(tmp_path):
    from PIL import Image

    from dojo.gpu import picture

    code = r"""
extern "C" __global__ void total(const double* x, double* out) {
    __shared__ double partial[8];
    int t = threadIdx.x;
    partial[t] = x[t];
    __syncthreads();
    for (int s = 4; s > 0; s /= 2) {
        if (t < s) partial[t] += partial[t + s];
    }
    if (t == 0) out[0] = partial[0];
}
"""
    with pytest.raises(KernelFault) as fault:
        _launch(code, "total", (1,), (8,), cp.asarray(np.ones(8)), cp.empty(1))
    launch = fault.value.launch
    assert [a.name for a in launch.shared_arrays] == ["partial"] and launch.fault_access == ("partial", 1)
    panels = picture.layout(launch)
    written, read = [p for p in panels if getattr(p.array, "shared", False)]
    assert written.heading().startswith("shared partial (8,) of block (0, 0, 0): cell = last written by thread")
    assert "last read by" in read.heading() and written.fault_index == 1
    image = Image.open(picture.draw(launch, tmp_path / "race.png")).convert("RGB")
    assert _cell_colour(image, written, 0, 1) == picture.FAULT  # the slot of the race, in red
    assert _cell_colour(image, written, 0, 2) == picture.BLOCK_COLOURS[0]  # written by a thread of block 0
