"""Kata tests for katas/speed.py, checked against TensorFlow/Keras.

Speed itself is never asserted here (a test that depends on the machine's
load is not a test); `pytest --bench -k speed` shows it. What is asserted,
besides the values: that the amount of Python the function runs does not grow
with the batch, i.e. there is no Python loop over rows or batch items, not even
one that C drives (``map``, ``sum``, ``np.vectorize``, ``np.apply_along_axis``:
``dojo.testkit.loops`` counts the items they hand out).
"""

import ast
import inspect
import textwrap

import numpy as np
import pytest

from dojo.testkit.checks import assert_close, call, check, show
from dojo.testkit.loops import python_work
from reference import speed as ref

# left out of the quick tier: the answer key against every kata (capstones train models): the full suite's part
pytestmark = pytest.mark.slow

# ------------------------------------------------------------------ helpers


#: NumPy helpers that call a function once per element or per row, from C: no line of the
#: learner's Python runs in between, so the line count cannot see them (np.vectorize's own
#: documentation calls it "essentially a for loop").
ALWAYS_LOOPS = {"vectorize", "frompyfunc", "apply_along_axis", "apply_over_axes", "fromiter"}
#: Builtins that loop in C over what they are given: a loop over rows when given an array argument.
LOOPS_OVER_THEIR_ARGUMENT = {"map", "filter", "starmap"}


def hidden_loops(function) -> list[str]:
    """The loops in disguise in ``function``'s own source: 'np.vectorize (line 12)'.

    map/filter/starmap count only when they iterate over one of the function's
    parameters (or an attribute, subscript or transpose of one): ``map(np.asarray,
    (a, b))`` over a fixed tuple is not a loop over rows.
    """
    try:
        source = textwrap.dedent(inspect.getsource(function))
        first = inspect.getsourcelines(function)[1]
    except (OSError, TypeError):
        return []
    tree = ast.parse(source)
    parameters = {
        arg.arg for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.Lambda)) for arg in node.args.args
    }

    def from_parameter(node) -> bool:
        while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
            node = node.value if not isinstance(node, ast.Call) else node.func
        return isinstance(node, ast.Name) and node.id in parameters

    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        over_a_parameter = any(from_parameter(a) for a in node.args[1:])
        if name in ALWAYS_LOOPS or (name in LOOPS_OVER_THEIR_ARGUMENT and over_a_parameter):
            found.append(f"{ast.unparse(node.func)} (line {first + node.lineno - 1})")
    return found


def check_no_python_loop(function, folder, small_args, large_args, what: str, small: int, large: int):
    """No loop in disguise in the source, and the Python line count must not grow from ``small`` to ``large`` items."""
    disguised = hidden_loops(function)
    check(
        not disguised,
        f"your code calls {', '.join(disguised)}: that is a Python-level loop over the {what} in disguise (the "
        f"function runs once per item, from C, so it is as slow as a for loop). Let NumPy do the loop "
        f"(a matrix product, broadcasting, or np.einsum)",
    )
    function(*small_args)  # once before counting: first-call work (imports, caches) is not a loop
    few = python_work(function, folder, *small_args)
    many = python_work(function, folder, *large_args)
    check(
        many <= few + 10,
        f"your code ran {few:,} steps of Python for {small} {what} and {many:,} for {large} {what}: "
        f"that is a Python loop over the {what} (a for loop or a comprehension, or a function that map, "
        f"sum, functools.reduce, np.vectorize or np.apply_along_axis calls once per item from C). Let NumPy "
        f"do the loop (a matrix product, broadcasting, or np.einsum), so the Python part stays the same for any size",
    )


# ------------------------------------------------------------------ kata speed.pairwise_squared_distances

HAND_A = [[0.0, 0.0], [1.0, 1.0]]
HAND_B = [[1.0, 0.0], [0.0, 0.0], [3.0, 4.0]]


def _distance_mistakes(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    exact = ref.pairwise_squared_distances(a, b)
    return {
        "these are distances, not squared distances: drop the square root": np.sqrt(exact),
        "the cross term is 2 * a.b (from (a - b)^2 = a^2 - 2ab + b^2); the factor 2 is missing": (a * a).sum(1)[:, None]
        - a @ b.T
        + (b * b).sum(1)[None, :],
        "the result is (m, n), the transpose: rows of the result are the rows of a": exact.T,
    }


@pytest.mark.kata("speed.pairwise_squared_distances")
def test_distances_hand_example(kata):
    got = call(kata, HAND_A, HAND_B)
    assert_close(
        got,
        ref.pairwise_squared_distances(HAND_A, HAND_B),
        call="pairwise_squared_distances([[0, 0], [1, 1]], [[1, 0], [0, 0], [3, 4]])",
        mistakes=_distance_mistakes(HAND_A, HAND_B),
    )


@pytest.mark.kata("speed.pairwise_squared_distances")
@pytest.mark.parametrize("n, m, d, seed", [(1, 1, 1, 0), (1, 7, 3, 1), (500, 300, 64, 2)])
def test_distances_random_points(kata, n, m, d, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n, d)), rng.normal(size=(m, d))
    got = call(kata, a, b)
    # The expanded form |a|^2 - 2ab + |b|^2 rounds at about eps * |a|^2, absolutely;
    # the reference works from the differences. atol covers that rounding, nothing more.
    scale = max((a * a).sum(1).max(), (b * b).sum(1).max())
    assert_close(
        got,
        ref.pairwise_squared_distances(a, b),
        atol=1e-12 * scale,
        call=f"pairwise_squared_distances(a {a.shape}, b {b.shape})",
        mistakes=_distance_mistakes(a, b),
    )


@pytest.mark.kata("speed.pairwise_squared_distances")
def test_distances_of_points_to_themselves_are_never_negative(kata):
    rng = np.random.default_rng(3)
    a = rng.normal(scale=100.0, size=(200, 32))
    got = call(kata, a, a)
    got = assert_close(
        got,
        ref.pairwise_squared_distances(a, a),
        atol=1e-12 * (a * a).sum(1).max(),
        call="pairwise_squared_distances(a, a) with values around 100",
    )
    check(
        got.min() >= 0.0,
        f"pairwise_squared_distances(a, a) returned {show(got.min())} somewhere: below zero. "
        f"In |a|^2 - 2ab + |b|^2 the terms cancel where a point meets itself, and rounding can leave "
        f"a tiny negative number; a squared distance is never negative: clip with np.maximum(d, 0.0)",
    )


@pytest.mark.kata("speed.pairwise_squared_distances")
def test_distances_have_no_python_loop_over_rows(kata, impl):
    rng = np.random.default_rng(4)
    small = (rng.normal(size=(4, 8)), rng.normal(size=(4, 8)))
    large = (rng.normal(size=(64, 8)), rng.normal(size=(64, 8)))
    check_no_python_loop(kata, impl.folder, small, large, "rows", 4, 64)


# ------------------------------------------------------------------ kata speed.attention


def _attention_inputs(rng, batch, t, s, heads, size, scale=1.0):
    return (
        scale * rng.normal(size=(batch, t, heads, size)),
        rng.normal(size=(batch, s, heads, size)),
        rng.normal(size=(batch, s, heads, size)),
    )


def _attention_mistakes(query, key, value):
    """Wrong answers learners really produce (the scaled-by-1 one from Keras itself)."""
    scores = np.einsum("btnh,bsnh->bnts", query, key) / np.sqrt(query.shape[-1])
    over_queries = np.exp(scores - scores.max(axis=2, keepdims=True))
    over_queries /= over_queries.sum(axis=2, keepdims=True)
    return {
        "the scores are not scaled: divide Q K^T by sqrt(H), the head size (Keras's default scale)": ref.attention(
            query, key, value, scale=1.0
        ),
        "the softmax ran over the queries (axis T); it must run over the keys (the last axis, S), "
        "so that each query's weights sum to 1": np.einsum("bnts,bsnh->btnh", over_queries, value),
        f"the scores were divided by sqrt(S) = sqrt({key.shape[1]}), the number of keys; divide by sqrt(H) = "
        f"sqrt({query.shape[-1]}), the head size": ref.attention(query, key, value, scale=1.0 / np.sqrt(key.shape[1])),
    }


@pytest.mark.kata("speed.attention")
def test_attention_with_zero_queries_averages_the_values(kata):
    rng = np.random.default_rng(10)
    _, key, value = _attention_inputs(rng, 2, 3, 5, 2, 4)
    query = np.zeros((2, 3, 2, 4))
    got = call(kata, query, key, value)
    assert_close(
        got,
        ref.attention(query, key, value),
        call="attention(query all zeros (2, 3, 2, 4), key (2, 5, 2, 4), value (2, 5, 2, 4))",
        mistakes={
            **_attention_mistakes(query, key, value),
            "with all-zero queries every key gets weight 1/S, so each output is the mean of "
            "the values over S; the weights must sum to 1 (softmax over the keys)": value.sum(
                axis=1, keepdims=True
            ).repeat(3, axis=1),
        },
    )


@pytest.mark.kata("speed.attention")
@pytest.mark.parametrize(
    "batch, t, s, heads, size, seed", [(1, 1, 1, 1, 1, 0), (2, 3, 5, 1, 4, 1), (8, 64, 48, 4, 32, 2)]
)
def test_attention_random(kata, batch, t, s, heads, size, seed):
    query, key, value = _attention_inputs(np.random.default_rng(seed), batch, t, s, heads, size)
    got = call(kata, query, key, value)
    assert_close(
        got,
        ref.attention(query, key, value),
        mistakes=_attention_mistakes(query, key, value),
        call=f"attention(query {query.shape}, key {key.shape}, value {value.shape})",
    )


@pytest.mark.kata("speed.attention")
def test_attention_with_large_scores_is_stable(kata):
    query, key, value = _attention_inputs(np.random.default_rng(5), 2, 4, 6, 2, 8, scale=400.0)
    got = call(kata, query, key, value)
    assert_close(
        got, ref.attention(query, key, value), call="attention(query with values around 400: scores in the thousands)"
    )


@pytest.mark.kata("speed.attention")
def test_attention_rows_far_apart_are_stable(kata):
    """One query row scores in the thousands, the others near 0: each row needs its own shift."""
    query, key, value = _attention_inputs(np.random.default_rng(8), 2, 3, 5, 2, 4)
    query[:, 0] *= 1000.0
    got = call(kata, query, key, value)
    scores = np.einsum("btnh,bsnh->bnts", query, key) / np.sqrt(query.shape[-1])
    with np.errstate(all="ignore"):
        shared = np.exp(scores - scores.max())
        shared /= shared.sum(axis=-1, keepdims=True)
        unshifted = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    assert_close(
        got,
        ref.attention(query, key, value),
        call="attention(query whose first row is ~1000 times the others, key (2, 5, 2, 4), value)",
        mistakes={
            "the softmax was shifted by one max for the whole array, not by each row's max over the keys "
            "(scores.max(axis=-1, keepdims=True)): a row far below it underflows to exp(-2000) = 0, and "
            "0 / 0 is NaN": np.einsum("bnts,bsnh->btnh", shared, value),
            "the softmax is not shifted: exp() of scores in the thousands is inf, and inf / inf is NaN; "
            "subtract each row's max first": np.einsum("bnts,bsnh->btnh", unshifted, value),
        },
    )


@pytest.mark.kata("speed.attention")
def test_attention_has_no_python_loop_over_the_batch(kata, impl):
    rng = np.random.default_rng(6)
    check_no_python_loop(
        kata,
        impl.folder,
        _attention_inputs(rng, 2, 4, 4, 2, 4),
        _attention_inputs(rng, 16, 4, 4, 2, 4),
        "batch items",
        2,
        16,
    )
