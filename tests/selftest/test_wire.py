"""The wire format between the harness, a kata's child and the reference server (dojo.wire)."""

import io

import numpy as np
import pytest

from dojo import wire

VALUE = {
    "weights": [np.arange(12.0).reshape(3, 4), np.array([10, 13], dtype=np.int32)],  # 10 and 13: b"\n", b"\r"
    "scalar": np.float64(2.5),
    "pair": (1, "two", None),
    "by_int": {0: np.ones(2), 1: "one"},
    "empty": np.zeros((0, 3)),
}


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, np.generic):
        return isinstance(b, np.generic) and a.dtype == b.dtype and a == b
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _message(value=VALUE, kind="reply"):
    return {"type": kind, "value": wire.encode(value)}


def test_values_come_back_as_they_left_whichever_way_they_are_read():
    data = wire.dumps(_message())
    assert data.count(b"\n") > 1, "the arrays' bytes follow the JSON line (they hold newline bytes here)"
    from_stream = wire.read(io.BytesIO(data), 1 << 20)
    assert _same(wire.decode(from_stream["value"]), VALUE)
    reader = wire.FrameReader(1 << 20)
    messages = []
    for i in range(len(data)):  # one byte at a time: the worst a pipe can do
        messages += reader.feed(data[i : i + 1])
    assert len(messages) == 1 and _same(wire.decode(messages[0]["value"]), VALUE)


def test_a_message_passed_on_keeps_its_arrays():
    """The harness hands a child's request to the reference server without decoding it."""
    request = wire.read(io.BytesIO(wire.dumps({"type": "ref", "args": wire.encode([[np.eye(3)], {}])})), 1 << 20)
    again = wire.read(io.BytesIO(wire.dumps(request)), 1 << 20)
    assert _same(wire.decode(again["args"]), [[np.eye(3)], {}])


def test_several_messages_in_one_chunk_come_out_in_order():
    data = b"".join(wire.dumps(_message(np.full(3, float(i)), kind=f"m{i}")) for i in range(3))
    messages = wire.FrameReader(1 << 20).feed(data)
    assert [m["type"] for m in messages] == ["m0", "m1", "m2"]
    assert [wire.decode(m["value"])[0] for m in messages] == [0.0, 1.0, 2.0]


@pytest.mark.parametrize(
    "line",
    [
        b"not json\n",
        b'["a list"]\n',
        b'{"no_type": 1}\n',
        b'{"type": "reply", "__blobs__": "many"}\n',
        b'{"type": "reply", "value": {"__ndarray__": 5}}\n',  # an index with no bytes
    ],
    ids=["not json", "not an object", "no type", "bad lengths", "missing bytes"],
)
def test_what_is_not_a_message_reads_as_none_and_the_next_one_still_reads(line):
    following = wire.dumps(_message(np.arange(2.0)))
    assert wire.FrameReader(1 << 20).feed(line + following)[0] is None
    messages = wire.FrameReader(1 << 20).feed(line + following)
    assert wire.decode(messages[1]["value"]).tolist() == [0.0, 1.0]
    stream = io.BytesIO(line + following)
    assert wire.read(stream, 1 << 20) is None
    assert wire.decode(wire.read(stream, 1 << 20)["value"]).tolist() == [0.0, 1.0]


def test_an_array_is_never_unpickled():
    message = {"type": "reply", "value": {"__ndarray__": wire.Blob(b"\x80\x04 a pickle, not an array")}}
    received = wire.read(io.BytesIO(wire.dumps(message)), 1 << 20)
    with pytest.raises(ValueError):
        wire.decode(received["value"])
    objects = np.array([object()], dtype=object)
    with pytest.raises(wire.NotData):
        wire.encode(objects)


def test_a_message_over_the_limit_is_refused_before_it_is_read():
    big = wire.dumps(_message(np.zeros(1000)))
    with pytest.raises(wire.TooLarge):
        wire.FrameReader(1000).feed(big)
    with pytest.raises(wire.TooLarge):
        wire.read(io.BytesIO(big), 1000)
    with pytest.raises(wire.TooLarge):  # a line that never ends
        wire.FrameReader(1000).feed(b"x" * 2000)
    claimed = b'{"type": "reply", "__blobs__": [999999999]}\n'  # lengths claimed, bytes never sent
    with pytest.raises(wire.TooLarge):
        wire.FrameReader(1000).feed(claimed)


def test_a_stream_that_ends_mid_message_is_the_end_not_a_message():
    data = wire.dumps(_message())
    with pytest.raises(wire.EndOfStream):
        wire.read(io.BytesIO(data[:-5]), 1 << 20)
    with pytest.raises(wire.EndOfStream):
        wire.read(io.BytesIO(b""), 1 << 20)
    assert wire.FrameReader(1 << 20).feed(data[:-5]) == []  # still waiting for the rest
