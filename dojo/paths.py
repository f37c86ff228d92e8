"""Where the learner's own state lives: one folder, ``.katas/``, in the checkout (not in git)."""

STATE_DIR = ".katas"
