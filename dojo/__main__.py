"""``python -m dojo``: the same as the ``kata`` command."""

import sys

from .tools.cli import main

sys.exit(main())
