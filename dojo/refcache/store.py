"""The reference cache: every value TensorFlow computed once, kept on disk and reused.

The expected values of the kata tests do not depend on the learner's code:
each is TensorFlow/Keras run on the tests' own seeded inputs. So the first
time a reference function runs with given inputs, its answer is stored under
``<checkout>/.katas/reference-cache/``; the next run reads it back and never
imports TensorFlow. The first computation of every value is still TensorFlow's,
on this machine.

An entry is keyed by everything that could change the answer:

* the function (``reference.neuron.weighted_sum``);
* a digest of its module's source and of every ``reference/`` module that
  module imports (``_engine.py``, ...; not this file, whose effect on keys is
  ``FORMAT``): edit a reference function and its values are recomputed;
* the arguments, bound to the signature (so ``f(x, 1)`` and ``f(x, axis=1)``
  are one entry), arrays by dtype, shape and a SHA-256 of their bytes;
* the TensorFlow, Keras and NumPy versions (read from the installed package
  metadata, without importing them).

A call whose arguments cannot be encoded exactly (a callable, a Keras model)
or whose result is not plain data (NumPy arrays, numbers, strings, None,
lists, tuples, dicts) is computed live, as if there were no cache.

Storage is plain JSON and ``.npy`` (loaded with ``allow_pickle=False``):
``entries/<digest of the key>.json`` holds the full key, the result's
structure and a checksum; each array lives once in ``arrays/<sha256>.npy``
(content-addressed, so the same weights returned by ten functions are stored
once). Every file is written to a temporary name and moved into place with
``os.replace``, so concurrent runs (two terminals, xdist workers) never see
half a file. Every read is validated: a corrupt, truncated or foreign entry is
recomputed, never trusted. Deleting the folder is always safe.

``KATAS_FRESH_REFERENCE=1`` (``pytest --fresh-reference``) recomputes every
value live and refreshes its entry. ``KATAS_REFERENCE_CACHE=PATH`` puts the
cache elsewhere (the self-tests use a private one).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import inspect
import io
import json
import os
import re
import shutil
import sys
import threading
from pathlib import Path

import numpy as np

from ..files import write_atomic

COMPUTED_STAMP = "computed.stamp"
FORMAT = 1  # bump when the encoding or the key changes meaning
ENGINE_PACKAGES = {
    "tensorflow": ("tensorflow-cpu", "tensorflow", "tensorflow-macos"),
    "keras": ("keras",),
    "numpy": ("numpy",),
}
ARRAY_KINDS = "biufcUS"  # dtypes whose bytes are the whole value (no objects, no pointers)

# What this process did, for the self-tests and the --fresh-reference line.
STATS = {"hits": 0, "computed": 0, "live": 0}
UNCACHED: dict[str, str] = {}  # function id -> why its last call was computed live without caching

_inside = threading.local()  # depth of reference calls: a reference function calling another is one value


class Uncacheable(Exception):
    """An argument or a result that has no exact, safe encoding: compute (and return) it live."""


class CacheMiss(Exception):
    """Under :func:`only_cached`: the value is not in the cache, and this process does not compute."""


@contextlib.contextmanager
def only_cached(enabled: bool = True):
    """Within this block a reference call answers from the cache or raises :class:`CacheMiss`.

    The harness's own process uses it: computing would import TensorFlow there, and a process
    with TensorFlow's threads running cannot fork kata children safely. It hands a miss to the
    reference server (:mod:`dojo.refcache.server`) instead.
    """
    previous = getattr(_inside, "only_cached", False)
    _inside.only_cached = enabled
    try:
        yield
    finally:
        _inside.only_cached = previous


# -------------------------------------------------------------- locations


def cache_folder() -> Path:
    """``$KATAS_REFERENCE_CACHE``, else ``.katas/reference-cache`` in the checkout that holds ``reference/``."""
    override = os.environ.get("KATAS_REFERENCE_CACHE")
    if override:
        return Path(override)
    from ..paths import STATE_DIR

    return _reference_root().parent / STATE_DIR / "reference-cache"


@functools.lru_cache(maxsize=1)
def _reference_root() -> Path:
    """The folder of the ``reference`` package, found without importing it (it imports this module)."""
    spec = importlib.util.find_spec("reference")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the reference package is not installed: run pip install -e . in the checkout")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def fresh() -> bool:
    """True when every value must be recomputed live (``--fresh-reference``)."""
    return os.environ.get("KATAS_FRESH_REFERENCE", "") not in ("", "0")


# ------------------------------------------------------------ key: versions


@functools.lru_cache(maxsize=1)
def _installed_versions() -> tuple[tuple[str, str | None], ...]:
    from importlib import metadata

    found = []
    for name, distributions in ENGINE_PACKAGES.items():
        version = None
        for distribution in distributions:
            try:
                version = f"{distribution} {metadata.version(distribution)}"
                break
            except metadata.PackageNotFoundError:
                continue
        found.append((name, version))
    return tuple(found)


def engine_versions() -> dict[str, str | None]:
    """``{"tensorflow": "tensorflow-cpu 2.21.0", "keras": ..., "numpy": ...}``, without importing any."""
    return dict(_installed_versions())


# ---------------------------------------------------------------- key: code


_RELATIVE_IMPORT = re.compile(rb"^[ \t]*from[ \t]+\.(\w*)[ \t]+import[ \t]+\(?([\w ,\t]+)", re.MULTILINE)
_ABSOLUTE_IMPORT = re.compile(rb"^[ \t]*(?:from|import)[ \t]+(\w+)\.(\w+)", re.MULTILINE)


def _reference_imports(path: Path, package: str) -> set[Path]:
    """Files of the same package that this module imports (``from ._engine import tf``).

    Read with a regular expression rather than parsed: it runs on every cached
    call's first use of a module, and a false match (an import written in a
    docstring) only makes the digest more conservative.
    """
    try:
        source = path.read_bytes()
    except OSError:
        return set()
    names = set()
    for module, imported in _RELATIVE_IMPORT.findall(source):
        names.update([module] if module else [n.strip() for n in imported.split(b",")])
    names.update(module for top, module in _ABSOLUTE_IMPORT.findall(source) if top.decode() == package)
    found = set()
    for name in names:
        candidate = path.parent / (name.decode() + ".py")
        if name and candidate.is_file():
            found.add(candidate)
    return found


_code_digests: dict[str, str] = {}


def code_digest(module) -> str:
    """SHA-256 of the module's source and of every module of its package it imports, transitively."""
    path = Path(module.__file__).resolve()
    cached = _code_digests.get(str(path))
    if cached is not None:
        return cached
    package = module.__name__.rpartition(".")[0] or module.__name__
    # This file computes no value: what it does to a key is FORMAT's business, so editing it keeps the cache.
    itself = Path(__file__).resolve()
    seen, todo = set(), [path]
    while todo:
        current = todo.pop()
        if current in seen or current == itself:
            continue
        seen.add(current)
        todo.extend(_reference_imports(current, package) - seen)
    sha = hashlib.sha256(f"format {FORMAT}\n".encode())
    for file in sorted(seen):
        sha.update(f"{file.name}\n".encode())
        sha.update(hashlib.sha256(file.read_bytes()).digest())
    _code_digests[str(path)] = digest = sha.hexdigest()
    return digest


# ------------------------------------------------------------ key: arguments


def array_digest(array: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes (C order): its identity in the store."""
    sha = hashlib.sha256(f"{array.dtype.str}|{array.shape}|".encode())
    sha.update(np.ascontiguousarray(array).data)
    return sha.hexdigest()


def memo_key(*items) -> str:
    """A key for an in-process memo of reference results: arrays by :func:`array_digest`, the rest by repr.

    Lists and tuples are walked, so ``memo_key([w1, w2], x)`` tells apart two
    weight lists that differ in one array.
    """
    sha = hashlib.sha256()
    for item in items:
        if isinstance(item, (list, tuple)):
            sha.update(b"[" + memo_key(*item).encode() + b"]")
        elif isinstance(item, np.ndarray):
            sha.update(array_digest(item).encode())
        else:
            sha.update(repr(item).encode())
        sha.update(b"|")
    return sha.hexdigest()


def _check_array(array: np.ndarray) -> None:
    if array.dtype.kind not in ARRAY_KINDS or array.dtype.fields is not None:
        raise Uncacheable(f"array of dtype {array.dtype}")


def encode_argument(value):
    """A canonical JSON-able form of an argument, exact for every type it accepts."""
    if value is None or isinstance(value, str):
        return value if value is None else ["s", value]
    if isinstance(value, np.ndarray):
        _check_array(value)
        return ["a", value.dtype.str, list(value.shape), array_digest(value)]
    if isinstance(value, np.generic):
        return _encode_scalar(value)
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", str(value)]
    if isinstance(value, float):
        return ["f", value.hex()]
    if isinstance(value, (list, tuple)):
        return ["t" if isinstance(value, tuple) else "l", [encode_argument(v) for v in value]]
    if isinstance(value, dict):
        items = [[encode_argument(k), encode_argument(v)] for k, v in value.items()]
        return ["d", sorted(items, key=lambda kv: json.dumps(kv[0]))]
    raise Uncacheable(f"argument of type {type(value).__name__}")


def _encode_scalar(value: np.generic):
    array = np.asarray(value)
    _check_array(array)
    return ["np", array.dtype.str, array.tobytes().hex()]


def _decode_scalar(dtype: str, hex_bytes: str) -> np.generic:
    return np.frombuffer(bytes.fromhex(hex_bytes), dtype=np.dtype(dtype))[0]


def make_key(function_id: str, module, signature: inspect.Signature | None, args, kwargs) -> dict:
    """The full key of one call (raises Uncacheable for arguments without an exact encoding)."""
    if signature is not None:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            raise Uncacheable("arguments do not fit the signature") from None
        bound.apply_defaults()
        arguments = [[name, encode_argument(value)] for name, value in bound.arguments.items()]
    else:
        arguments = [["*args", encode_argument(tuple(args))], ["**kwargs", encode_argument(dict(kwargs))]]
    return {
        "format": FORMAT,
        "function": function_id,
        "code": code_digest(module),
        "versions": engine_versions(),
        "arguments": arguments,
    }


def key_digest(key: dict) -> str:
    return hashlib.sha256(_canonical(key)).hexdigest()


def _canonical(data) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


# ---------------------------------------------------------------- results


def encode_result(value, arrays: dict[str, np.ndarray]):
    """A JSON-able form of a result; its arrays go into ``arrays`` by digest."""
    if value is None or isinstance(value, str):
        return value if value is None else ["s", value]
    if isinstance(value, np.ndarray):
        if type(value) is not np.ndarray:
            raise Uncacheable(f"result of type {type(value).__name__}")
        _check_array(value)
        digest = array_digest(value)
        arrays.setdefault(digest, np.array(value, order="C", copy=True))
        return ["A", digest, value.dtype.str, list(value.shape)]
    if isinstance(value, np.generic):
        return _encode_scalar(value)
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", str(value)]
    if isinstance(value, float):
        return ["f", value.hex()]
    if type(value) in (list, tuple):
        return ["t" if isinstance(value, tuple) else "l", [encode_result(v, arrays) for v in value]]
    if type(value) is dict:
        return ["d", [[encode_result(k, arrays), encode_result(v, arrays)] for k, v in value.items()]]
    raise Uncacheable(f"result of type {type(value).__name__}")


def decode(data, arrays: dict[str, np.ndarray]):
    """The value ``encode_result`` encoded; every array is a fresh, writable copy."""
    if data is None:
        return None
    tag, *rest = data
    if tag == "s":
        return rest[0]
    if tag == "A":
        digest, dtype, shape = rest
        array = arrays[digest]
        if array.dtype.str != dtype or list(array.shape) != shape:
            raise ValueError("array does not match its entry")
        return array.copy()
    if tag == "a":  # an argument's array: never a result
        raise ValueError("argument encoding in a result")
    if tag == "np":
        return _decode_scalar(*rest)
    if tag == "b":
        return bool(rest[0])
    if tag == "i":
        return int(rest[0])
    if tag == "f":
        return float.fromhex(rest[0])
    if tag == "l":
        return [decode(v, arrays) for v in rest[0]]
    if tag == "t":
        return tuple(decode(v, arrays) for v in rest[0])
    if tag == "d":
        return {_hashable(decode(k, arrays)): decode(v, arrays) for k, v in rest[0]}
    raise ValueError(f"unknown tag {tag!r}")


def _hashable(key):
    if isinstance(key, (list, dict, np.ndarray)):
        raise TypeError("unhashable dict key")
    return key


def _array_refs(data, found: set[str]) -> set[str]:
    if isinstance(data, list) and data:
        if data[0] == "A" and len(data) == 4 and isinstance(data[1], str):
            found.add(data[1])
        else:
            for item in data:
                _array_refs(item, found)
    return found


# ----------------------------------------------------------------- storage


class Store:
    """The files of the cache under one folder; every failure reads as a miss."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.entries = self.folder / "entries"
        self.arrays = self.folder / "arrays"

    def _entry_path(self, digest: str) -> Path:
        return self.entries / digest[:2] / f"{digest}.json"

    def _array_path(self, digest: str) -> Path:
        return self.arrays / digest[:2] / f"{digest}.npy"

    def read(self, key: dict):
        """``(encoded value, arrays)`` of a valid entry for this exact key, else None."""
        digest = key_digest(key)
        path = self._entry_path(digest)
        try:
            entry = json.loads(path.read_bytes())
            body = {"key": entry["key"], "value": entry["value"]}
            if entry.get("checksum") != hashlib.sha256(_canonical(body)).hexdigest() or _canonical(
                entry["key"]
            ) != _canonical(key):
                raise ValueError("checksum or key mismatch")
            arrays = {name: self._read_array(name) for name in _array_refs(entry["value"], set())}
            decode(entry["value"], arrays)  # proves the structure and the arrays agree
            return entry["value"], arrays
        except FileNotFoundError:
            return None
        except Exception:
            return None  # corrupt, truncated or foreign: the caller recomputes and rewrites it

    def _read_array(self, digest: str) -> np.ndarray:
        array = np.load(self._array_path(digest), allow_pickle=False)
        if array_digest(array) != digest:
            raise ValueError("array checksum mismatch")
        return array

    def write(self, key: dict, value, arrays: dict[str, np.ndarray]) -> bool:
        """Store one entry (arrays first, then the entry); False when the folder is not writable."""
        try:
            for name, array in arrays.items():
                path = self._array_path(name)
                if not self._valid_array(path, name):
                    self._atomic(path, lambda f, a=array: np.save(f, a, allow_pickle=False))
            body = {"key": key, "value": value}
            entry = dict(body, checksum=hashlib.sha256(_canonical(body)).hexdigest())
            self._atomic(self._entry_path(key_digest(key)), lambda f: f.write(_canonical(entry)))
            return True
        except (OSError, ValueError):
            return False

    def _valid_array(self, path: Path, digest: str) -> bool:
        if not path.exists():
            return False
        try:
            return array_digest(np.load(path, allow_pickle=False)) == digest
        except Exception:
            return False

    @staticmethod
    def _atomic(path: Path, write) -> None:
        """``write(file)`` into memory, then onto disk in one step (entries are small; arrays at most MBs)."""
        if path.is_dir() and not path.is_symlink():  # a folder where an entry belongs is damage too
            shutil.rmtree(path, ignore_errors=True)
        buffer = io.BytesIO()
        write(buffer)
        write_atomic(path, buffer.getvalue(), durable=False)  # a lost entry is only recomputed

    def stamp_computed(self) -> None:
        """Touch ``computed.stamp``: a run (in any process: xdist workers, forked children) computed a
        value live. The harness reads its time to decide on a warm-up."""
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / COMPUTED_STAMP).touch()

    def size(self) -> tuple[int, int, int]:
        """``(entries, arrays, bytes)`` on disk."""
        counts, total = [0, 0], 0
        for index, folder in enumerate((self.entries, self.arrays)):
            for path in folder.rglob("*") if folder.is_dir() else ():
                if path.is_file():
                    counts[index] += 1
                    total += path.stat().st_size
        return counts[0], counts[1], total


# -------------------------------------------------------------- the wrapper

# This process's hits, by cache folder and key digest (the folder can change: KATAS_REFERENCE_CACHE).
_memory: dict[tuple[str, str], tuple[object, dict[str, np.ndarray]]] = {}


def cached(function, function_id: str, module):
    """``function`` with its values cached on disk (see the module docstring)."""
    try:
        signature = inspect.signature(function)
        if any(p.kind is p.VAR_POSITIONAL for p in signature.parameters.values()):
            signature = None  # a wrapper such as kernels._on_cpu: key the raw *args/**kwargs
    except (TypeError, ValueError):
        signature = None

    @functools.wraps(function)
    def reference_function(*args, **kwargs):
        depth = getattr(_inside, "depth", 0)
        if depth:  # called by another reference function: part of that one's value
            return function(*args, **kwargs)
        try:
            key = make_key(function_id, module, signature, args, kwargs)
        except Uncacheable as why:
            if getattr(_inside, "only_cached", False):
                raise CacheMiss(function_id) from None
            UNCACHED[function_id] = str(why)
            return _live(function, args, kwargs)
        digest = key_digest(key)
        if not fresh():
            found = _memory.get((str(cache_folder()), digest))
            if found is None:
                found = Store(cache_folder()).read(key)
            if found is not None:
                _memory[str(cache_folder()), digest] = found
                STATS["hits"] += 1
                return decode(*found)
        if getattr(_inside, "only_cached", False):
            raise CacheMiss(function_id)
        result = _live(function, args, kwargs)
        arrays: dict[str, np.ndarray] = {}
        try:
            value = encode_result(result, arrays)
        except Uncacheable as why:
            UNCACHED[function_id] = str(why)
            return result
        STATS["computed"] += 1
        store = Store(cache_folder())
        store.write(key, value, arrays)
        store.stamp_computed()
        _memory[str(store.folder), digest] = (value, arrays)
        # The same fresh copy a later hit returns, so a cold run and a warm run see identical values.
        return decode(value, arrays)

    reference_function.__wrapped_by_cache__ = True
    return reference_function


def _live(function, args, kwargs):
    STATS["live"] += 1
    _inside.depth = getattr(_inside, "depth", 0) + 1
    try:
        return function(*args, **kwargs)
    finally:
        _inside.depth -= 1


def live(function):
    """Mark a public reference function as never cached: it returns Keras objects, or is
    plain NumPy bookkeeping that costs less than a cache lookup."""
    function.__reference_live__ = True
    return function


def cache_public_functions(namespace: dict) -> None:
    """Wrap every public function defined in this module (call it at the end of a reference module,
    with ``globals()``); the module's own calls then go through the cache too."""
    module = sys.modules[namespace["__name__"]]
    for name, value in list(namespace.items()):
        if (
            name.startswith("_")
            or not inspect.isfunction(value)
            or value.__module__ != module.__name__
            or getattr(value, "__reference_live__", False)
            or getattr(value, "__wrapped_by_cache__", False)
        ):
            continue
        namespace[name] = cached(value, f"{module.__name__}.{name}", module)
