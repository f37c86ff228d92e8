"""The notebook front end: generated notebooks, cards, cells into katas/, and real Jupyter kernels.

The slow tests execute every generated notebook on a real IPython kernel (nbclient), in a
copy of the checkout: as shipped (every kata "not started"), with the answer key's code
in the stub cells (every kata passes, progress recorded, and `pytest` in the same checkout
agrees), and one notebook per track with a learner's known mistake (the card names it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
from notebook_support import ROOT, answer_cell, course_copy, execute, kata_of, mutant_cell, notebooks

from dojo.course import definitions
from dojo.course.curriculum import load
from dojo.notebook import cells, generate
from dojo.notebook.card import WIDTH, Card
from dojo.notebook.gpu import RaceTable
from dojo.tools import devcheck
from dojo.tools.workspace import catch_up

CURRICULUM = load(ROOT / "curriculum")

needs_kernel = pytest.mark.skipif(
    any(__import__("importlib").util.find_spec(m) is None for m in ("nbclient", "ipykernel", "nbformat")),
    reason="the notebook extra is not installed: pip install -e '.[notebook]'",
)


# ------------------------------------------------------------------ generated notebooks


def test_the_committed_notebooks_are_what_the_course_generates():
    assert generate.stale(ROOT) == [], "run `kata dev notebooks` and commit notebooks/"


@pytest.mark.slow
def test_kata_dev_check_fails_on_a_stale_notebook_and_names_the_command(tmp_path):
    for name in ("curriculum", "katas", "solutions", "notebooks"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "tests" / "katas", tmp_path / "tests" / "katas")
    shutil.copytree(ROOT / "tests" / "selftest" / "mutants", tmp_path / "tests" / "selftest" / "mutants")
    shutil.copy2(ROOT / "README.md", tmp_path / "README.md")
    assert not [p for p in devcheck.check(tmp_path) if "notebook" in str(p)]
    stale = tmp_path / "notebooks" / "neuron.ipynb"
    document = json.loads(stale.read_text(encoding="utf-8"))
    document["cells"][3]["source"] = ["def weighted_sum(inputs, weights):\n", "    return 0.0"]
    stale.write_text(json.dumps(document), encoding="utf-8")
    problems = [str(p) for p in devcheck.check(tmp_path)]
    assert any("neuron.ipynb" in p and "kata dev notebooks" in p for p in problems), problems
    generate.write(tmp_path)
    assert not [p for p in devcheck.check(tmp_path) if "notebook" in str(p)]


def test_each_notebook_has_its_katas_stubs_and_checks_in_course_order():
    for track in CURRICULUM.tracks:
        document = json.loads((ROOT / "notebooks" / f"{track.module}.ipynb").read_text(encoding="utf-8"))
        setup = "".join(document["cells"][1]["source"])
        assert setup.count("%pip install") == 1 and "%load_ext dojo" in setup
        checks = [kata_of(c)[0] for c in document["cells"] if kata_of(c)[1] == "check"]
        assert checks == [kata.id for kata in CURRICULUM.in_track(track)]
        for cell in document["cells"]:
            if kata_of(cell)[1] == "stub":
                kata = CURRICULUM.by_id[kata_of(cell)[0]]
                assert definitions.is_stub("".join(cell["source"])), kata.id


def test_the_readme_links_every_track_in_colab():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for line in generate.readme_lines(CURRICULUM):
        assert line in readme


# ------------------------------------------------------------------------------- cards


def test_a_card_escapes_what_the_learner_wrote_and_fits_80_columns():
    card = Card("kata 1.1  The weighted sum", "failing", "(1 of 5 checks pass)")
    card.add("why", "returned <script>alert('x')</script> & more " * 4, code=True, tone="bad")
    card.add("print", "<b>not bold</b>", code=True)
    page = card.html()
    assert "<script>" not in page and "<b>not bold</b>" not in page
    assert "&lt;script&gt;" in page and "&lt;b&gt;not bold&lt;/b&gt;" in page
    text = card.text()
    assert "<script>alert('x')</script>" in text
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    bundle = card._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}


def test_a_race_table_is_html_with_every_contender():
    table = RaceTable(
        {
            "operation": "relu <gpu>",
            "size": "x (4096, 4096)",
            "note": "",
            "rows": [
                {"label": "your code (katas/)", "median": 0.0012, "speedup_vs_tensorflow": 2.0, "rate": "9 GB/s"},
                {"label": "TensorFlow", "median": 0.0024, "speedup_vs_tensorflow": 1.0, "rate": ""},
                {"label": "answer key", "median": None, "skipped": "timing disabled", "rate": ""},
            ],
        }
    )
    page = table.html()
    assert page.count("<tr>") == 4 and "relu &lt;gpu&gt;" in page and "1.2 ms" in page and "2x" in page
    assert "not raced: timing disabled" in table.text()


# ------------------------------------------------------------------ cells into katas/


def _stub_file(tmp_path):
    katas = tmp_path / "katas"
    katas.mkdir()
    shutil.copy2(ROOT / "katas" / "neuron.py", katas / "neuron.py")
    return katas


def test_a_cell_replaces_the_definition_and_keeps_the_kata_docstring(tmp_path):
    katas = _stub_file(tmp_path)
    kata = CURRICULUM.by_id["neuron.weighted_sum"]
    shipped = definitions.definition((ROOT / "katas" / "neuron.py").read_text(), "weighted_sum")
    cell = "import math\n\ndef _pairs(a, b):\n    return zip(a, b)\n\ndef weighted_sum(inputs, weights):\n    return math.fsum(x * w for x, w in _pairs(inputs, weights))\n"
    written = cells.write_definition(kata, cell, katas, tmp_path / ".katas", shipped, None)
    text = (katas / "neuron.py").read_text()
    assert written.backup is None and not written.kept_file
    assert "math.fsum" in text and "def _pairs" in text and "import math" in text
    assert definitions.definition(text, "weighted_sum").count('"""') == 2  # the kata's docstring stays
    assert definitions.definition(text, "neuron") == definitions.definition(
        (ROOT / "katas" / "neuron.py").read_text(), "neuron"
    )


def test_a_stub_cell_never_overwrites_the_learners_code_and_replaced_code_is_kept(tmp_path):
    katas = _stub_file(tmp_path)
    kata = CURRICULUM.by_id["neuron.weighted_sum"]
    shipped = definitions.definition((ROOT / "katas" / "neuron.py").read_text(), "weighted_sum")
    mine = "def weighted_sum(inputs, weights):\n    return sum(x * w for x, w in zip(inputs, weights))\n"
    cells.write_definition(kata, mine, katas, tmp_path / ".katas", shipped, None)
    kept = cells.write_definition(kata, shipped, katas, tmp_path / ".katas", shipped, None)
    assert kept.kept_file and "zip(inputs, weights)" in (katas / "neuron.py").read_text()
    other = "def weighted_sum(inputs, weights):\n    return 0.0\n"
    replaced = cells.write_definition(kata, other, katas, tmp_path / ".katas", shipped, None)
    assert replaced.backup is not None and "zip(inputs, weights)" in replaced.backup.read_text()


def test_without_a_known_stub_a_stub_cell_still_never_undoes_work(tmp_path):
    """No git and no snapshot: a cell with more unfinished parts than the file's code is not written."""
    katas = _stub_file(tmp_path)
    kata = CURRICULUM.by_id["neuron.weighted_sum"]
    shipped = definitions.definition((ROOT / "katas" / "neuron.py").read_text(), "weighted_sum")
    mine = "def weighted_sum(inputs, weights):\n    return sum(x * w for x, w in zip(inputs, weights))\n"
    cells.write_definition(kata, mine, katas, tmp_path / ".katas", None, None)
    assert cells.write_definition(kata, shipped, katas, tmp_path / ".katas", None, None).kept_file
    assert "zip(inputs, weights)" in (katas / "neuron.py").read_text()


def test_a_cell_without_the_katas_name_says_which_name(tmp_path):
    katas = _stub_file(tmp_path)
    kata = CURRICULUM.by_id["neuron.weighted_sum"]
    with pytest.raises(cells.CellError, match="`def weighted_sum`"):
        cells.write_definition(kata, "def weighted(inputs, weights):\n    return 0\n", katas, tmp_path, None, None)


# ----------------------------------------------------------------------- real kernels


def _cells_of(checkout, fill=None, tracks=None):
    """Every notebook's cells in course order; ``fill(kata)`` gives a stub cell's code (None: the stub)."""
    chosen = []
    for track, document in zip(CURRICULUM.tracks, notebooks(checkout)):
        if tracks is not None and track.module not in tracks:
            continue
        for cell in document.cells:
            kata_id, role = kata_of(cell)
            if role == "stub" and fill is not None:
                code = fill(CURRICULUM.by_id[kata_id])
                if code is not None:
                    cell.source = code
            chosen.append(cell)
    return chosen


def _progress(checkout):
    return json.loads((checkout / ".katas" / "progress.json").read_text(encoding="utf-8"))["katas"]


@needs_kernel
@pytest.mark.slow
def test_every_notebook_as_shipped_runs_and_reads_not_started(tmp_path):
    checkout = course_copy(tmp_path / "checkout")
    ran = execute(_cells_of(checkout), checkout / "notebooks")
    assert not ran.errors
    assert set(ran.cards) == set(CURRICULUM.by_id)
    first = CURRICULUM.katas[0]
    assert ran.cards[first.id].splitlines()[0] == f"kata {first.number}  {first.title}   not started"
    for card in ran.cards.values():
        assert "not started" in card.splitlines()[0], card
        assert max(len(line) for line in card.splitlines()) <= WIDTH, card
    assert not any(entry.get("state") == "passed" for entry in _progress(checkout).values())


def _first_named_mistake(track):
    """The first kata of ``track`` with a mutant whose message the self-tests pin (``expect``)."""
    import mutants  # noqa: F401 - fills the registry
    from mutation import REGISTRY

    for kata in CURRICULUM.in_track(track):
        for variant in REGISTRY:
            if variant.kata_id == kata.id and variant.kind == "mutant" and variant.expect and not variant.module:
                if variant.target in (None, kata.target):
                    return kata, variant
    raise AssertionError(f"track {track.module} has no mutant with an expected message")


@needs_kernel
@pytest.mark.slow
def test_one_notebook_per_track_with_a_mistake_names_it(tmp_path):
    """Each track's notebook, from its top down to a kata whose cell holds a known mistake."""
    checkout = course_copy(tmp_path / "checkout")
    for module in {kata.module for kata in CURRICULUM.katas}:
        shutil.copy2(ROOT / "solutions" / f"{module}.py", checkout / "katas" / f"{module}.py")  # `kata catch-up`
    chosen, expected = [], {}
    for track, document in zip(CURRICULUM.tracks, notebooks(checkout)):
        kata, variant = _first_named_mistake(track)
        expected[kata.id] = variant
        for cell in document.cells:
            kata_id, role = kata_of(cell)
            if role == "stub" and kata_id == kata.id:
                cell.source = mutant_cell(variant, kata)
            if role in ("stub", "check") and kata_id != kata.id:
                continue  # the other katas' code is the answer key's already (caught up)
            chosen.append(cell)
            if role == "check" and kata_id == kata.id:
                break
    ran = execute(chosen, checkout / "notebooks")
    assert not ran.errors
    for kata_id, variant in expected.items():
        card = ran.cards[kata_id]
        assert re.search(r"   (failing|error)", card.splitlines()[0]), card
        said = " ".join(card.split())  # the text card wraps at 80 columns
        assert re.search(variant.expect, said), f"{variant}: the card does not say {variant.expect!r}:\n{card}"
        assert "hint 1/" in card, card


class _Written(Exception):
    """Raised in place of the harness run of a notebook check: the cell has been written into katas/."""


@pytest.mark.slow
def test_every_katas_answer_cell_written_the_notebooks_way_leaves_the_answer_keys_code(tmp_path, monkeypatch):
    """Every kata's stub cell holding the answer key's code, written into katas/ by the notebook's own check
    (``Session.check`` up to the harness run), in course order: right after its cell, and after every later
    cell, each kata's verdict depends on the answer key's code only (the proof `kata catch-up` relies on,
    dojo/course/answer_key.py), so CI's answer-key run proves the check passes. In process, for every kata:
    the kernel runs below check it for real, through the harness, on two of the tracks."""
    from dojo.course.answer_key import AnswerKeyPasses
    from dojo.notebook import session

    checkout = course_copy(tmp_path / "checkout")
    monkeypatch.chdir(checkout / "notebooks")

    def written_not_run(home, kata):
        raise _Written(kata.id)

    monkeypatch.setattr(session, "check_kata", written_not_run)
    current = session.Session()
    assert current.place.katas == checkout / "katas"
    passes = AnswerKeyPasses(ROOT, checkout / "katas")
    for kata in CURRICULUM.katas:
        with pytest.raises(_Written):
            current.check(kata.id, answer_cell(kata))
        assert passes.now().digest(kata) is not None, (
            f"{kata.id}: its answer cell, written by the notebook's check, is not the answer key's code"
        )
    after_every_cell = passes.now()
    changed = [kata.id for kata in CURRICULUM.katas if after_every_cell.digest(kata) is None]
    assert not changed, f"a later cell changed what these katas depend on: {changed}"


#: The notebooks on a kernel with the answer key in their stub cells, through the real harness: the first
#: seven tracks from the start of the course (functions, classes grown over several katas, a cell importing
#: a sibling module as the file does), and the GPU track after `kata catch-up` (its checks compile and run
#: kernels from inside the kernel, and the course ends there). Two cases, so that CI's two workers share
#: them. The other tracks' cells are proven by the in-process test above (their checks pass because CI's
#: answer-key run passes); running them on a kernel too took 543 s, the suite's longest test.
KERNEL_RUNS = {
    "tracks 1-7": [t.module for t in CURRICULUM.tracks[:7]],
    "the GPU track": [CURRICULUM.tracks[-1].module],
}


@needs_kernel
@pytest.mark.slow
@pytest.mark.parametrize("run", KERNEL_RUNS)
def test_every_notebook_with_the_answer_key_passes_and_pytest_agrees(tmp_path, run):
    tracks = KERNEL_RUNS[run]
    checkout = course_copy(tmp_path / "checkout")
    start = CURRICULUM.in_track(CURRICULUM.track(tracks[0]))[0]
    if start.position:  # `kata catch-up` to the first kata run here: the earlier ones are the answer key's, passed
        shutil.copytree(ROOT / "solutions", checkout / "solutions")
        catch_up(checkout, load(checkout / "curriculum"), start)
    ran = execute(_cells_of(checkout, fill=answer_cell, tracks=set(tracks)), checkout / "notebooks")
    assert not ran.errors
    katas = [kata for kata in CURRICULUM.katas if kata.module in tracks or kata.track.module in tracks]
    assert set(ran.cards) == {kata.id for kata in katas}
    failing = {k: card for k, card in ran.cards.items() if "   passed" not in card.splitlines()[0]}
    assert not failing, "\n\n".join(failing.values())
    progress = _progress(checkout)
    passed = {kid for kid, entry in progress.items() if entry["state"] == "passed"}
    assert passed == {kata.id for kata in CURRICULUM.katas[: katas[-1].position + 1]}
    # The learner's pytest, in the same checkout: the notebook's passes are its passes.
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly"], cwd=checkout, capture_output=True, text=True
    )
    total = len(CURRICULUM.katas)
    following = CURRICULUM.katas[katas[-1].position + 1] if katas[-1].position + 1 < total else None
    if following is None:  # the course is done
        assert done.returncode == 0 and f"{total}/{total} katas done" in done.stdout, done.stdout[-3000:]
    else:
        assert f"{katas[-1].position + 1}/{total} katas done" in done.stdout, done.stdout[-3000:]
        # pytest reruns the katas whose module a later cell changed (as after an edit in a terminal),
        # and they pass: it stops where the notebook stopped.
        assert f"kata {following.number}  {following.title}   not started" in done.stdout, done.stdout[-3000:]


@needs_kernel
@pytest.mark.slow
def test_pytest_and_the_notebook_agree_on_progress_both_ways(tmp_path):
    checkout = course_copy(tmp_path / "checkout")
    first, second = CURRICULUM.katas[0], CURRICULUM.katas[1]
    # The notebook passes the first kata...
    ran = execute(_cells_of(checkout, fill=answer_cell, tracks={"neuron"})[:5], checkout / "notebooks")
    assert "   passed" in ran.cards[first.id].splitlines()[0]
    # ...pytest counts it done and stops at the second...
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly"], cwd=checkout, capture_output=True, text=True
    )
    total = len(CURRICULUM.katas)
    assert f"1/{total} katas done" in done.stdout and f"kata {second.number}  {second.title}" in done.stdout, (
        done.stdout
    )
    # ...the learner writes the second in the file and pytest passes it...
    path = checkout / "katas" / second.path
    path.write_text(definitions.splice(path.read_text(), answer_cell(second), second.target))
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly"], cwd=checkout, capture_output=True, text=True)
    # ...and a fresh notebook kernel sees both done, and checks the file's code for the stub cell.
    ran = execute(_cells_of(checkout, tracks={"neuron"})[:8], checkout / "notebooks")
    assert "   passed" in ran.cards[second.id].splitlines()[0], ran.cards[second.id]
    assert "still the stub" in ran.cards[second.id] and f"2/{total} katas done" in ran.cards[second.id]
    assert "   passed" in ran.cards[first.id].splitlines()[0]


def test_a_named_home_is_a_light_checkout_of_the_course(tmp_path, monkeypatch):
    from dojo.notebook import place

    monkeypatch.chdir(ROOT)
    found = place.find(tmp_path / "drive" / "katas-work")
    home = tmp_path / "drive" / "katas-work"
    assert found.course == ROOT and found.home == home.resolve() and not found.in_checkout
    assert (home / "katas" / "neuron.py").read_text() == (ROOT / "katas" / "neuron.py").read_text()
    assert (home / "curriculum" / "course.toml").exists() and (home / "tests" / "katas").is_dir()
    (home / "katas" / "neuron.py").write_text("# the learner's own work\n")
    again = place.find(home)  # a second kernel: the learner's files stay as they are
    assert again.home == found.home and (home / "katas" / "neuron.py").read_text() == "# the learner's own work\n"
    monkeypatch.setenv(place.HOME_VARIABLE, str(home))
    assert place.find().home == found.home
    monkeypatch.delenv(place.HOME_VARIABLE)
    assert place.find().in_checkout
