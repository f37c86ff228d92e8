"""Bounds on how fast anyone may post: token buckets, per key and for the whole room.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per
second; each request takes one. A pair's ``pytest`` runs take seconds, so an
honest pair never meets its limit; a script posting in a loop does, at once.
Keyed buckets are kept for a bounded number of keys (the least recently used
go first), so a flood of invented keys cannot grow the server's memory.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class Bucket:
    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def available(self, now: float | None = None) -> bool:
        """Whether a token is there, without taking it."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return self.tokens >= 1

    def take(self, now: float | None = None) -> bool:
        """Take one token if there is one."""
        if self.available(now):
            self.tokens -= 1
            return True
        return False

    def wait(self) -> float:
        """Seconds until the next token (for a Retry-After header)."""
        return max(0.0, (1 - self.tokens) / self.rate) if self.rate > 0 else 60.0


class Buckets:
    """One bucket per key (a client id, an address), at most ``max_keys`` of them."""

    def __init__(self, rate: float, burst: float, max_keys: int = 4096):
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def get(self, key: str) -> Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(self.rate, self.burst)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def take(self, key: str) -> bool:
        return self.get(key).take()

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass
class Limits:
    """The room's rate settings (requests per second, and the burst allowed above that)."""

    client_rate: float = 1.0  # one pair's posts
    client_burst: float = 6.0
    address_rate: float = 20.0  # everything from one network address (a room behind NAT shares one)
    address_burst: float = 60.0
    bad_code_rate: float = 0.2  # wrong join codes from one address: guessing stops here
    bad_code_burst: float = 10.0
    global_rate: float = 60.0  # all posts of the room together
    global_burst: float = 120.0
    new_pair_rate: float = 0.1  # pairs the room has not seen, per address: a room behind NAT joins in a burst...
    new_pair_burst: float = 40.0  # ...while a script inventing client ids gets no further than this
    max_streams: int = 64  # board pages open at once (event streams, counted apart from every other request)
    streams_per_address: int = 16
