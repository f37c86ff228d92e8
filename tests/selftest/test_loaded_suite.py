"""benchmarks/loaded_suite.py: side by side, it alternates two checkouts, each importing its own ``dojo``."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _loaded_suite():
    spec = importlib.util.spec_from_file_location("loaded_suite", ROOT / "benchmarks" / "loaded_suite.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Run by both checkouts in turn: the ``dojo`` a run imports, and its subprocesses too, is its own.
PROBE = """
import os, subprocess, sys
import dojo

def test_each_run_imports_its_own_checkouts_dojo():
    here = os.path.realpath(os.getcwd())
    assert os.path.realpath(dojo.__file__).startswith(here + os.sep), (dojo.__file__, here)
    # From another folder, as the self-tests' subprocesses run (in a temporary copy of the course).
    child = subprocess.run(
        [sys.executable, "-c", "import dojo; print(dojo.__file__)"], capture_output=True, text=True, cwd=os.sep
    )
    assert os.path.realpath(child.stdout.strip()).startswith(here + os.sep), (child.stdout, child.stderr, here)
"""


def test_side_by_side_alternates_the_checkouts_and_gives_both_medians_and_their_ratio(tmp_path, capsys):
    other = tmp_path / "other"
    (other / "dojo").mkdir(parents=True)
    (other / "dojo" / "__init__.py").write_text("")
    probe = tmp_path / "probe" / "test_probe.py"
    probe.parent.mkdir()
    probe.write_text(PROBE)
    loaded_suite = _loaded_suite()
    code = loaded_suite.main(
        ["--busy", "0", "--runs", "2", "--against", str(other), "--", str(probe), "-p", "no:cacheprovider", "-q"]
    )
    said = capsys.readouterr().out
    assert code == 0, said
    runs = re.findall(r"^run (\d) (\S+): exit 0", said, re.MULTILINE)
    assert runs == [("1", str(ROOT)), ("1", str(other)), ("2", str(ROOT)), ("2", str(other))], said
    assert re.search(
        rf"side by side: this checkout \d+\.\d s, {re.escape(str(other))} \d+\.\d s: ratio \d+\.\d\d$", said
    ), said


def test_against_a_folder_that_is_not_a_checkout_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        _loaded_suite().main(["--busy", "0", "--against", str(tmp_path)])
    assert stopped.value.code == 2
    assert "not another checkout of the course (no dojo/ there)" in capsys.readouterr().err


def test_against_this_same_checkout_is_one_line(capsys):
    with pytest.raises(SystemExit) as stopped:
        _loaded_suite().main(["--busy", "0", "--against", str(ROOT)])
    assert stopped.value.code == 2
    assert "that is this checkout; name another" in capsys.readouterr().err
