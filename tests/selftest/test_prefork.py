"""Libraries a kata's child imported are loaded by the harness before the next fork (dojo.harness.prefork)."""

import sys

from dojo.harness import prefork


def test_only_the_listed_libraries_are_ever_loaded(monkeypatch):
    loaded = []
    monkeypatch.setattr(prefork, "LIBRARIES", {"numpy.random": lambda: loaded.append("numpy.random")})
    monkeypatch.delitem(sys.modules, "numpy.random", raising=False)
    preloader = prefork.Preloader()
    preloader.children_loaded(["os", "antigravity", "numpy.random", 5, None])  # a child's claim is data
    preloader.children_loaded("numpy.random")  # not even a list
    preloader.before_fork()
    assert loaded == ["numpy.random"]


def test_a_library_is_loaded_once_and_a_failure_is_not_the_harnesss_problem(monkeypatch):
    calls = []

    def broken():
        calls.append("broken")
        raise ImportError("not installed")

    monkeypatch.setattr(prefork, "LIBRARIES", {"some.library": broken})
    preloader = prefork.Preloader()
    preloader.children_loaded(["some.library"])
    preloader.before_fork()  # no error: the next child imports it itself, as before
    preloader.before_fork()  # and it is not tried again until a child reports it again
    assert calls == ["broken"]


def test_a_child_reports_what_it_imported_of_the_list(monkeypatch):
    monkeypatch.setattr(prefork, "LIBRARIES", {"json": None, "surely.not.imported": None})
    import json  # noqa: F401

    assert prefork.loaded_in_this_process() == ["json"]


def test_matplotlib_is_loaded_to_draw_off_screen():
    prefork.LIBRARIES["matplotlib.pyplot"]()
    import matplotlib

    assert matplotlib.get_backend().lower() == "agg"


def test_what_children_loaded_is_kept_for_the_next_pytest_session_of_the_process(monkeypatch):
    """The mutation self-tests run hundreds of one-kata sessions in one process: each session's only
    child must start with what the earlier sessions' children imported."""
    from dojo.harness.isolation import KataRunner

    loaded = []
    monkeypatch.setattr(prefork, "LIBRARIES", {"some.library": lambda: loaded.append("some.library")})
    first_session, next_session = KataRunner(None, None), KataRunner(None, None)
    first_session.preloader.children_loaded(["some.library"])
    next_session.preloader.before_fork()
    assert loaded == ["some.library"]
