"""A safe wire format between the harness and a kata's child process.

Messages are JSON, one per line. NumPy arrays travel as ``.npy`` bytes
(base64) and are read back with ``allow_pickle=False``; tuples, dicts with
non-string keys and NumPy scalars are tagged so they come back as they left.
Nothing here can execute code while decoding, which matters because the child
runs the learner's code: whatever it writes, the harness only ever parses data.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import numpy as np


class NotData(TypeError):
    """A value that is not plain data (a function, a Keras model, ...) cannot cross the wire."""


def encode(value: Any) -> Any:
    """``value`` as JSON-ready data, or :class:`NotData`."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, np.generic):
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise NotData("an object array")
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        tag = "__scalar__" if isinstance(value, np.generic) else "__ndarray__"
        return {tag: base64.b64encode(buffer.getvalue()).decode("ascii")}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {"__items__": [[encode(k), encode(v)] for k, v in value.items()]}
    raise NotData(f"a {type(value).__name__}")


def decode(data: Any) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "__ndarray__" in data or "__scalar__" in data:
        raw = base64.b64decode(data.get("__ndarray__", data.get("__scalar__")))
        array = np.load(io.BytesIO(raw), allow_pickle=False)
        return array[()] if "__scalar__" in data else array
    if "__tuple__" in data:
        return tuple(decode(v) for v in data["__tuple__"])
    if "__items__" in data:
        return {_hashable(decode(k)): decode(v) for k, v in data["__items__"]}
    return {k: decode(v) for k, v in data.items()}


def _hashable(key: Any) -> Any:
    return key.item() if isinstance(key, np.generic) else key


def dumps(message: dict) -> bytes:
    """One message as a line of bytes."""
    return json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n"


def loads(line: bytes) -> dict | None:
    """One line back as a message, or None when it is not one of ours."""
    try:
        message = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return message if isinstance(message, dict) and isinstance(message.get("type"), str) else None
