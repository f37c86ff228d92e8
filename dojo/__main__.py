"""``python -m dojo``: the same as the ``kata`` command."""

import sys

from .cli import main

sys.exit(main())
