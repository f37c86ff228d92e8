"""Sockets that cannot take the room down: a deadline for every request's headers, and caps on connections.

uvicorn alone counts an idle socket (one that connected and sent nothing)
like a busy one, and without a header deadline a few hundred of them are
enough to make every other request a 503. Here, below the app, in the HTTP
protocol object of each connection (:func:`guarded_protocol`):

* **a header deadline**: a connection must deliver a complete request head
  within ``header_seconds`` of connecting, and the next one within
  ``header_seconds`` of the previous answer. Bytes trickled in one at a time
  ("slowloris") do not move the deadline: only a whole request does.
* **caps that evict instead of refusing**: at most ``per_address``
  connections from one address and ``total`` in all. When a new connection
  goes over a cap, the *oldest idle* connection of that address (or of the
  whole server) is closed: one that is between requests or has not sent one
  for ``grace_seconds``. A connection younger than that is never the one
  pushed out, so a pair's or a board's request (its head follows its
  connection within milliseconds) gets in even while a burst of new sockets
  from the same address arrives; a thousand sockets held open by one address
  only ever hold ``per_address`` places once they are a second old. Young
  connections may go over the cap up to ``hard_factor`` times it; beyond
  that the oldest idle one goes whatever its age, and when every connection
  of the address is busy the new one is closed instead (the file descriptors
  stay bounded whatever the attacker does).

Event streams are busy connections; they are bounded by the server itself
(:class:`~.limits.Limits`: ``max_streams``, ``streams_per_address``).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class GuardSettings:
    header_seconds: float = 10.0  # to deliver a request's head, from connecting or from the last answer
    per_address: int = 64  # connections held at once by one address
    total: int = 512  # connections held at once in all
    grace_seconds: float = 1.0  # a connection this young is never pushed out by a newer one
    hard_factor: int = 4  # young connections may take the caps this many times over, then newcomers are closed


@dataclass
class ConnectionGuard:
    """Every open connection, per address, in the order they became idle (oldest first)."""

    settings: GuardSettings = field(default_factory=GuardSettings)
    by_address: dict[str, OrderedDict] = field(default_factory=dict)
    everyone: OrderedDict = field(default_factory=OrderedDict)
    evicted: int = 0
    timed_out: int = 0

    def opened(self, connection) -> None:
        address = connection.address
        mine = self.by_address.setdefault(address, OrderedDict())
        mine[connection] = None
        self.everyone[connection] = None
        if len(mine) > self.settings.per_address:
            self._evict(mine, connection, self.settings.per_address)
        if connection in self.everyone and len(self.everyone) > self.settings.total:
            self._evict(self.everyone, connection, self.settings.total)

    def closed(self, connection) -> None:
        mine = self.by_address.get(connection.address)
        if mine is not None:
            mine.pop(connection, None)
            if not mine:
                del self.by_address[connection.address]
        self.everyone.pop(connection, None)

    def idle_again(self, connection) -> None:
        """The connection answered a request: it goes to the back of the eviction order."""
        for group in (self.by_address.get(connection.address), self.everyone):
            if group is not None and connection in group:
                group.move_to_end(connection)

    def _evict(self, group: OrderedDict, newcomer, cap: int) -> None:
        now = time.monotonic()
        idle = [c for c in group if c is not newcomer and c.is_idle()]
        victim = next((c for c in idle if now - c.idle_since >= self.settings.grace_seconds), None)
        if victim is None:
            if len(group) <= cap * self.settings.hard_factor:
                return  # only young connections: let them have their moment
            victim = idle[0] if idle else newcomer  # a burst beyond the hard cap: the oldest goes all the same
        self.closed(victim)  # out of the counts now, not when its socket is finally gone
        victim.drop()
        self.evicted += 1


def guarded_protocol(guard: ConnectionGuard):
    """uvicorn's h11 protocol class with the guard's deadline and caps (pass it as ``http=``)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        address = "?"
        _deadline: asyncio.TimerHandle | None = None
        _gone = False

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self.address = self.client[0] if self.client else "?"
            self.idle_since = time.monotonic()
            self._arm()
            guard.opened(self)

        def connection_lost(self, exc) -> None:
            self._disarm()
            guard.closed(self)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()  # a whole request head arrived: it is the app's now

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self.idle_since = time.monotonic()
                self._arm()
                guard.idle_again(self)

        def is_idle(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def drop(self) -> None:
            if not self._gone:
                self._gone = True
                self._disarm()
                self.transport.close()

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(guard.settings.header_seconds, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if self.conn.their_state is h11.IDLE or self.is_idle():
                guard.timed_out += 1
                self.drop()

    return GuardedH11Protocol
