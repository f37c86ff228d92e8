"""A safe wire format between the harness, a kata's child process and the reference server.

A message is a JSON object on one line, followed by the raw bytes of the NumPy
arrays it carries. Inside the JSON an array is ``{"__ndarray__": i}``, the
index of its bytes; the line ends with ``"__blobs__": [n0, n1, ...]``, their
lengths, so a reader knows how much follows before the next message. Each
array travels as ``.npy`` bytes and is read back with ``allow_pickle=False``;
tuples, dicts with non-string keys and NumPy scalars are tagged so they come
back as they left. Nothing here can execute code while decoding, which matters
because the child runs the learner's code: whatever it writes, the harness
only ever parses data, and never more of it than the reader's limit.

Why not arrays inside the JSON (base64), as before: the capstones send
weights of millions of numbers back and forth (an Embedding(10000, 128) is
10 MB), and a run of the sequence track moved gigabytes of base64 text, which
took more time to encode, scan and decode than the checks took to run.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

ARRAY, SCALAR = "__ndarray__", "__scalar__"
BLOBS = "__blobs__"


class NotData(TypeError):
    """A value that is not plain data (a function, a Keras model, ...) cannot cross the wire."""


class EndOfStream(EOFError):
    """The other side closed the stream, or stopped in the middle of a message."""


class TooLarge(ValueError):
    """A message longer than the reader accepts."""


class Blob:
    """The ``.npy`` bytes of one array: they travel after the message's JSON line, not inside it."""

    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = data


def encode(value: Any) -> Any:
    """``value`` as data for :func:`dumps`, or :class:`NotData`."""
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
        return {SCALAR if isinstance(value, np.generic) else ARRAY: Blob(buffer.getvalue())}
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
    """The inverse of :func:`encode` (``ValueError`` for an array whose bytes are not an array)."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if ARRAY in data or SCALAR in data:
        blob = data.get(ARRAY, data.get(SCALAR))
        if not isinstance(blob, Blob):
            raise ValueError("an array without its bytes")
        array = np.load(io.BytesIO(blob.data), allow_pickle=False)
        return array[()] if SCALAR in data else array
    if "__tuple__" in data:
        return tuple(decode(v) for v in data["__tuple__"])
    if "__items__" in data:
        return {_hashable(decode(k)): decode(v) for k, v in data["__items__"]}
    return {k: decode(v) for k, v in data.items()}


def _hashable(key: Any) -> Any:
    return key.item() if isinstance(key, np.generic) else key


def dumps(message: dict) -> bytes:
    """One message: its JSON line, then the bytes of its arrays."""
    blobs: list[bytes] = []

    def blob_index(value):
        if isinstance(value, Blob):
            blobs.append(value.data)
            return len(blobs) - 1
        raise TypeError(f"{type(value).__name__} is not data")

    line = json.dumps(message, separators=(",", ":"), default=blob_index)
    if blobs:
        lengths = ",".join(str(len(blob)) for blob in blobs)
        line = f'{line[:-1]}{"," if len(line) > 2 else ""}"{BLOBS}":[{lengths}]}}'
    return b"".join([line.encode("utf-8"), b"\n", *blobs])


def _header(line: bytes) -> tuple[dict | None, list[int]]:
    """The message of one JSON line (None when it is not one of ours) and the lengths of its arrays."""
    try:
        message = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, []
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return None, []
    lengths = message.pop(BLOBS, [])
    if not isinstance(lengths, list) or not all(type(n) is int and n >= 0 for n in lengths):
        return None, []
    return message, lengths


def _attach(value: Any, blobs: list[bytes]) -> Any:
    """Put each array's bytes where its index stands (ValueError for an index with no bytes)."""
    if isinstance(value, list):
        return [_attach(v, blobs) for v in value]
    if not isinstance(value, dict):
        return value
    if ARRAY in value or SCALAR in value:
        tag = ARRAY if ARRAY in value else SCALAR
        index = value[tag]
        if type(index) is not int or not 0 <= index < len(blobs):
            raise ValueError("an array index with no bytes")
        return {tag: Blob(blobs[index])}
    return {k: _attach(v, blobs) for k, v in value.items()}


def _complete(message: dict | None, blobs: list[bytes]) -> dict | None:
    if message is None:
        return None
    try:
        return _attach(message, blobs)
    except ValueError:
        return None


def read(stream, limit: int) -> dict | None:
    """The next message from a blocking binary stream; None when it is not one of ours.

    Raises :class:`EndOfStream` when the stream ends (or ends mid-message), :class:`TooLarge`
    past ``limit`` bytes.
    """
    line = stream.readline(limit + 1)
    if not line.endswith(b"\n"):
        if len(line) > limit:
            raise TooLarge(f"a message of over {limit} bytes")
        raise EndOfStream("the stream ended")
    message, lengths = _header(line)
    if sum(lengths) > limit:
        raise TooLarge(f"a message of over {limit} bytes")
    blobs = []
    for length in lengths:
        blob = stream.read(length)
        if len(blob) != length:
            raise EndOfStream("the stream ended in the middle of a message")
        blobs.append(blob)
    return _complete(message, blobs)


class FrameReader:
    """Messages out of bytes that arrive in chunks (what the harness reads from a child's pipe).

    Each chunk is scanned once, so a message of many megabytes costs no more than its length.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer known to hold no newline (while waiting for a JSON line)
        self._waiting: tuple[dict | None, list[int]] | None = None  # a JSON line whose arrays have not all come

    def feed(self, chunk: bytes) -> list[dict | None]:
        """The messages ``chunk`` completes, in order (None for one that is not ours); :class:`TooLarge`."""
        self._buffer += chunk
        messages = []
        while True:
            if self._waiting is None:
                end = self._buffer.find(b"\n", self._scanned)
                if end < 0:
                    self._scanned = len(self._buffer)
                    if self._scanned > self.limit:
                        raise TooLarge(f"a message of over {self.limit} bytes")
                    return messages
                self._waiting = _header(bytes(self._buffer[:end]))
                del self._buffer[: end + 1]
                self._scanned = 0
                if sum(self._waiting[1]) > self.limit:
                    raise TooLarge(f"a message of over {self.limit} bytes")
            message, lengths = self._waiting
            if len(self._buffer) < sum(lengths):
                return messages
            blobs, start = [], 0
            for length in lengths:
                blobs.append(bytes(self._buffer[start : start + length]))
                start += length
            del self._buffer[:start]
            self._waiting = None
            messages.append(_complete(message, blobs))
