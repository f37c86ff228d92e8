"""Every kata's tests reject its mutants with the right message and accept its alternatives."""

import re
import sys

import mutants  # noqa: F401 - fills the registry
import pytest
from mutation import REGISTRY, ROOT, build_implementation, run_kata

from dojo.course.curriculum import load
from dojo.harness.verdicts import run_katas

CURRICULUM = load(ROOT / "curriculum")


def _skip_without_gpu(variant):
    """A GPU kata's variants can only run where its tests run: on a CUDA device."""
    if CURRICULUM.by_id[variant.kata_id].requires == "gpu":
        import kernels

        if not kernels.gpu_available():
            pytest.skip(f"{variant.kata_id} needs a GPU ({kernels.why_no_gpu()})")


def _implementation(variant, tmp_path):
    kata = CURRICULUM.by_id[variant.kata_id]
    return build_implementation(
        variant, variant.module or kata.module, variant.target or kata.target, tmp_path / "impl"
    )


def _one_mutant_per_track_is_quick(variants):
    """The quick tier (``pytest tests -m "not slow"``) keeps one mutant per track: the first mutant of the
    track's earliest kata, so every track's tests still run through the harness there. The others are slow."""
    quick = {}
    for kata in CURRICULUM.katas:
        first = next((v for v in variants if v.kata_id == kata.id), None)
        if first is not None:
            quick.setdefault(kata.module, first)
    chosen = {id(v) for v in quick.values()}
    return [pytest.param(v, id=str(v), marks=() if id(v) in chosen else pytest.mark.slow) for v in variants]


@pytest.mark.parametrize("variant", _one_mutant_per_track_is_quick([v for v in REGISTRY if v.kind == "mutant"]))
def test_mutant_is_caught_and_explained(variant, tmp_path):
    _skip_without_gpu(variant)
    verdict = run_kata(variant.kata_id, _implementation(variant, tmp_path))
    assert verdict.state in ("failing", "error"), (
        f"mutant {variant} passed every check of its kata ({verdict.passed}/{verdict.total}): the tests are too weak"
    )
    if variant.expect:
        assert re.search(variant.expect, verdict.message), (
            f"mutant {variant} was caught, but the learner is told:\n{verdict.message}\n"
            f"which does not mention {variant.expect!r}"
        )


@pytest.mark.slow
@pytest.mark.parametrize("variant", [v for v in REGISTRY if v.kind == "alternative"], ids=str)
def test_alternative_is_accepted(variant, tmp_path):
    _skip_without_gpu(variant)
    verdict = run_kata(variant.kata_id, _implementation(variant, tmp_path))
    assert verdict.state == "passed", (
        f"correct alternative {variant} was rejected ({verdict.state}):\n{verdict.message}"
    )


@pytest.mark.parametrize("kata", CURRICULUM.katas, ids=lambda k: k.id)
def test_every_kata_has_a_mutant_and_an_alternative(kata):
    kinds = {v.kind for v in REGISTRY if v.kata_id == kata.id}
    assert "mutant" in kinds, f"kata {kata.id} has no mutant in tests/selftest/mutants/{kata.module}.py"
    assert "alternative" in kinds, f"kata {kata.id} has no alternative in tests/selftest/mutants/{kata.module}.py"


def test_variants_name_existing_katas():
    unknown = sorted({v.kata_id for v in REGISTRY} - set(CURRICULUM.by_id))
    assert not unknown, f"mutants registered for katas not in the curriculum: {unknown}"


def test_a_nested_session_leaves_the_import_path_as_it_found_it(tmp_path):
    """pytest puts the test folders at the front of ``sys.path`` in each session and leaves them: over the
    hundreds of nested sessions a worker runs, they piled up and slowed every later import."""
    variant = next(v for v in REGISTRY if v.kata_id == "neuron.weighted_sum" and v.kind == "mutant")
    before = list(sys.path)
    run_kata(variant.kata_id, _implementation(variant, tmp_path))
    assert sys.path == before


def test_a_nested_session_after_one_in_another_checkout_collects_its_own_tests(tmp_path):
    """Kata test modules stay loaded between nested sessions; a session in another checkout (a notebook's
    home, a benchmark gate) has test modules of the same names, and must collect its own, not be refused."""
    from notebook_support import course_copy

    variant = next(v for v in REGISTRY if v.kata_id == "neuron.weighted_sum" and v.kind == "alternative")
    assert run_kata(variant.kata_id, _implementation(variant, tmp_path)).state == "passed"
    checkout = course_copy(tmp_path / "checkout")
    verdict = run_katas(checkout, checkout / "katas", [variant.kata_id])[variant.kata_id]
    assert verdict.state == "not started", verdict
