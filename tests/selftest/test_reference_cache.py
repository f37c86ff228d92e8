"""The reference cache (dojo/refcache/store.py) and the warm-up (dojo/refcache/warmup.py).

The cache tests use a tiny reference package of their own, written to a
temporary folder (its source can then be edited), and a private cache folder
(``KATAS_REFERENCE_CACHE``). The TensorFlow tests run pytest in subprocesses,
where ``sys.modules`` says what was imported. The warm-up tests start the real
background process on a tiny course whose one test records that it ran.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from dojo.refcache import store as _cache
from dojo.refcache import warmup

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

VALUES = '''
"""A reference module for the cache's self-tests."""

import numpy as np

from ._cache_import import cache_public_functions, live
from ._helper import SCALE


def scaled(x, factor=2):
    return np.asarray(x, dtype=np.float64) * factor * SCALE


def summary(x):
    x = np.asarray(x)
    return {"shape": x.shape, "total": float(x.sum()), "parts": [x[:1], np.float32(1.5)], "name": None}


def shared_weights(n):
    weights = np.arange(float(n))
    return [weights, weights.copy()]


def call_back(function, x):
    return function(x)


def an_object(x):
    return object()


@live
def bookkeeping(x):
    return x


cache_public_functions(globals())
'''


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private, empty cache folder; this process's memory of hits forgotten before and after."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("KATAS_REFERENCE_CACHE", str(folder))
    monkeypatch.delenv("KATAS_FRESH_REFERENCE", raising=False)
    _cache._memory.clear()
    yield folder
    _cache._memory.clear()


@pytest.fixture
def fake(tmp_path, monkeypatch, cache):
    """A reference package ``<name>.values`` in tmp_path, importing ``_helper`` like reference/ imports _engine."""
    name = f"fakeref_{uuid.uuid4().hex[:8]}"
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_cache_import.py").write_text("from dojo.refcache import cache_public_functions, live\n")
    (package / "_helper.py").write_text("SCALE = 1\n")
    (package / "values.py").write_text(VALUES)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(f"{name}.values")
    yield Fake(module, package)
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]


class Fake:
    def __init__(self, module, package: Path):
        self.module, self.package = module, package

    def edit(self, file: str, old: str, new: str) -> None:
        """Change a source file, then start over as a new run would (fresh digests, empty memory, reimport)."""
        path = self.package / file
        path.write_text(path.read_text().replace(old, new))
        self.new_run()

    def new_run(self) -> None:
        _cache._code_digests.clear()
        _cache._memory.clear()
        importlib.invalidate_caches()
        helper = sys.modules[self.module.__name__.rpartition(".")[0] + "._helper"]
        importlib.reload(helper)
        self.module = importlib.reload(self.module)


def computed_live(action) -> int:
    before = _cache.STATS["live"]
    action()
    return _cache.STATS["live"] - before


def entry_files(folder: Path) -> list[Path]:
    return sorted((folder / "entries").rglob("*.json"))


def array_files(folder: Path) -> list[Path]:
    return sorted((folder / "arrays").rglob("*.npy"))


# ------------------------------------------------------------------ hits and keys


def test_a_second_call_is_read_back_as_a_fresh_copy(fake, cache):
    x = np.array([1.0, 2.0, 3.0])
    assert computed_live(lambda: fake.module.scaled(x)) == 1
    fake.new_run()  # a new run: nothing in memory, only the files
    first = fake.module.scaled(x)
    assert computed_live(lambda: fake.module.scaled(x)) == 0
    np.testing.assert_array_equal(first, [2.0, 4.0, 6.0])
    first[:] = -1  # a test that changes the array it got must not change the cache
    np.testing.assert_array_equal(fake.module.scaled(x), [2.0, 4.0, 6.0])
    fake.new_run()
    np.testing.assert_array_equal(fake.module.scaled(x), [2.0, 4.0, 6.0])


def test_results_come_back_with_their_exact_types(fake, cache):
    x = np.arange(6).reshape(2, 3)
    live = fake.module.summary(x)
    fake.new_run()
    assert computed_live(lambda: fake.module.summary(x)) == 0
    back = fake.module.summary(x)
    assert back["shape"] == (2, 3) and type(back["shape"]) is tuple
    assert type(back["total"]) is float and back["total"] == 15.0
    assert type(back["parts"]) is list and back["parts"][1].dtype == np.float32 and back["parts"][1] == 1.5
    assert back["parts"][0].dtype == x.dtype and back["name"] is None
    assert repr(back) == repr(live)


def test_the_same_array_returned_twice_is_stored_once(fake, cache):
    fake.module.shared_weights(100_000)
    assert len(array_files(cache)) == 1


def test_arguments_are_bound_to_the_signature(fake, cache):
    x = np.array([1.0, 2.0])
    assert computed_live(lambda: fake.module.scaled(x, 3)) == 1
    assert computed_live(lambda: fake.module.scaled(x, factor=3)) == 0
    assert computed_live(lambda: fake.module.scaled(x=x, factor=3)) == 0
    assert computed_live(lambda: fake.module.scaled(x, 3.0)) == 1  # an int and a float are other arguments
    assert computed_live(lambda: fake.module.scaled(x.astype(np.float32), 3)) == 1  # another dtype
    assert computed_live(lambda: fake.module.scaled(x.reshape(2, 1), 3)) == 1  # another shape
    assert computed_live(lambda: fake.module.scaled(x + 1e-16 * 0 + [0, 1e-12], 3)) == 1  # other bytes


def test_a_call_with_a_callable_or_returning_an_object_is_computed_live_every_time(fake, cache):
    x = np.array([1.0])
    assert computed_live(lambda: fake.module.call_back(np.negative, x)) == 1
    assert computed_live(lambda: fake.module.call_back(np.negative, x)) == 1
    assert computed_live(lambda: fake.module.an_object(x)) == 1
    assert computed_live(lambda: fake.module.an_object(x)) == 1
    assert entry_files(cache) == []
    assert not hasattr(fake.module.bookkeeping, "__wrapped_by_cache__")


def test_every_public_reference_function_is_cached_or_marked_live():
    import pkgutil

    import reference

    for info in pkgutil.iter_modules(reference.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"reference.{info.name}")
        for name, value in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(value) or value.__module__ != module.__name__:
                continue
            assert getattr(value, "__wrapped_by_cache__", False) or getattr(value, "__reference_live__", False), (
                f"reference.{info.name}.{name} is neither cached nor marked @live"
            )


# ------------------------------------------------------------------ what misses


def test_a_changed_reference_function_misses_the_cache(fake, cache):
    x = np.array([1.0, 2.0])
    assert computed_live(lambda: fake.module.scaled(x)) == 1
    fake.new_run()
    assert computed_live(lambda: fake.module.scaled(x)) == 0
    fake.edit("values.py", "* factor * SCALE", "* factor * SCALE + 0")
    assert computed_live(lambda: fake.module.scaled(x)) == 1
    fake.edit("_helper.py", "SCALE = 1", "SCALE = 10")  # what the module imports from its package counts too
    assert computed_live(lambda: fake.module.scaled(x)) == 1
    np.testing.assert_array_equal(fake.module.scaled(x), [20.0, 40.0])
    fake.edit("_helper.py", "SCALE = 10", "SCALE = 1")  # back to a state already computed: read back
    assert computed_live(lambda: fake.module.scaled(x)) == 0


def test_another_tensorflow_version_misses_the_cache(fake, cache, monkeypatch):
    x = np.array([1.0, 2.0])
    versions = _cache.engine_versions()
    assert set(versions) == {"tensorflow", "keras", "numpy"}
    assert "tensorflow" in str(versions["tensorflow"]) and versions["numpy"].endswith(np.__version__)
    assert computed_live(lambda: fake.module.scaled(x)) == 1
    fake.new_run()
    monkeypatch.setattr(_cache, "engine_versions", lambda: dict(versions, tensorflow="tensorflow-cpu 9.99.0"))
    assert computed_live(lambda: fake.module.scaled(x)) == 1
    entries = [json.loads(path.read_text()) for path in entry_files(cache)]
    assert sorted(e["key"]["versions"]["tensorflow"] for e in entries) == sorted(
        [versions["tensorflow"], "tensorflow-cpu 9.99.0"]
    )


# ---------------------------------------------------------------- damaged entries


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x01
    path.write_bytes(bytes(data))


DAMAGE = {
    "entry truncated": lambda entry, array, other: entry.write_bytes(entry.read_bytes()[:40]),
    "entry empty": lambda entry, array, other: entry.write_bytes(b""),
    "entry not json": lambda entry, array, other: entry.write_bytes(b"\x80\x04garbage"),
    "entry checksum wrong": lambda entry, array, other: entry.write_text(
        json.dumps(dict(json.loads(entry.read_text()), checksum="0" * 64))
    ),
    "entry value edited": lambda entry, array, other: entry.write_text(
        json.dumps(dict(json.loads(entry.read_text()), value=["f", (1.0).hex()]))
    ),
    "entry of another key": lambda entry, array, other: entry.write_bytes(other.read_bytes()),
    "array truncated": lambda entry, array, other: array.write_bytes(array.read_bytes()[:100]),
    "array bytes changed": lambda entry, array, other: _flip_last_byte(array),
    "array missing": lambda entry, array, other: array.unlink(),
    # A full disk while copying a checkout leaves 0-byte files: np.load raises EOFError, not OSError.
    "array empty": lambda entry, array, other: array.write_bytes(b""),
    "array header only": lambda entry, array, other: array.write_bytes(array.read_bytes()[:128]),
    "array of another shape": lambda entry, array, other: np.save(array, np.arange(64.0).reshape(8, 8)),
    "array of another dtype": lambda entry, array, other: np.save(array, np.arange(64, dtype=np.float32)),
    "array a folder": lambda entry, array, other: (array.unlink(), array.mkdir()),
    "entry a folder": lambda entry, array, other: (entry.unlink(), entry.mkdir()),
    "entry nested too deep": lambda entry, array, other: entry.write_text("[" * 100_000 + "]" * 100_000),
    "array replaced by a pickle": lambda entry, array, other: np.save(
        array, np.array([{"x": 1}], dtype=object), allow_pickle=True
    ),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_entry_is_recomputed_and_rewritten(fake, cache, damage):
    x, other_x = np.arange(64.0), np.arange(3.0)
    expected = fake.module.scaled(x)
    fake.module.scaled(other_x)
    entries = {json.loads(p.read_text())["key"]["arguments"][0][1][2][0]: p for p in entry_files(cache)}
    entry, other = entries[64], entries[3]
    (array,) = [p for p in array_files(cache) if p.stat().st_size > 64 * 8]
    DAMAGE[damage](entry, array, other)
    fake.new_run()
    assert computed_live(lambda: np.testing.assert_array_equal(fake.module.scaled(x), expected)) == 1
    fake.new_run()  # rewritten: the next run reads it back
    assert computed_live(lambda: np.testing.assert_array_equal(fake.module.scaled(x), expected)) == 0


def test_deleting_the_cache_is_safe(fake, cache):
    import shutil

    x = np.array([5.0])
    fake.module.scaled(x)
    shutil.rmtree(cache)
    fake.new_run()
    assert computed_live(lambda: np.testing.assert_array_equal(fake.module.scaled(x), [10.0])) == 1


def test_fresh_mode_recomputes_and_rewrites(fake, cache, monkeypatch):
    x = np.array([1.0])
    fake.module.scaled(x)
    (entry,) = entry_files(cache)
    before = entry.stat().st_mtime_ns
    monkeypatch.setenv("KATAS_FRESH_REFERENCE", "1")
    time.sleep(0.01)
    assert computed_live(lambda: fake.module.scaled(x)) == 1
    assert computed_live(lambda: fake.module.scaled(x)) == 1
    assert entry.stat().st_mtime_ns > before


WRITER = """
import sys
import numpy as np
from dojo.refcache.store import Store, encode_result
store = Store(sys.argv[1])
for round in range(int(sys.argv[2])):
    for k in range(8):
        key = {"format": 1, "function": "writer", "arguments": [["k", k]]}
        arrays = {}
        value = encode_result([np.full(50_000, float(k)), {"k": k}], arrays)
        assert store.write(key, value, arrays)
        found = store.read(key)
        assert found is not None, "a reader saw a broken entry"
"""


@pytest.mark.slow
def test_two_concurrent_writers_do_not_corrupt_the_cache(tmp_path):
    folder = tmp_path / "cache"
    writers = [
        subprocess.Popen([PYTHON, "-c", WRITER, str(folder), "25"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for writer in writers:
        _, errors = writer.communicate(timeout=240)
        assert writer.returncode == 0, errors
    store = _cache.Store(folder)
    for k in range(8):
        value, arrays = store.read({"format": 1, "function": "writer", "arguments": [["k", k]]})
        result = _cache.decode(value, arrays)
        assert result[1] == {"k": k} and np.all(result[0] == k)
    leftovers = [p.name for p in folder.rglob("*.tmp")]
    assert leftovers == [], leftovers


# ------------------------------------------------------------ TensorFlow or not


# A sitecustomize that records every import of TensorFlow or Keras, with the process that made it:
# pytest's own process, the harness's forked children (the hook is inherited by fork) and the
# reference server (a new Python process on the same PYTHONPATH).
IMPORT_WATCH = """
import os, sys

class _WatchTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras"):
            with open(os.environ["TENSORFLOW_IMPORTS"], "a") as log:
                server = any(part in " ".join(sys.argv) for part in ("refcache/server", "refcache/daemon"))
                log.write(("server " if server else "harness ") + name + "\\n")
        return None

sys.meta_path.insert(0, _WatchTensorFlow())
"""


def _run_kata(impl: Path, cache: Path, *extra: str, kata: str = "neuron.weighted_sum") -> subprocess.CompletedProcess:
    """``pytest --kata neuron.weighted_sum``; ``stdout`` ends with whether any of its processes imported
    TensorFlow or Keras, and ``imported`` lists which ('harness tensorflow', 'server keras', ...)."""
    watch = cache.parent / "watch"
    watch.mkdir(exist_ok=True)
    (watch / "sitecustomize.py").write_text(IMPORT_WATCH)
    imports = watch / "imports.txt"
    imports.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("KATAS_IMPL", "PYTEST_ADDOPTS", "KATAS_FRESH_REFERENCE")}
    env.update(
        KATAS_REFERENCE_CACHE=str(cache),
        KATAS_NO_WARMUP="1",
        # An engine of the run's own, which imports its TensorFlow under this run's watch (a daemon
        # started earlier by another test would answer without it; the daemon has its own tests).
        KATAS_REFERENCE_IDLE="0",
        TENSORFLOW_IMPORTS=str(imports),
        PYTHONPATH=os.pathsep.join([str(watch), str(ROOT)]),
    )
    command = [PYTHON, "-m", "pytest", *(["--kata", kata] if kata else []), f"--impl={impl}"]
    done = subprocess.run(
        [*command, "-p", "no:randomly", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    done.stdout += f"\nTENSORFLOW IMPORTED: {imports.exists()}\n"
    done.imported = {line.split()[0] for line in imports.read_text().splitlines()} if imports.exists() else set()
    return done


@pytest.mark.slow
def test_a_warm_run_imports_no_tensorflow_and_fresh_reference_does(tmp_path):
    import shutil

    impl = tmp_path / "wrong"
    shutil.copytree(ROOT / "solutions", impl, ignore=shutil.ignore_patterns("__pycache__"))
    neuron = impl / "neuron.py"
    neuron.write_text(
        neuron.read_text() + "\n\ndef weighted_sum(inputs, weights):\n"
        "    return float(sum(inputs)) + float(sum(weights))\n"
    )
    cache = tmp_path / "cache"
    # --fresh-reference on an empty cache: everything computed live, said so, and stored...
    fresh = _run_kata(impl, cache, "--fresh-reference")
    assert fresh.returncode == 1 and "TENSORFLOW IMPORTED: True" in fresh.stdout, fresh.stdout + fresh.stderr
    assert "--fresh-reference: every expected value is computed live by TensorFlow" in fresh.stdout
    # ... so that the next run answers from the cache alone, with the same report.
    warm = _run_kata(impl, cache)
    assert warm.returncode == 1 and "TENSORFLOW IMPORTED: False" in warm.stdout, warm.stdout + warm.stderr
    assert "--fresh-reference" not in warm.stdout
    assert _verdict(warm.stdout) == _verdict(fresh.stdout)
    assert "weighted_sum([0.5, 0.8, 0.3], [0.4, 0.6, 0.2]) returned 2.8" in warm.stdout, warm.stdout


@pytest.mark.slow
def test_a_cold_cache_keeps_tensorflow_out_of_the_harness_and_later_katas_in_their_child(tmp_path):
    """Kata 1.1 needs values nobody computed yet; kata 1.2 then calls os._exit(0).

    The values come from the reference server, so the harness's process never imports TensorFlow
    and can still fork kata 1.2 its child: the exit is reported and the run fails. (Computed in the
    harness's own process, TensorFlow would have turned forking off and os._exit(0) would have ended
    pytest with status 0.)
    """
    import shutil

    impl = tmp_path / "exits"
    shutil.copytree(ROOT / "solutions", impl, ignore=shutil.ignore_patterns("__pycache__"))
    neuron = impl / "neuron.py"
    neuron.write_text(
        neuron.read_text() + "\n\ndef neuron(inputs, weights, bias, activation=None):\n    import os\n    os._exit(0)\n"
    )
    done = _run_kata(impl, tmp_path / "cache", "--track", "neuron", "--color=no", kata="")
    report = " ".join(done.stdout.split())
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Weighted sum passed" in report or "weighted_sum" in report, report
    assert "your code ended the Python process (exit status 0)" in report, report
    assert done.imported == {"server"}, (done.imported, report)


def _verdict(stdout: str) -> str:
    """The learner's report, without this test's own line and anything timed."""
    return "\n".join(
        line
        for line in stdout.splitlines()
        if "TENSORFLOW" not in line and "--fresh-reference" not in line and not re.search(r"\d\.\d+ ?s\b", line)
    )


# ------------------------------------------------------------------- warm-up

SLOW_TEST = """
import os, time
from pathlib import Path

def test_records_that_it_ran():
    root = Path(__file__).resolve().parents[2]
    with open(root / "ran.txt", "a") as f:
        f.write(f"{os.getpid()}\\n")
    # Holds the warm-up (and its lock) until the test says go: an event, not a guess at the machine's speed.
    deadline = time.monotonic() + 600
    while not (root / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
"""


@pytest.fixture
def tiny_course(tmp_path, monkeypatch):
    """A course whose only kata test records each run in ran.txt and then waits for a file named ``go``."""
    root = tmp_path / "course"
    (root / "tests" / "katas").mkdir(parents=True)
    (root / "solutions").mkdir()
    (root / "tests" / "katas" / "test_slow.py").write_text(SLOW_TEST)
    (root / "conftest.py").write_text('pytest_plugins = ["dojo.harness.plugin"]\n')
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "-p no:randomly"\n')
    monkeypatch.delenv("KATAS_NO_WARMUP", raising=False)
    monkeypatch.setenv("KATAS_REFERENCE_CACHE", str(root / ".katas" / "reference-cache"))
    return root


def _wait(condition, timeout=600.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _gone(pid: int) -> bool:
    """The process no longer exists, not even as a zombie (``kill(pid, 0)`` succeeds on a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="the double fork and flock are POSIX")
def test_background_warm_up_never_runs_twice_at_once_and_leaves_no_process(tiny_course):
    lock = warmup.WarmLock(tiny_course)
    starts = []
    threads = [
        threading.Thread(target=lambda: starts.append(warmup.start_in_background(tiny_course))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "started" in starts
    pid = _wait(lock.holder, what="the warm process to take the lock")
    assert warmup.start_in_background(tiny_course) == "running"
    assert os.getpgid(pid) == os.getsid(pid) == pid  # its own session: no terminal signal reaches it
    (tiny_course / "go").touch()
    _wait(lambda: lock.holder() is None, what="the warm-up to finish")
    _wait(lambda: _gone(pid), what="the warm process to be reaped")
    ran = (tiny_course / "ran.txt").read_text().split()
    assert len(ran) == 1, f"the warm-up ran {len(ran)} times"
    assert warmup.is_warm(tiny_course)
    assert warmup.start_in_background(tiny_course) == "warm"
    log = (tiny_course / ".katas" / "warm.log").read_text()
    assert "finished" in log and "exit code 0" in log, log


def test_a_stale_lock_file_does_not_block_the_warm_up(tiny_course):
    finished = subprocess.run(
        [PYTHON, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead_pid = int(finished.stdout)
    lock_path = tiny_course / ".katas" / "warm.lock"
    lock_path.parent.mkdir(parents=True)
    lock_path.write_text(json.dumps({"pid": dead_pid, "started": time.time() - 3600}))
    lock = warmup.WarmLock(tiny_course)
    assert lock.holder() is None
    assert lock.acquire()
    try:
        assert json.loads(lock_path.read_text())["pid"] == os.getpid()
        assert not warmup.WarmLock(tiny_course).acquire()  # held: a second one is refused
        assert warmup.WarmLock(tiny_course).holder() == os.getpid()
    finally:
        lock.release()
    assert warmup.WarmLock(tiny_course).holder() is None


def test_the_warm_up_is_off_with_katas_no_warmup(tiny_course, monkeypatch):
    monkeypatch.setenv("KATAS_NO_WARMUP", "1")
    assert warmup.start_in_background(tiny_course) == "disabled"
    assert not (tiny_course / ".katas" / "warm.lock").exists()


@pytest.mark.slow
def test_a_changed_kata_test_needs_a_new_warm_up(tiny_course):
    (tiny_course / "go").touch()
    code = warmup.run(tiny_course)
    assert code == 0 and warmup.is_warm(tiny_course)
    test = tiny_course / "tests" / "katas" / "test_slow.py"
    test.write_text(test.read_text() + "\n# changed\n")
    assert not warmup.is_warm(tiny_course)


def test_fresh_reference_is_an_option_of_the_course():
    text = subprocess.run(
        [PYTHON, "-m", "pytest", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    ).stdout
    assert "--fresh-reference" in text


class _Plugins:
    def __init__(self, kata_plugin):
        self.kata_plugin = kata_plugin

    def get_plugin(self, name):
        return self.kata_plugin if name == "neural-katas" else None


class _Config:
    """What the warm-up trigger reads from pytest's config: the kata plugin (its progress's current kata)."""

    def __init__(self, recording: bool, root: Path, current: str | None, checks: bool = True):
        from types import SimpleNamespace

        progress = SimpleNamespace(current=current)
        groups = {"neuron.weighted_sum": ["its checks"]} if checks else {}
        self.pluginmanager = _Plugins(SimpleNamespace(recording=recording, root=root, progress=progress, groups=groups))
        self.stash = {}


@pytest.mark.parametrize(
    ("recording", "current", "no_warmup", "starts", "checks"),
    [
        (True, None, False, True, True),  # the very first run, on the stubs: start before any answer needs a value
        (True, "neuron.weighted_sum", False, True, True),  # a later run: that kata's values first
        (False, "neuron.weighted_sum", False, False, True),  # --impl solutions, a mutant's copy: not the learner's run
        (True, None, True, False, True),  # KATAS_NO_WARMUP=1
        (True, None, False, False, False),  # `pytest tests/selftest` in a checkout: no kata check collected
    ],
)
def test_every_learners_run_starts_the_warm_up_with_the_current_kata_first(
    tmp_path, monkeypatch, recording, current, no_warmup, starts, checks
):
    from dojo.refcache import options as reference_cache

    monkeypatch.setenv("KATAS_NO_WARMUP", "1") if no_warmup else monkeypatch.delenv("KATAS_NO_WARMUP", raising=False)
    calls = []
    monkeypatch.setattr(
        warmup, "start_in_background", lambda root, first=None: calls.append((root, first)) or "started"
    )
    reference_cache._maybe_warm_up(_Config(recording, tmp_path, current, checks))
    assert calls == ([(tmp_path, current)] if starts else [])


def test_a_run_decides_on_the_warm_up_from_file_times_and_the_warm_process_checks_the_fingerprint(tiny_course):
    """What every run pays is a few stat calls: warm.json newer than every input means warm; touching an
    input (or adding one) means not. The full fingerprint, versions included, is the warm process's check."""
    assert not warmup.looks_warm(tiny_course)
    warmup._mark_warm(tiny_course, 0)  # what a finished warm-up writes
    assert warmup.looks_warm(tiny_course) and warmup.is_warm(tiny_course)
    assert warmup.start_in_background(tiny_course) == "warm"
    marker = warmup.cache_folder(tiny_course) / warmup.MARKER_NAME
    later = marker.stat().st_mtime + 5
    test = tiny_course / "tests" / "katas" / "test_slow.py"
    os.utime(test, (later, later))
    assert not warmup.looks_warm(tiny_course)


def test_the_current_katas_values_are_computed_before_the_rest_of_the_course(tiny_course, monkeypatch):
    runs = []
    monkeypatch.setattr(pytest, "main", lambda args, plugins=(): runs.append(args) or 0)
    assert warmup.run(tiny_course, first="conv.conv2d") == 0
    assert [args[args.index("--kata") + 1] if "--kata" in args else "all" for args in runs] == ["conv.conv2d", "all"]
    assert all("--all" in args and f"--impl={tiny_course / 'solutions'}" in args for args in runs)


def test_a_toy_course_without_an_answer_key_is_never_warmed(tmp_path, monkeypatch):
    monkeypatch.delenv("KATAS_NO_WARMUP", raising=False)
    (tmp_path / "tests" / "katas").mkdir(parents=True)
    assert warmup.start_in_background(tmp_path) == "disabled"
    assert not (tmp_path / ".katas").exists()


def test_kata_warm_is_a_verb():
    done = subprocess.run(
        [PYTHON, "-m", "dojo", "warm", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0 and "--fresh" in done.stdout, done.stdout + done.stderr
