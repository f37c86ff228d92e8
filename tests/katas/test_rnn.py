"""Kata tests for katas/rnn.py, checked against Keras layers run live in float64.

Tolerances: forward values rtol=1e-6 (FORWARD_RTOL), gradients rtol=1e-5
(GRADIENT_RTOL) with atol=1e-10, because a correct NumPy LSTM and Keras's
agree to ~1e-15 and every known mistake is off by far more. The capstone's
training parity has its own tolerance, explained there.

Weights are random and *different per gate* on purpose: with constant or
symmetric weights a wrong gate order gives the right answer.
"""

import numpy as np
import pytest

from dojo.testkit import sequences
from dojo.testkit.checks import GRADIENT_RTOL, KataFailure, assert_close, call, check, show
from dojo.testkit.composite import blocks_that_differ, last_step_that_differs
from dojo.testkit.divergence import reraise_with_diagnosis
from dojo.testkit.layers import check_layer
from reference import rnn as ref

# left out of the quick tier: the answer key against every kata (capstones train models): the full suite's part
pytestmark = pytest.mark.slow

GRAD = {"rtol": GRADIENT_RTOL, "atol": 1e-10}
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def _weights(kind, features, units, seed, scale=0.6):
    """Random Keras-shaped weights (kernel, recurrent_kernel, bias) for a layer of ``kind``."""
    rng = np.random.default_rng(seed)
    width = GATES[kind] * units
    bias_shape = (2, width) if kind == "gru" else (width,)
    return (
        scale * rng.normal(size=(features, width)),
        scale * rng.normal(size=(units, width)),
        scale * rng.normal(size=bias_shape),
    )


def _sequence(batch, steps, features, seed, scale=1.0):
    return scale * np.random.default_rng(seed + 100).normal(size=(batch, steps, features))


def _swap_last_two_gates(w, units):
    """Columns i, f, c, o -> i, f, o, c: what a learner reading 'i, f, o, g' gate order computes."""
    i, f, g, o = np.split(np.asarray(w), 4, axis=-1)
    return np.concatenate([i, f, o, g], axis=-1)


def _shapes(batch, steps, features, units, rs):
    return f"x ({batch}, {steps}, {features}), units={units}, return_sequences={rs}"


# ------------------------------------------------------------------ kata rnn.embedding_forward


TAKE_WITHOUT_AXIS = (
    "np.take(table, ids) without axis= reads the table as one flat list of numbers (one number "
    "per id, not one row); take whole rows: table[ids], or np.take(table, ids, axis=0)"
)


@pytest.mark.kata("rnn.embedding_forward")
def test_embedding_forward_docstring_example(kata):
    table = np.array([[0.0, 0.0], [0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    ids = np.array([[1, 3, 3], [0, 2, 1]])
    got = call(kata, ids, table)
    assert_close(
        got,
        ref.embedding_forward(ids, table),
        call="embedding_forward(ids [[1, 3, 3], [0, 2, 1]], table (4, 2))",
        mistakes={
            "you counted ids from 1 (table[ids - 1]); id k is row k, and row 0 is id 0": table[ids - 1],
            TAKE_WITHOUT_AXIS: np.take(table, ids),
        },
    )


@pytest.mark.kata("rnn.embedding_forward")
@pytest.mark.parametrize("batch, steps, vocab, dim", [(1, 1, 3, 2), (4, 7, 10, 5), (32, 20, 1000, 16)])
def test_embedding_forward_random(kata, batch, steps, vocab, dim):
    rng = np.random.default_rng(vocab)
    ids = rng.integers(0, vocab, size=(batch, steps))
    ids[0, 0] = vocab - 1  # the last row must be reachable
    table = rng.normal(size=(vocab, dim))
    got = call(kata, ids, table)
    assert_close(
        got,
        ref.embedding_forward(ids, table),
        call=f"embedding_forward(ids {ids.shape}, table {table.shape})",
        mistakes={
            "you counted ids from 1 (table[ids - 1]); id k is row k": table[ids - 1],
            TAKE_WITHOUT_AXIS: np.take(table, ids),
        },
    )


# ------------------------------------------------------------------ kata rnn.embedding_backward


@pytest.mark.kata("rnn.embedding_backward")
def test_embedding_backward_repeated_ids_accumulate(kata):
    ids = np.array([[2, 2, 0], [2, 1, 0]])
    dout = np.arange(1.0, 13.0).reshape(2, 3, 2)
    got = call(kata, dout, ids, 4)
    assigned = np.zeros((4, 2))
    assigned[ids] = dout
    assert_close(
        got,
        ref.embedding_backward(dout, ids, 4),
        call="embedding_backward(dout (2, 3, 2), ids [[2, 2, 0], [2, 1, 0]], vocab_size=4)",
        rtol=GRADIENT_RTOL,
        mistakes={
            "id 2 appears three times but its row got only one of the three gradients: "
            "`grad[ids] += dout` (or `=`) writes each repeated row once; accumulate with "
            "np.add.at(grad, ids, dout) or a loop": assigned,
        },
    )


@pytest.mark.kata("rnn.embedding_backward")
@pytest.mark.parametrize("batch, steps, vocab, dim", [(1, 1, 3, 2), (8, 12, 5, 3), (16, 20, 100, 8)])
def test_embedding_backward_random(kata, batch, steps, vocab, dim):
    rng = np.random.default_rng(batch + vocab)
    ids = rng.integers(0, vocab, size=(batch, steps))
    dout = rng.normal(size=(batch, steps, dim))
    got = call(kata, dout, ids, vocab)
    assigned = np.zeros((vocab, dim))
    assigned[ids] = dout
    assert_close(
        got,
        ref.embedding_backward(dout, ids, vocab),
        rtol=GRADIENT_RTOL,
        call=f"embedding_backward(dout {dout.shape}, ids {ids.shape}, vocab_size={vocab})",
        mistakes={
            "repeated ids must add up their gradients; `grad[ids] += dout` keeps only one. "
            "Use np.add.at(grad, ids, dout)": assigned
        },
    )


@pytest.mark.kata("rnn.embedding_backward")
def test_embedding_backward_unused_rows_are_zero(kata):
    ids, dout = np.array([[3]]), np.array([[[0.5, -1.0]]])
    got = assert_close(
        call(kata, dout, ids, 6),
        ref.embedding_backward(dout, ids, 6),
        call="embedding_backward(one id (3), vocab_size=6)",
        rtol=GRADIENT_RTOL,
    )
    check(got.shape == (6, 2), f"the gradient of the table must have the table's shape (6, 2), got {got.shape}")


# ------------------------------------------------------------------ recurrent forward helpers


def _forward_case(kata, kind, batch, steps, features, units, rs, seed, x_scale=1.0, **mistake_options):
    kernel, recurrent, bias = _weights(kind, features, units, seed)
    x = _sequence(batch, steps, features, seed, x_scale)
    got = call(kata, x, kernel, recurrent, bias, return_sequences=rs)
    expected = ref.recurrent_forward(kind, x, kernel, recurrent, bias, rs)
    text = f"{kind}_forward({_shapes(batch, steps, features, units, rs)})"
    mistakes = {
        (
            "return_sequences=True must return every step's h, shape (batch, timesteps, units)"
            if rs
            else "return_sequences=False returns only the last h, shape (batch, units)"
        ): ref.recurrent_forward(kind, x, kernel, recurrent, bias, not rs),
        "the recurrent term is missing: every step adds h_{t-1} @ recurrent_kernel "
        "(and the state h must be carried from one step to the next)": ref.recurrent_forward(
            kind, x, kernel, np.zeros_like(recurrent), bias, rs
        ),
    }
    if kind == "simple_rnn" and units > 1:
        mistakes[
            "the recurrent kernel is used transposed (h @ recurrent_kernel.T); Keras computes "
            "h_{t-1} @ recurrent_kernel, shape (units, units)"
        ] = ref.recurrent_forward(kind, x, kernel, recurrent.T, bias, rs)
    if kind == "lstm":
        mistakes[
            "the gates are in the order i, f, o, c; Keras's columns are i, f, c, o "
            "(the 3rd block is the candidate c, the 4th the output gate o)"
        ] = ref.recurrent_forward(
            kind,
            x,
            _swap_last_two_gates(kernel, units),
            _swap_last_two_gates(recurrent, units),
            _swap_last_two_gates(bias, units),
            rs,
        )
        mistakes[
            "the gates i, f, o use tanh; gates are sigmoids (values in 0..1), only the candidate "
            "and the output squashing use tanh"
        ] = ref.recurrent_forward(kind, x, kernel, recurrent, bias, rs, recurrent_activation="tanh")
    if kind == "gru":
        mistakes[
            "the reset gate was applied before the matmul, (r * h) @ U_h: Keras's default "
            "reset_after=True computes r * (h @ U_h + recurrent bias)"
        ] = ref.recurrent_forward(kind, x, kernel, recurrent, bias[0] + bias[1], rs, reset_after=False)
        mistakes["bias[1], the recurrent bias, is missing: add it to h_{t-1} @ recurrent_kernel"] = (
            ref.recurrent_forward(kind, x, kernel, recurrent, np.stack([bias[0], 0 * bias[1]]), rs)
        )
        flip_z = np.concatenate([-np.ones(units), np.ones(2 * units)])  # sigmoid(-a) = 1 - sigmoid(a)
        mistakes[
            "h_t = (1 - z) * h_{t-1} + z * candidate is the other convention: Keras keeps "
            "z * h_{t-1} + (1 - z) * candidate"
        ] = ref.recurrent_forward(kind, x, kernel * flip_z, recurrent * flip_z, bias * flip_z, rs)
        z, r, h = np.split(kernel, 3, axis=1)
        rz, rr, rh = np.split(recurrent, 3, axis=1)
        bz, br, bh = np.split(bias, 3, axis=1)
        mistakes["z and r are swapped: Keras's GRU column blocks are z, r, h"] = ref.recurrent_forward(
            kind, x, np.concatenate([r, z, h], 1), np.concatenate([rr, rz, rh], 1), np.concatenate([br, bz, bh], 1), rs
        )
    assert_close(got, expected, call=text, mistakes=mistakes)


# ------------------------------------------------------------------ kata rnn.simple_rnn_forward


@pytest.mark.kata("rnn.simple_rnn_forward")
def test_simple_rnn_one_unit_by_hand(kata):
    # h1 = tanh(1*0.5 + 0*(-1) + 0.1) = tanh(0.6); h2 = tanh(2*0.5 + h1*(-1) + 0.1)
    x = np.array([[[1.0], [2.0]]])
    kernel, recurrent, bias = np.array([[0.5]]), np.array([[-1.0]]), np.array([0.1])
    got = call(kata, x, kernel, recurrent, bias)
    h1 = np.tanh(0.6)
    assert_close(
        got,
        ref.simple_rnn_forward(x, kernel, recurrent, bias),
        call="simple_rnn_forward(x [[[1], [2]]], kernel [[0.5]], recurrent [[-1]], bias [0.1])",
        mistakes={
            "the recurrent term is missing: add h_{t-1} @ recurrent_kernel at every step": np.tanh([[1.1]]),
            "you returned the first state, not the last": [[h1]],
        },
    )


@pytest.mark.kata("rnn.simple_rnn_forward")
@pytest.mark.parametrize(
    "batch, steps, features, units, rs",
    [(1, 1, 3, 2, False), (4, 6, 3, 5, False), (4, 6, 3, 5, True), (2, 9, 7, 4, True)],
)
def test_simple_rnn_random(kata, batch, steps, features, units, rs):
    _forward_case(kata, "simple_rnn", batch, steps, features, units, rs, seed=steps * 10 + units)


# ------------------------------------------------------------------ kata rnn.lstm_cell_forward


def _check_cell(got, x_t, h, c, kernel, recurrent, bias, text):
    units = np.shape(recurrent)[0]
    check(isinstance(got, (tuple, list)) and len(got) == 2, f"{text} returned {show(got)}; return the pair (h_t, c_t)")
    expected = ref.lstm_cell_forward(x_t, h, c, kernel, recurrent, bias)
    swapped = ref.lstm_cell_forward(x_t, h, c, *(_swap_last_two_gates(w, units) for w in (kernel, recurrent, bias)))
    tanh_gates = ref.lstm_cell_forward(x_t, h, c, kernel, recurrent, bias, recurrent_activation="tanh")
    no_recurrent = ref.lstm_cell_forward(x_t, h, c, kernel, np.zeros_like(recurrent), bias)
    for index in (1, 0):  # c_t first: most mistakes show there
        name = ("h_t", "c_t")[index]
        assert_close(
            got[index],
            expected[index],
            call=text,
            what=f"gave {name} =",
            mistakes={
                "the gates are in the order i, f, o, c; Keras's columns are i, f, c, o "
                "(the 3rd block is the candidate c, the 4th the output gate o)": swapped[index],
                "the gates i, f, o use tanh; they are sigmoids (values in 0..1)": tanh_gates[index],
                "the recurrent term h @ recurrent_kernel is missing from z": no_recurrent[index],
                "(h_t, c_t) came back as (c_t, h_t)": expected[1 - index],
            },
        )


def _cell_case(kata, batch, features, units, seed):
    kernel, recurrent, bias = _weights("lstm", features, units, seed)
    rng = np.random.default_rng(seed + 7)
    x_t, h, c = rng.normal(size=(batch, features)), rng.normal(size=(batch, units)), rng.normal(size=(batch, units))
    got = call(kata, x_t, h, c, kernel, recurrent, bias)
    _check_cell(
        got,
        x_t,
        h,
        c,
        kernel,
        recurrent,
        bias,
        f"lstm_cell_forward(x_t ({batch}, {features}), h ({batch}, {units}), c, kernel {kernel.shape}, ...)",
    )


@pytest.mark.kata("rnn.lstm_cell_forward")
def test_lstm_cell_one_unit_by_hand(kata):
    # units=1: z = x*K + h*R + b with one column per gate (i, f, c, o).
    kernel = np.array([[1.0, 2.0, 3.0, 4.0]])
    recurrent = np.array([[0.5, -0.5, 0.25, -0.25]])
    bias = np.array([0.0, 1.0, 0.0, 0.0])
    x_t, h, c = np.array([[0.5]]), np.array([[0.2]]), np.array([[-1.0]])
    got = call(kata, x_t, h, c, kernel, recurrent, bias)
    _check_cell(got, x_t, h, c, kernel, recurrent, bias, "lstm_cell_forward(one unit, x_t=0.5, h=0.2, c=-1)")


@pytest.mark.kata("rnn.lstm_cell_forward")
@pytest.mark.parametrize("batch, features, units", [(1, 3, 2), (5, 4, 6), (8, 10, 3)])
def test_lstm_cell_random(kata, batch, features, units):
    _cell_case(kata, batch, features, units, seed=batch * 7 + units)


# ------------------------------------------------------------------ kata rnn.lstm_forward


@pytest.mark.kata("rnn.lstm_forward")
@pytest.mark.parametrize(
    "batch, steps, features, units, rs",
    [(1, 1, 2, 3, False), (3, 5, 4, 6, False), (3, 5, 4, 6, True), (2, 12, 3, 5, True), (6, 4, 8, 2, False)],
)
def test_lstm_forward_random(kata, batch, steps, features, units, rs):
    _forward_case(kata, "lstm", batch, steps, features, units, rs, seed=steps * 10 + units)


@pytest.mark.kata("rnn.lstm_forward")
def test_lstm_forward_large_inputs_saturate(kata):
    # x around +-50: sigmoid and tanh saturate; a stable sigmoid keeps this finite.
    _forward_case(kata, "lstm", 2, 4, 3, 3, True, seed=5, x_scale=50.0)


# ------------------------------------------------------------------ kata rnn.lstm_backward


def _backward_case(kata, batch, steps, features, units, rs, seed):
    kernel, recurrent, bias = _weights("lstm", features, units, seed)
    x = _sequence(batch, steps, features, seed)
    rng = np.random.default_rng(seed + 1)
    dout = rng.normal(size=(batch, steps, units) if rs else (batch, units))
    got = call(kata, dout, x, kernel, recurrent, bias, return_sequences=rs)
    text = f"lstm_backward(dout {dout.shape}, {_shapes(batch, steps, features, units, rs)})"
    check(
        isinstance(got, (tuple, list)) and len(got) == 4,
        f"{text} returned {show(got)}; return the four gradients (dx, dkernel, drecurrent_kernel, dbias)",
    )
    expected = ref.lstm_backward(dout, x, kernel, recurrent, bias, rs)
    cut_c = ref.lstm_backward_cut(dout, x, kernel, recurrent, bias, "c", rs)
    cut_h = ref.lstm_backward_cut(dout, x, kernel, recurrent, bias, "h", rs)
    names = ("dx", "dkernel", "drecurrent_kernel", "dbias")
    if rs:
        last_only = np.zeros_like(dout)
        last_only[:, -1] = dout[:, -1]
        ignored = ref.lstm_backward(last_only, x, kernel, recurrent, bias, True)
    for i in (1, 2, 3, 0):  # the weights first: their messages say more
        mistakes = {
            "the gradient that flows back through the cell state is missing: dc_{t-1} = dc_t * f_t must be "
            "carried to the previous step (c_t reaches the loss through h_t and through c_{t+1})": cut_c[i],
            "the gradient into h_{t-1} is missing: carry dh_{t-1} = dz_t @ recurrent_kernel.T back to the "
            "previous step": cut_h[i],
        }
        if rs:
            mistakes[
                "with return_sequences=True, dout holds a gradient for every step's h: add dout[:, t] "
                "to dh at each step, not only at the last"
            ] = ignored[i]
        try:
            assert_close(got[i], expected[i], call=text, what=f"gave {names[i]} =", mistakes=mistakes, **GRAD)
        except KataFailure as failure:
            named = any(explanation in str(failure) for explanation in mistakes)
            if named:
                raise
            where = _where_bptt_differs(
                lambda d, xs: call(kata, d, xs, kernel, recurrent, bias, rs), x, (kernel, recurrent, bias), dout, rs
            )
            raise KataFailure(str(failure) + where) from None


GATE_NAMES = ("i (input gate)", "f (forget gate)", "c (candidate)", "o (output gate)")

#: What one step's backward computes for each gate's block of columns of dz (dc_t: the cell state's
#: gradient, dh_t * o_t * (1 - tanh(c_t)**2) plus the dc carried from step t+1).
GATE_LINES = {
    "i (input gate)": "di = dc_t * g_t * i_t * (1 - i_t)",
    "f (forget gate)": "df = dc_t * c_{t-1} * f_t * (1 - f_t), with the PREVIOUS cell state c_{t-1}",
    "c (candidate)": "dg = dc_t * i_t * (1 - g_t**2)",
    "o (output gate)": "do = dh_t * tanh(c_t) * o_t * (1 - o_t)",
}


def _one_step_note(wrong: list[str]) -> str:
    """What a mistake inside one step's backward is, from the gates whose columns differ."""
    fed_by_dc = {"i (input gate)", "f (forget gate)", "c (candidate)"}
    if len(wrong) == 1:
        line = GATE_LINES[wrong[0]]
        return f"only the columns of {wrong[0]} differ (Keras's blocks: i, f, c, o): look at that gate's line, {line}"
    if "o (output gate)" not in wrong and set(wrong) <= fed_by_dc:
        return (
            f"the columns of {', '.join(wrong)} differ and o (output gate) matches: the gates fed by the cell "
            f"state's gradient differ, so dc_t is wrong: dc_t = dh_t * o_t * (1 - tanh(c_t)**2) (+ the dc "
            f"carried from step t+1), the derivative of tanh at c_t, not at h_t or z"
        )
    return f"the columns of {', '.join(wrong)} differ (Keras's blocks: i, f, c, o): look at dh_t and dc_t first"


def _four_gradients(mine, keras) -> bool:
    """The learner's backward gave four arrays of Keras's shapes (else the failure already says what)."""
    return (
        isinstance(mine, (tuple, list))
        and len(mine) == 4
        and all(np.shape(m) == np.shape(k) for m, k in zip(mine, keras))
    )


def _where_bptt_differs(backward, x, weights, dout, rs) -> str:
    """Which sub-step of backpropagation through time differs first, inside the learner's own backward.

    ``backward(dout, x)`` runs the learner's code and returns ``(dx, dkernel, drecurrent_kernel, dbias)``.
    First one step alone (nothing carried between steps): if its gate columns differ, the mistake is
    inside one step, and the gates that differ say which line. If one step matches, the mistake is in
    what is carried back (dh, dc): the full sequence's dx says from which step back it differs.
    """
    one_x, one_dout = x[:, -1:], (dout[:, -1:] if rs else dout)
    try:
        mine = backward(one_dout, one_x)
    except Exception:  # the full run already failed with its own message; this is only a note
        return ""
    keras = ref.lstm_backward(one_dout, one_x, *weights, rs)
    if not _four_gradients(mine, keras):
        return ""
    for index, name in ((3, "dbias"), (1, "dkernel"), (2, "drecurrent_kernel")):
        wrong = blocks_that_differ(mine[index], keras[index], GATE_NAMES, **GRAD)
        if wrong:
            return f"\n  where: in one step alone (a sequence of length 1), {name}: " + _one_step_note(wrong)
    try:
        mine = backward(dout, x)
    except Exception:  # as above
        return ""
    keras = ref.lstm_backward(dout, x, *weights, rs)
    if not _four_gradients(mine, keras):
        return ""
    steps = x.shape[1]
    step = last_step_that_differs(mine[0], keras[0], **GRAD)
    if step is None:
        return ""
    if step == steps - 1:
        return (
            f"\n  where: one step alone, from zero states, matches Keras, but dx already differs at the last "
            f"step ({step}) of {steps}: the mistake involves the previous step's states, zero in one step "
            f"alone (c_{{t-1}} in df, h_{{t-1}} in drecurrent_kernel)"
        )
    matching = f"step {step + 1}" if step + 1 == steps - 1 else f"steps {step + 1}..{steps - 1}"
    return (
        f"\n  where: one step alone matches Keras, so each step's own gradients are right; over {steps} steps, "
        f"walking back from the end, dx matches for {matching} and first differs at step "
        f"{step}: what is carried back from step {step + 1} to step {step} differs (dh_{{t-1}} = dz_t @ "
        f"recurrent_kernel.T, plus dout[:, t-1] when return_sequences=True; dc_{{t-1}} = dc_t * f_t)"
    )


@pytest.mark.kata("rnn.lstm_backward")
@pytest.mark.parametrize(
    "batch, steps, features, units, rs",
    [(1, 1, 2, 3, False), (3, 5, 4, 6, False), (3, 5, 4, 6, True), (2, 9, 3, 4, True), (5, 7, 6, 2, False)],
)
def test_lstm_backward_against_gradient_tape(kata, batch, steps, features, units, rs):
    _backward_case(kata, batch, steps, features, units, rs, seed=steps * 10 + units)


# ------------------------------------------------------------------ kata rnn.gru_forward


@pytest.mark.kata("rnn.gru_forward")
@pytest.mark.parametrize(
    "batch, steps, features, units, rs",
    [(1, 1, 2, 3, False), (3, 5, 4, 6, False), (3, 5, 4, 6, True), (2, 10, 3, 4, True)],
)
def test_gru_forward_random(kata, batch, steps, features, units, rs):
    _forward_case(kata, "gru", batch, steps, features, units, rs, seed=steps * 10 + units)


@pytest.mark.kata("rnn.gru_forward")
def test_gru_bias_has_two_rows(kata):
    kernel, recurrent, bias = _weights("gru", 3, 2, seed=1)
    x = _sequence(2, 3, 3, 1)
    got = call(kata, x, kernel, recurrent, bias)
    expected = ref.gru_forward(x, kernel, recurrent, bias)
    only_input_bias = ref.gru_forward(x, kernel, recurrent, np.stack([bias[0], np.zeros_like(bias[0])]))
    assert_close(
        got,
        expected,
        call="gru_forward(x (2, 3, 3), bias (2, 6))",
        mistakes={
            "bias[1], the recurrent bias, is missing: add it to h_{t-1} @ recurrent_kernel "
            "(before the reset gate multiplies the h block)": only_input_bias
        },
    )


# ------------------------------------------------------------------ layers

# Every layer kata goes through the one layer-protocol check (dojo.testkit.layers.check_layer):
# build and Keras's weight shapes and order, count_params, compute_output_shape, set_weights,
# forward under those weights, backward (grads and dx) against GradientTape.


def _recurrent_layer_mistakes(kind, rs):
    def table(weights, x, dout):
        kernel, recurrent, bias = weights
        units = recurrent.shape[0]
        mistakes = {
            "output": {"return_sequences is ignored": ref.recurrent_forward(kind, x, *weights, not rs)},
            "dx": {},
            "kernel": {},
            "recurrent_kernel": {},
            "bias": {},
        }
        if kind == "simple_rnn":
            mistakes["output"][
                "the recurrent kernel is used transposed (h @ recurrent_kernel.T); Keras computes "
                "h_{t-1} @ recurrent_kernel, shape (units, units)"
            ] = ref.recurrent_forward(kind, x, kernel, recurrent.T, bias, rs)
        if kind == "lstm":
            swapped = [_swap_last_two_gates(w, units) for w in weights]
            mistakes["output"]["the gates are in the order i, f, o, c; Keras's columns are i, f, c, o"] = (
                ref.recurrent_forward(kind, x, *swapped, rs)
            )
            for cut, explanation in (
                (
                    "c",
                    "the gradient that flows back through the cell state is missing: carry "
                    "dc_{t-1} = dc_t * f_t to the previous step",
                ),
                (
                    "h",
                    "the gradient into h_{t-1} is missing: carry dh_{t-1} = dz_t @ "
                    "recurrent_kernel.T back to the previous step",
                ),
            ):
                grads = ref.lstm_backward_cut(dout, x, *weights, cut, rs)
                for key, value in zip(("dx", "kernel", "recurrent_kernel", "bias"), grads):
                    mistakes[key][explanation] = value
        return mistakes

    return table


def _layer_case(impl, class_name, kind, batch, steps, features, units, rs, seed):
    weights = _weights(kind, features, units, seed)
    x = _sequence(batch, steps, features, seed)
    dout = np.random.default_rng(seed + 1).normal(size=(batch, steps, units) if rs else (batch, units))
    return check_layer(
        impl.get("rnn", class_name),
        dict(units=units, return_sequences=rs),
        (steps, features),
        x,
        weights=list(weights),
        dout=dout,
        seed=seed,
        mistakes=_recurrent_layer_mistakes(kind, rs),
        name=f"{class_name}({units}, return_sequences={rs}) on input shape ({steps}, {features})",
    )


@pytest.mark.kata("rnn.Embedding")
def test_embedding_layer_weights_and_initialiser(impl):
    Embedding = impl.get("rnn", "Embedding")
    ids = np.random.default_rng(0).integers(0, 50, size=(2, 12))
    check_layer(Embedding, dict(input_dim=50, output_dim=8), (12,), ids, backward=False, name="Embedding(50, 8)")
    layer = call(Embedding, 50, 8)
    layer.build((12,), np.random.default_rng(0))
    table = layer.weights[0]
    check(
        np.abs(table).max() <= 0.05 and np.abs(table).max() > 0.04 and abs(table.mean()) < 0.01,
        f"Embedding(50, 8) starts with values from {table.min():.4f} to {table.max():.4f}; Keras draws them "
        f"uniformly from [-0.05, 0.05] (initializers.RandomUniform(-0.05, 0.05))",
    )
    check(
        tuple(layer.compute_output_shape((12,))) == (12, 8),
        f"Embedding(50, 8).compute_output_shape((12,)) gave {layer.compute_output_shape((12,))}, expected (12, 8)",
    )


@pytest.mark.kata("rnn.Embedding")
@pytest.mark.parametrize("batch, steps, vocab, dim", [(4, 5, 7, 3), (1, 1, 2, 1), (8, 20, 30, 4)])
def test_embedding_layer_forward_backward(impl, batch, steps, vocab, dim):
    Embedding = impl.get("rnn", "Embedding")
    rng = np.random.default_rng(2 + vocab)
    ids = rng.integers(0, vocab, size=(batch, steps))
    ids[0, :3] = vocab - 1  # repeated ids, and the last row reachable

    def mistakes(weights, x, dout):
        assigned = np.zeros((vocab, dim))
        assigned[x] = dout
        return {
            "embeddings": {"repeated ids must add up their gradients (np.add.at)": assigned},
            "output": {"you counted ids from 1 (table[ids - 1]); id k is row k": weights[0][x - 1]},
        }

    check_layer(
        Embedding,
        dict(input_dim=vocab, output_dim=dim),
        (steps,),
        ids,
        seed=vocab,
        mistakes=mistakes,
        name=f"Embedding({vocab}, {dim})",
    )


def _float_ids_hint(error):
    return KataFailure(
        f"Embedding.forward raised {type(error).__name__}: {error}, given ids as floats "
        f"([[3., 1., 4.]]). Sequential casts inputs to float64, so the ids can arrive as floats: "
        f"turn them back into integers (x.astype(int)) before indexing"
    )


@pytest.mark.kata("rnn.Embedding")
def test_embedding_layer_accepts_ids_as_floats(impl):
    # Sequential.fit and predict cast x to float64; the ids then arrive as 3.0, 1.0, ...
    Embedding = impl.get("rnn", "Embedding")
    layer = Embedding(5, 2)
    layer.build((3,), np.random.default_rng(0))
    ids = np.array([[3, 1, 4]])
    try:
        out = layer.forward(ids.astype(np.float64))
    except (IndexError, TypeError) as error:
        raise _float_ids_hint(error) from None
    assert_close(out, ref.embedding_forward(ids, layer.weights[0]), call="Embedding(5, 2).forward(float ids)")


@pytest.mark.kata("rnn.Embedding")
def test_embedding_first_in_sequential(impl):
    Sequential, Embedding = impl.get("model", "Sequential"), impl.get("rnn", "Embedding")
    model = Sequential([Embedding(6, 2)], seed=0)  # seeded: the same table (and reference value) every run
    ids = np.array([[0, 5], [5, 5]])
    try:
        out = model.predict(ids)
    except (IndexError, TypeError) as error:
        raise _float_ids_hint(error) from None
    table = model.get_weights()[0]
    assert_close(out, ref.embedding_forward(ids, table), call="Sequential([Embedding(6, 2)]).predict([[0, 5], [5, 5]])")


@pytest.mark.kata("rnn.SimpleRNN")
@pytest.mark.parametrize("rs", [False, True])
def test_simple_rnn_layer_against_keras(impl, rs):
    _layer_case(impl, "SimpleRNN", "simple_rnn", 3, 6, 4, 5, rs, seed=11)


@pytest.mark.kata("rnn.LSTM")
@pytest.mark.parametrize("rs", [False, True])
def test_lstm_layer_against_keras(impl, rs):
    try:
        _layer_case(impl, "LSTM", "lstm", 3, 6, 4, 5, rs, seed=13)
    except KataFailure as failure:
        named = ("flows back through the cell state is missing", "h_{t-1} is missing")
        if "backward(dout" not in str(failure) or any(text in str(failure) for text in named):
            raise  # a forward mistake, or a BPTT path the message already names
        raise KataFailure(str(failure) + _where_layer_bptt_differs(impl.get("rnn", "LSTM"), rs, seed=13)) from None


def _where_layer_bptt_differs(LSTM, rs, seed):
    """The LSTM layer's backward walked as BPTT (see _where_bptt_differs), on fresh layers with the case's
    weights: the note names a step of the layer's own backward, never the lstm_backward kata."""
    weights = _weights("lstm", 4, 5, seed)
    x = _sequence(3, 6, 4, seed)
    dout = np.random.default_rng(seed + 1).normal(size=(3, 6, 5) if rs else (3, 5))

    def backward(d, xs):
        layer = LSTM(5, return_sequences=rs)
        layer.build(xs.shape[1:], np.random.default_rng(0))
        layer.set_weights([np.copy(w) for w in weights])
        layer.forward(xs)
        dx = layer.backward(d)
        return (dx, *layer.grads)

    return _where_bptt_differs(backward, x, weights, dout, rs)


def _check_recurrent_initialisers(layer, units, text, forget_bias):
    kernel, recurrent, bias = (np.asarray(w) for w in layer.weights)
    limit = np.sqrt(6.0 / (kernel.shape[0] + kernel.shape[1]))
    check(
        np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.8 * limit,
        f"{text}: the kernel ranges over [{kernel.min():.3f}, {kernel.max():.3f}]; Keras's glorot_uniform "
        f"draws from [-{limit:.3f}, {limit:.3f}] (limit = sqrt(6 / (fan_in + fan_out)))",
    )
    gram = recurrent @ recurrent.T
    check(
        np.allclose(gram, np.eye(units), atol=1e-8),
        f"{text}: the recurrent kernel is not orthogonal (its rows are not orthonormal: R @ R.T is not the "
        f"identity). Keras initialises it with initializers.Orthogonal: take the Q of a QR decomposition "
        f"of a random normal matrix",
    )
    _check_orthogonal_signs(type(layer), units, kernel.shape[0], text)
    expected_bias = np.zeros(bias.shape)
    if forget_bias:
        expected_bias[units : 2 * units] = 1.0
    check(
        np.array_equal(bias, expected_bias),
        f"{text}: the bias starts as {show(bias)}; Keras starts it at zeros"
        + (
            ", except the forget gate's block (the 2nd of 4), which starts at 1 (unit_forget_bias=True) "
            "so that the cell remembers by default"
            if forget_bias
            else ""
        ),
    )


def _check_orthogonal_signs(layer_class, units, features, text):
    """Keras's Orthogonal multiplies Q by sign(diag(R)), which makes Q uniformly random. Without it,
    NumPy's (Householder) QR always returns Q[0, 0] < 0: a bias that shows over a few seeds."""
    corners = []
    for seed in range(16):
        layer = layer_class(units)
        layer.build((3, features), np.random.default_rng(100 + seed))
        corners.append(float(np.asarray(layer.weights[1])[0, 0]))
    check(
        min(corners) < 0 < max(corners),
        f"{text}: over 16 seeds the recurrent kernel's top-left value is always "
        f"{'negative' if max(corners) < 0 else 'positive'} ({show(np.array(corners[:4]))}, ...): the sign "
        f"convention of the orthogonal initialiser is missing. After q, r = np.linalg.qr(a), multiply q by "
        f"np.sign(np.diag(r)) (as Keras's Orthogonal and the solved orthogonal() do), or use orthogonal()",
    )


@pytest.mark.kata("rnn.SimpleRNN")
def test_simple_rnn_layer_initialisers_like_keras(impl):
    SimpleRNN = impl.get("rnn", "SimpleRNN")
    layer = SimpleRNN(12)
    layer.build((7, 20), np.random.default_rng(5))
    _check_recurrent_initialisers(layer, 12, "SimpleRNN(12) on input (7, 20)", forget_bias=False)


@pytest.mark.kata("rnn.LSTM")
def test_lstm_layer_initialisers_like_keras(impl):
    LSTM = impl.get("rnn", "LSTM")
    layer = LSTM(16)
    layer.build((10, 24), np.random.default_rng(3))
    _check_recurrent_initialisers(layer, 16, "LSTM(16) on input (10, 24)", forget_bias=True)


@pytest.mark.kata("rnn.GRU")
@pytest.mark.parametrize("rs", [False, True])
def test_gru_layer_against_keras(impl, rs):
    _layer_case(impl, "GRU", "gru", 3, 6, 4, 5, rs, seed=17)


@pytest.mark.kata("rnn.GRU")
def test_gru_layer_initialisers_like_keras(impl):
    GRU = impl.get("rnn", "GRU")
    layer = GRU(8)
    layer.build((5, 12), np.random.default_rng(4))
    _check_recurrent_initialisers(layer, 8, "GRU(8) on input (5, 12)", forget_bias=False)


# ------------------------------------------------------------------ capstones


def _text_model(impl, vocab, dim, units, seed=0):
    Sequential, Dense = impl.get("model", "Sequential"), impl.get("model", "Dense")
    Embedding, LSTM = impl.get("rnn", "Embedding"), impl.get("rnn", "LSTM")
    return Sequential([Embedding(vocab, dim), LSTM(units), Dense(1, activation="sigmoid")], seed=seed)


@pytest.mark.kata("rnn.text_classifier")
def test_text_classifier_parameter_counts(impl):
    model = _text_model(impl, 10000, 128, 64)
    model.build((20,))
    keras_model = ref.text_model(timesteps=20)
    mine = [layer.count_params() for layer in model.layers]
    theirs = keras_model["layer_params"]
    check(
        mine == theirs,
        f"Embedding(10000, 128) -> LSTM(64) -> Dense(1): your layers have {mine} parameters, "
        f"Keras's {theirs} (LSTM: 4 * units * (input_dim + units + 1) = 49,408)",
    )
    check(
        model.count_params() == keras_model["count_params"] == 1_329_473,
        f"the text model has {model.count_params():,} parameters; Keras's has {keras_model['count_params']:,}",
    )


#: Adam with hyperparameters that float32 represents exactly. Keras rounds beta_1, beta_2 and the
#: learning rate through float32 before its bias corrections, even for float64 weights; with these
#: values nothing is rounded and a correct float64 Adam reproduces Keras's fit to ~1e-16 (measured on the
#: text model and the forecaster), so the parity runs compare at PARITY_RTOL.
EXACT_ADAM = {"learning_rate": 2**-10, "beta_1": 0.875, "beta_2": 1 - 2**-10}
PARITY_RTOL = 1e-9
KERAS_OPTIMIZERS = {"adam": "Adam", "sgd": "SGD"}

#: Why the Adam parity run draws each batch's ids without repeats (and why the learner's Adam need not
#: change): Keras hands an Embedding's gradient to its optimizer as tf.IndexedSlices, one slice per
#: occurrence of an id, and its Adam squares each slice before they are summed, so with an id repeated
#: in a batch, v gets g1**2 + g2**2 where a dense Adam gets (g1 + g2)**2 (measured: 3.5e-3 relative on
#: the loss in 3 epochs). SGD is linear in the gradient and agrees either way (the SGD run has repeats).
INDEXED_SLICES_NOTE = (
    "note: this run has no id twice in a batch, because Keras's Adam receives an Embedding's "
    "gradient as IndexedSlices and squares each occurrence of a repeated id separately "
    "(a dense Adam, yours and the answer key's, squares their sum); that Keras detail is not "
    "the cause here"
)


def _diagnosis(impl, make_model, optimizer, loss, x, y, epochs, specs, input_shape, rtol=PARITY_RTOL):
    from dojo.testkit.divergence import diagnose

    return lambda: diagnose(
        impl,
        make_model=make_model,
        optimizer=optimizer,
        loss=loss,
        x=x,
        y=y,
        batch_size=32,
        epochs=epochs,
        rtol=rtol,
        specs=specs,
        input_shape=input_shape,
    )


def _parity(impl, x, y, optimizer, config, epochs, rtol, what, embedding_scale=1.0):
    optimizers = impl.module("optimizers")
    keras_model = ref.text_model(timesteps=x.shape[1])  # the seed's Embedding(10000, 128) -> LSTM(64) -> Dense(1)
    initial = keras_model["weights"]
    initial[0] = initial[0] * embedding_scale
    keras_model = ref.text_model(timesteps=x.shape[1], x=x, weights=initial)
    model = _text_model(impl, 10000, 128, 64)
    model.build(x.shape[1:])
    mine, theirs = [tuple(np.shape(w)) for w in model.get_weights()], [w.shape for w in initial]
    check(
        mine == theirs,
        f"the text model's weights have shapes {mine}; Keras's have {theirs}. Count the "
        f"parameters layer by layer (LSTM: kernel, recurrent_kernel, bias)",
    )
    model.set_weights(initial)
    got = model.predict(x)
    expected = keras_model["predict"]
    assert_close(got, expected, call="predict of the text model with Keras's initial weights")
    name = KERAS_OPTIMIZERS[optimizer]

    def make_model():
        fresh = _text_model(impl, 10000, 128, 64)
        fresh.build(x.shape[1:])
        fresh.set_weights(initial)
        fresh.compile(optimizer=getattr(optimizers, name)(**config), loss="binary_crossentropy")
        return fresh

    text = f"fit ({what}, {epochs} epochs, batch 32, shuffle=False)"
    diagnosis = _diagnosis(
        impl, make_model, (name, config), "binary_crossentropy", x, y, epochs, ref.text_model_specs(), x.shape[1:]
    )
    model = make_model()
    try:
        history = model.fit(x, y, epochs=epochs, batch_size=32, shuffle=False, verbose=0)
    except Exception as error:
        reraise_with_diagnosis(error, diagnosis, text)
    expected = ref.text_model_fit(
        x, y, timesteps=x.shape[1], optimizer=optimizer, config=config, epochs=epochs, weights=initial
    )
    _assert_history(
        history.history["loss"],
        expected["loss"],
        rtol,
        text,
        diagnosis,
        note=INDEXED_SLICES_NOTE if optimizer == "adam" else "",
    )


def _assert_history(got, expected, rtol, text, diagnosis=None, note=""):
    """Per-epoch losses; on a difference, the first piece of training that differs is named."""
    try:
        assert_close(got, expected, rtol=rtol, atol=1e-12, call=text, what="logged loss")
    except KataFailure as failure:
        found = diagnosis() if diagnosis is not None else None
        if found:
            raise KataFailure(f"{text}: {found}\n  (seen as: {failure})" + (f"\n  {note}" if note else "")) from None
        raise KataFailure(
            f"{failure}\n  Your model's predictions match Keras's for the same weights, so "
            f"a backward pass (grads or dx of a layer) or the update differs. Run the layer "
            f"katas of this track again: pytest --track rnn" + (f"\n  {note}" if note else "")
        ) from None


@pytest.mark.kata("rnn.text_classifier")
def test_text_classifier_fit_matches_keras_sgd(impl):
    # SGD, repeated ids within a batch: SGD is linear in the gradient, so Keras's IndexedSlices and a
    # dense NumPy update agree; with floatx float64 the logged loss is exact too.
    x, y = sequences.random_reviews(64, 20, 10000, seed=1)
    _parity(impl, x, y, "sgd", {"learning_rate": 0.5}, 3, PARITY_RTOL, "SGD(0.5), random ids")


def _ids_without_repeats(seed):
    rng = np.random.default_rng(seed)
    x = rng.permutation(10000)[: 64 * 20].reshape(64, 20)
    return x, rng.integers(0, 2, size=(64, 1)).astype(np.float64)


@pytest.mark.kata("rnn.text_classifier")
@pytest.mark.parametrize("regime", ["keras_init", "embeddings_x20"])
def test_text_classifier_fit_matches_keras_adam(impl, regime):
    # Adam, with float32-exact hyperparameters; each batch's ids are drawn without repeats (see
    # INDEXED_SLICES_NOTE). Two regimes: Keras's initial weights, and embeddings 20x larger, so that the
    # LSTM sees large inputs and saturates.
    x, y = _ids_without_repeats(2)
    _parity(
        impl,
        x,
        y,
        "adam",
        EXACT_ADAM,
        3,
        PARITY_RTOL,
        f"Adam({', '.join(f'{k}={v!r}' for k, v in EXACT_ADAM.items())}), no repeated id in a batch"
        + (", embeddings x20" if regime != "keras_init" else ""),
        embedding_scale=20.0 if regime != "keras_init" else 1.0,
    )


@pytest.mark.kata("rnn.remembers")
def test_lstm_remembers_negation_where_bag_of_words_cannot(impl):
    Sequential, Dense = impl.get("model", "Sequential"), impl.get("model", "Dense")
    optimizers = impl.module("optimizers")
    # 20 steps: the sentiment word can be 19 steps before the end, so the LSTM must carry what it
    # read through time (a BPTT cut to one step stays below 0.7; the answer key reaches 1.0 by epoch 7).
    x_train, y_train = sequences.negation_sentiment(2000, timesteps=20, seed=0)
    x_test, y_test = sequences.negation_sentiment(500, timesteps=20, seed=1)
    vocab = len(sequences.VOCABULARY)

    # Before the long run, the pieces one by one against Keras on the task's first 64 sequences: the
    # optimizer's first steps, how fit calls it, each layer's forward and backward, the loss. (No batch
    # replay: this vocabulary repeats ids in every batch, where Keras's Adam is not a dense Adam; see
    # INDEXED_SLICES_NOTE.)
    initial = ref.text_model(vocab_size=vocab, embed_dim=8, units=16, timesteps=20)["weights"]
    exact = {**EXACT_ADAM, "learning_rate": 2**-7}

    def make_model():
        fresh = _text_model(impl, vocab, 8, 16)
        fresh.build((20,))
        fresh.set_weights(initial)
        fresh.compile(optimizer=optimizers.Adam(**exact), loss="binary_crossentropy")
        return fresh

    from dojo.testkit.divergence import diagnose

    found = diagnose(
        impl,
        make_model=make_model,
        optimizer=("Adam", exact),
        loss="binary_crossentropy",
        x=x_train[:64],
        y=y_train[:64],
        replay=False,
    )
    check(
        found is None,
        f"before the 15-epoch run, the pieces of training checked one by one against Keras on "
        f"the task's first 64 sequences: {found}",
    )

    model = _text_model(impl, vocab, 8, 16, seed=0)
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=15, batch_size=32, verbose=0)
    _, lstm_accuracy = model.evaluate(x_test, y_test)

    bag = Sequential([Dense(16, activation="relu"), Dense(1, activation="sigmoid")], seed=0)
    bag.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy", metrics=["accuracy"])
    bag.fit(sequences.bag_of_words(x_train), y_train, epochs=15, batch_size=32, verbose=0)
    _, bag_accuracy = bag.evaluate(sequences.bag_of_words(x_test), y_test)

    print(f"\nnegation task, test accuracy: LSTM {lstm_accuracy:.3f}, bag of words {bag_accuracy:.3f}")
    check(
        bag_accuracy < 0.65,
        f"the bag-of-words model reached {bag_accuracy:.3f} test accuracy; it should not "
        f"beat chance by much (the task is built so that word counts carry no label)",
    )
    check(
        lstm_accuracy >= 0.95,
        f"your Embedding -> LSTM(16) -> Dense(1) reached {lstm_accuracy:.3f} test accuracy on the negation task "
        f"(e.g. '{sequences.decode(x_test[0])}'); it should reach 0.95 after 15 epochs, where the bag of words "
        f"stays at {bag_accuracy:.3f}. Check the LSTM backward (BPTT) and the Embedding backward",
    )


@pytest.mark.kata("rnn.forecast")
@pytest.mark.parametrize("scale", [1.0, 10.0], ids=["sine", "sine_x10"])
def test_simple_rnn_forecaster_fit_matches_keras(impl, scale):
    Sequential, Dense = impl.get("model", "Sequential"), impl.get("model", "Dense")
    SimpleRNN, optimizers = impl.get("rnn", "SimpleRNN"), impl.module("optimizers")
    x, y = sequences.noisy_sine_windows(256, timesteps=20, noise=0.1, seed=0)
    x, y = scale * x, scale * y  # x10: large inputs, the tanh saturates
    keras_model = ref.forecaster(units=16, timesteps=20, x=x[:64])
    initial = keras_model["weights"]
    exact = {**EXACT_ADAM, "learning_rate": 2**-7}

    def make_model():
        model = Sequential([SimpleRNN(16), Dense(1, activation="linear")], seed=0)
        model.build((20, 1))
        mine, theirs = [tuple(np.shape(w)) for w in model.get_weights()], [w.shape for w in initial]
        check(mine == theirs, f"SimpleRNN(16) -> Dense(1) has weights {mine}; Keras's {theirs}")
        model.set_weights(initial)
        model.compile(optimizer=optimizers.Adam(**exact), loss="mse")
        return model

    model = make_model()
    assert_close(
        model.predict(x[:64]),
        keras_model["predict"],
        call="predict of SimpleRNN(16) -> Dense(1) with Keras's initial weights",
    )
    text = (
        f"fit (SimpleRNN(16) -> Dense(1), Adam({', '.join(f'{k}={v!r}' for k, v in exact.items())}), mse, "
        f"2 epochs, shuffle=False{', inputs x10' if scale != 1 else ''})"
    )
    diagnosis = _diagnosis(impl, make_model, ("Adam", exact), "mse", x, y, 2, ref.forecaster_specs(16), (20, 1))
    try:
        history = model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    except Exception as error:
        reraise_with_diagnosis(error, diagnosis, text)
    expected = ref.forecaster_fit(x, y, units=16, timesteps=20, config=exact, epochs=2)
    _assert_history(history.history["loss"], expected["loss"], PARITY_RTOL, text, diagnosis)


@pytest.mark.kata("rnn.forecast")
def test_simple_rnn_forecasts_a_noisy_sine(impl):
    Sequential, Dense = impl.get("model", "Sequential"), impl.get("model", "Dense")
    SimpleRNN, optimizers = impl.get("rnn", "SimpleRNN"), impl.module("optimizers")
    x_train, y_train = sequences.noisy_sine_windows(1000, timesteps=20, noise=0.1, seed=0)
    x_test, y_test = sequences.noisy_sine_windows(300, timesteps=20, noise=0.1, seed=1)
    # A "linear" output (Keras's default for Dense): the loss is the plain MSE of the output.
    model = Sequential([SimpleRNN(16), Dense(1, activation="linear")], seed=0)
    model.build((20, 1))

    initial = ref.forecaster(units=16, timesteps=20)["weights"]
    mine, theirs = [tuple(np.shape(w)) for w in model.get_weights()], [w.shape for w in initial]
    check(mine == theirs, f"SimpleRNN(16) -> Dense(1) has weights {mine}; Keras's {theirs}")

    # Then it learns: better than repeating the last value of the window, by a wide margin.
    model.set_weights(initial)
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="mse")
    model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    mse = float(np.mean((model.predict(x_test) - y_test) ** 2))
    naive = float(np.mean((x_test[:, -1] - y_test) ** 2))
    print(f"\nnoisy sine, test MSE: SimpleRNN {mse:.4f}, last value {naive:.4f}, noise floor {0.1**2:.4f}")
    check(
        mse < 0.5 * naive,
        f"after 10 epochs your SimpleRNN forecaster's test MSE is {mse:.4f}; repeating the "
        f"last value scores {naive:.4f}, and it should do at least twice as well "
        f"(the noise alone costs {0.1**2:.4f})",
    )
