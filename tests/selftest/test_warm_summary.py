"""`kata warm` interrupted with Ctrl-C says what it computed, and that the rest comes when needed."""

# ruff: noqa: F811 - `repo` and `template` are test_cli's fixtures, named as arguments
from __future__ import annotations

import pytest
from test_cli import repo, template  # noqa: F401 - template and repo are fixtures

from dojo.refcache import warmup
from dojo.tools import cli
from dojo.tools.warm_summary import INTERRUPTED, summary


def test_the_summary_of_an_interrupted_warm_up():
    line = summary((10, 4, 1_000_000), (13, 6, 1_500_000), 42.4, interrupted=True)
    assert line.startswith("Interrupted (Ctrl-C) after 42 s: 3 new values computed and kept")
    assert "the cache holds 13 values (6 arrays, 1.5 MB)" in line
    assert "The rest will be computed when a kata needs it" in line
    assert "need no TensorFlow" not in line
    done = summary((0, 0, 0), (1, 1, 10), 3, interrupted=False)
    assert done.startswith("Reference cache: 1 new value in 3 s") and "the next runs need no TensorFlow" in done


@pytest.mark.parametrize("how", ["pytest reports it", "a second Ctrl-C"])
def test_kata_warm_interrupted_says_what_it_computed(repo, tmp_path, monkeypatch, capsys, how):
    cache = tmp_path / "cache"
    monkeypatch.setenv("KATAS_REFERENCE_CACHE", str(cache))
    monkeypatch.chdir(repo)

    def interrupted_run(root, *, plugins=(), extra=(), lock=None):
        entry = cache / "entries" / "ab" / "ab12.json"  # one value computed before Ctrl-C
        entry.parent.mkdir(parents=True)
        entry.write_text("{}")
        if lock is not None:
            lock.release()
        if how == "a second Ctrl-C":
            raise KeyboardInterrupt
        return INTERRUPTED

    monkeypatch.setattr(warmup, "run", interrupted_run)
    code = cli.main(["warm"])
    out = " ".join(capsys.readouterr().out.split())
    assert code == 130
    assert "Interrupted (Ctrl-C) after" in out and "1 new value computed and kept" in out, out
    assert "The rest will be computed when a kata needs it" in out, out
    assert "need no TensorFlow" not in out
