"""Where the learner's own state lives: one folder, ``.katas/``, in the checkout (not in git)."""

STATE_DIR = ".katas"

#: Under STATE_DIR: the room this checkout joined (``kata room join``), if any.
ROOM_FILE = "room.json"
