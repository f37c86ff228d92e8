"""``main(args)``: what the command-line tool's ``bench`` verb calls.

``main(["-k", "conv2d", "--bench-chart", "bench.png"])`` is
``pytest --bench -k conv2d --bench-chart bench.png`` run at the project root.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(args: list[str] | None = None) -> int:
    import pytest

    args = list(sys.argv[1:] if args is None else args)
    paths = [a for a in args if not a.startswith("-") and os.path.exists(a.split("::")[0])]
    command = ["--bench", f"--rootdir={ROOT}", "-c", str(ROOT / "pyproject.toml"), *args]
    if not paths:
        command.append(str(ROOT / "benchmarks"))
    return int(pytest.main(command))


if __name__ == "__main__":
    raise SystemExit(main())
