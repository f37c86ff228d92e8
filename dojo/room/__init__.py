"""The room, live: a facilitator's web board that pairs join over the workshop network.

Two sides, one module per responsibility:

* the facilitator's server (``kata room serve``): :mod:`.server` (the
  Starlette app and its routes), :mod:`.board` (the room in memory: pairs,
  stuck flags, the mistakes panel, the rotation timer), :mod:`.store` (state
  on disk, written atomically), :mod:`.validation` (what a post may contain),
  :mod:`.limits` (size and rate bounds), :mod:`.auth` (the join code and the
  admin token), :mod:`.export` (JSON, CSV and the PNG board), and the page
  itself in ``static/`` (no CDN: it works on a LAN without internet);
* the pairs' side (``kata room join``/``leave``): :mod:`.client` (the
  membership file ``.katas/room.json`` and the lines a terminal prints),
  :mod:`.hook` (called once at the end of each pytest run) and
  :mod:`.poster` (the detached process that sends the post).

A post carries only states, kata ids, counts and the *names* of mistakes
(the course's own explanations): never a line of the pair's code.

Only the pairs' side may be imported by the pytest plugin: it needs the
standard library alone (the server's packages are imported by the server).
"""
