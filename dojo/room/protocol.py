"""What the pairs' side and the server agree on: paths, header names, bounds.

Standard library only: the pytest hook imports this module on every run.
"""

from __future__ import annotations

#: Bumped when a post's fields change incompatibly.
VERSION = 1

POST_PATH = "/api/post"
HELLO_PATH = "/api/hello"  # a join checks the code here; also gives the rotation timer
HAND_PATH = "/api/hand"  # `kata help`: raise a hand; GET: the pair's place in the queue
LEAVE_PATH = "/api/leave"  # `kata room leave`: the row is greyed
BOARD_PATH = "/board"  # the page the facilitator projects
CODE_HEADER = "X-Room-Code"  # the join code, on every request of a pair
CLIENT_HEADER = "X-Room-Client"  # the pair's random client id (rate limits are kept per client)

#: Bounds a post must respect (the server rejects anything else).
MAX_BODY_BYTES = 16 * 1024
MAX_NAME = 60
MAX_MISTAKE = 240
MAX_MESSAGE = 200  # a help message
MAX_STREAK = 100_000
MAX_CHECKS = 10_000
CLIENT_ID_LENGTH = 16  # hex digits

#: The join code: short enough to read off a projector, no look-alike letters.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6

#: How long the pytest hook waits for its post before a detached poster takes over.
HOOK_WAIT_SECONDS = 0.5
#: How long the poster tries in all (connects, a retry after a 429), in the background.
POSTER_BUDGET_SECONDS = 8.0
