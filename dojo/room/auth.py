"""The room's two secrets: a short join code for the pairs, a long admin token for the facilitator.

The join code is read off the projector, so it is short (six characters
without look-alikes, about 30 bits); guessing it is stopped by the
per-address limit on wrong codes (:mod:`.limits`), not by its length. The
admin token never leaves the facilitator's terminal, so it is long. Both are
compared in constant time, so the time a wrong guess takes says nothing about
how many of its characters were right. Both are kept in the state folder
(readable by the facilitator alone), so a restarted server keeps them and no
pair has to join again.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from . import protocol
from .store import write_json_atomic

SECRETS_FILE = "secrets.json"


@dataclass(frozen=True)
class Secrets:
    code: str
    admin_token: str

    def is_code(self, given: str | None) -> bool:
        # Read off a projector and typed: case and surrounding spaces do not matter.
        return matches(given.strip().upper() if given else given, self.code)

    def is_admin(self, given: str | None) -> bool:
        return matches(given, self.admin_token)


def matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented secret with the real one."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def new_code() -> str:
    return "".join(secrets.choice(protocol.CODE_ALPHABET) for _ in range(protocol.CODE_LENGTH))


def load_or_create(state_dir: Path) -> Secrets:
    """The secrets of the room kept in ``state_dir``, made on first use."""
    path = Path(state_dir) / SECRETS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Secrets(code=str(data["code"]), admin_token=str(data["admin_token"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    made = Secrets(code=new_code(), admin_token=secrets.token_urlsafe(24))
    write_json_atomic(path, {"code": made.code, "admin_token": made.admin_token}, mode=0o600)
    return made


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header."""
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None
