"""What a pair's post may contain, checked field by field before the board sees it.

A post is a small JSON object::

    {"v": 1, "client": "3f9c0a1b2d4e5f60", "name": "Ana & Ben", "seq": 12,
     "current": "activations.softmax", "streak": 4, "checks": [2, 5],
     "mistake": "softmax along the wrong axis: ...",
     "katas": {"neuron.weighted_sum": "passed", "activations.softmax": "failing"}}

Every field is required except ``mistake`` and ``current`` (which may be
null) and ``hints`` (kata id -> hint level the pair had reached, for the
katas where it is above 0: the per-kata analysis reports at which level pairs pass); unknown fields, wrong types, strings too long or with control
characters, a current kata the curriculum does not have, malformed kata ids
and states outside :class:`dojo.states.KataState` are all rejected with a
reason. Well-formed ids in ``katas`` that the room's course lacks (a pair on
a slightly different version) are dropped, never stored. Nothing in a
post is the pair's code: states, kata ids, counts, and the course's own name
of a known mistake.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ..course.curriculum import Curriculum
from ..states import KataState
from . import protocol

FIELDS = {"v", "client", "name", "seq", "current", "streak", "checks", "mistake", "katas", "hints"}
REQUIRED = FIELDS - {"mistake", "hints"}
MAX_HINT_LEVEL = 99
STATES = {state.value for state in KataState}
KATA_ID = re.compile(r"[a-z_][a-z0-9_]{0,39}\.[A-Za-z_][A-Za-z0-9_]{0,59}")
CLIENT_ID = re.compile(rf"[0-9a-f]{{{protocol.CLIENT_ID_LENGTH}}}")


class PayloadError(ValueError):
    """The post is not acceptable; the message says which field and why."""


@dataclass(frozen=True)
class Post:
    client: str
    name: str
    seq: int
    current: str | None
    streak: int
    passed: int
    total: int
    mistake: str | None
    katas: dict[str, str]
    hints: dict[str, int] = field(default_factory=dict)

    @property
    def state(self) -> str:
        """The state of the kata the pair is on (``not started`` when none is known)."""
        return self.katas.get(self.current, KataState.NOT_STARTED.value) if self.current else KataState.PASSED.value


def _integer(data: dict, key: str, top: int) -> int:
    value = data[key]
    # bool is an int in Python; a JSON true is not a count.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
        raise PayloadError(f"{key} must be an integer from 0 to {top}")
    return value


def _text(value, key: str, limit: int) -> str:
    if not isinstance(value, str):
        raise PayloadError(f"{key} must be a string")
    value = value.strip()
    if not value or len(value) > limit:
        raise PayloadError(f"{key} must have 1 to {limit} characters")
    # Control and format characters (newlines, bidi overrides) would garble the board or a CSV.
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        raise PayloadError(f"{key} must not contain control characters")
    return value


def _hints(hints, curriculum: Curriculum) -> dict[str, int]:
    """The optional hint levels: kata id -> 0..99, for katas of the room's course (others are left out)."""
    if hints is None:
        return {}
    if not isinstance(hints, dict) or len(hints) > 2 * len(curriculum.katas):
        raise PayloadError("hints must be an object of kata id -> hint level")
    for kata_id, level in hints.items():
        if not KATA_ID.fullmatch(kata_id):
            raise PayloadError("hints must be keyed on kata ids like 'neuron.weighted_sum'")
        if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= MAX_HINT_LEVEL:
            raise PayloadError(f"a hint level must be an integer from 0 to {MAX_HINT_LEVEL}")
    return {kata_id: level for kata_id, level in hints.items() if kata_id in curriculum.by_id}


def validate_text(value, key: str, limit: int) -> str:
    """A short one-line text a person typed (a name, a help message): trimmed, bounded, no control characters."""
    return _text(value, key, limit)


def validate_post(data, curriculum: Curriculum) -> Post:
    """Check a decoded JSON post against the schema and the curriculum."""
    if not isinstance(data, dict):
        raise PayloadError("the post must be a JSON object")
    unknown = set(data) - FIELDS
    if unknown:
        raise PayloadError(f"unknown fields: {sorted(unknown)[:5]}")
    missing = REQUIRED - set(data)
    if missing:
        raise PayloadError(f"missing fields: {sorted(missing)}")
    if data["v"] != protocol.VERSION:
        raise PayloadError(f"v must be {protocol.VERSION} (this room speaks version {protocol.VERSION})")
    client = data["client"]
    if not isinstance(client, str) or not CLIENT_ID.fullmatch(client):
        raise PayloadError(f"client must be {protocol.CLIENT_ID_LENGTH} lowercase hex digits")
    name = _text(data["name"], "name", protocol.MAX_NAME)
    seq = _integer(data, "seq", 10**9)
    streak = _integer(data, "streak", protocol.MAX_STREAK)
    checks = data["checks"]
    if (
        not isinstance(checks, list)
        or len(checks) != 2
        or not all(isinstance(c, int) and not isinstance(c, bool) for c in checks)
        or not 0 <= checks[0] <= checks[1] <= protocol.MAX_CHECKS
    ):
        raise PayloadError(f"checks must be [passed, total] with 0 <= passed <= total <= {protocol.MAX_CHECKS}")
    current = data["current"]
    if current is not None and (not isinstance(current, str) or current not in curriculum.by_id):
        raise PayloadError(
            "current must be a kata id of the room's course, or null (is your copy of the "
            "course the facilitator's version?)"
        )
    mistake = data.get("mistake")
    if mistake is not None:
        mistake = _text(mistake, "mistake", protocol.MAX_MISTAKE)
    katas = data["katas"]
    if not isinstance(katas, dict) or len(katas) > 2 * len(curriculum.katas):
        raise PayloadError("katas must be an object of kata id -> state")
    for kata_id, state in katas.items():
        if not KATA_ID.fullmatch(kata_id):
            raise PayloadError("katas must be keyed on kata ids like 'neuron.weighted_sum'")
        if state not in STATES:
            raise PayloadError(f"a kata's state must be one of {sorted(STATES)}")
    # A pair whose copy of the course is a little older or newer than the room's still shows:
    # katas the room's course does not have are left out (never stored), not a reason to refuse.
    known = {kata_id: state for kata_id, state in katas.items() if kata_id in curriculum.by_id}
    return Post(
        hints=_hints(data.get("hints"), curriculum),
        client=client,
        name=name,
        seq=seq,
        current=current,
        streak=streak,
        passed=checks[0],
        total=checks[1],
        mistake=mistake,
        katas=known,
    )
