"""Editing one definition in a learner's module (dojo.course.definitions): the basis of reset and catch-up."""

import textwrap

from dojo.course import definitions as sources

LEARNER = textwrap.dedent('''\
    """A learner's module."""

    import numpy as np


    def mine(x):
        """My own helper, which must survive."""
        return x


    @staticmethod
    def loss(y_true, y_pred):
        """The kata's teaching docstring."""
        # TODO: kata losses.loss
        raise NotImplementedError("kata losses.loss")


    def later(x):
        raise NotImplementedError("kata losses.later")
    ''')

ANSWER_KEY = textwrap.dedent('''\
    """The answer key."""

    import numpy as np
    from scipy.special import expit

    EPSILON = 1e-7


    def _clip(p):
        return np.clip(p, EPSILON, 1 - EPSILON)


    def unrelated():
        return 0


    def loss(y_true, y_pred):
        """Short answer-key docstring."""
        return -np.mean(y_true * np.log(_clip(expit(y_pred))))
    ''')


def test_definition_includes_decorators_and_stops_at_the_end():
    text = sources.definition(LEARNER, "loss")
    assert text.startswith("@staticmethod\ndef loss(") and text.rstrip().endswith('"kata losses.loss")')
    assert sources.definition(LEARNER, "absent") is None
    assert sources.definition("def broken(:\n", "broken") is None


def test_replace_definition_changes_only_that_definition():
    new = sources.replace_definition(LEARNER, "loss", "def loss(y_true, y_pred):\n    return 0.0\n")
    assert "return 0.0" in new and "kata losses.loss" not in new
    assert sources.definition(new, "mine") == sources.definition(LEARNER, "mine")
    assert sources.definition(new, "later") == sources.definition(LEARNER, "later")


def test_replace_definition_appends_a_deleted_definition():
    new = sources.replace_definition("import numpy as np\n", "gone", "def gone():\n    pass\n")
    assert new.endswith("def gone():\n    pass\n")


def test_splice_brings_the_helpers_and_imports_the_answer_needs():
    new = sources.splice(LEARNER, ANSWER_KEY, "loss")
    namespace = {}
    exec(compile(new, "spliced.py", "exec"), namespace)  # every name it uses is defined
    assert "from scipy.special import expit" in new and "EPSILON = 1e-7" in new and "def _clip" in new
    assert "unrelated" not in new  # nothing the answer does not use
    assert '"""The kata\'s teaching docstring."""' in new and "Short answer-key" not in new
    assert "kata losses.loss" not in new and 'raise NotImplementedError("kata losses.later")' in new
    assert new.index("def _clip") < new.index("def loss")
    assert new.count("import numpy as np") == 1


def test_contains_works_on_a_file_that_does_not_parse():
    stub = sources.definition(LEARNER, "later")
    broken = LEARNER.replace("return x\n", "return (\n")
    assert sources.contains(broken, stub)
    assert not sources.contains(broken.replace("kata losses.later", "kata losses.other"), stub)
    assert not sources.contains(broken, None)


def test_replace_definition_in_a_file_that_does_not_parse():
    broken = LEARNER.replace('        raise NotImplementedError("kata losses.loss")', "        return (y_true -")
    broken = broken.replace("# TODO: kata losses.loss\n", "# TODO: kata losses.loss\n    return (y_true -\n")
    new = sources.replace_definition(broken, "loss", "def loss(y_true, y_pred):\n    return 0.0\n")
    assert "return (y_true" not in new and "return 0.0" in new and "@staticmethod" not in new
    assert sources.definition(new, "mine") == sources.definition(LEARNER, "mine")
    assert sources.definition(new, "later") == sources.definition(LEARNER, "later")


def test_a_file_that_is_not_utf8_is_named_with_its_byte_line_and_the_fix(tmp_path):
    path = tmp_path / "neuron.py"
    path.write_bytes(b"x = 1\n# caf\xe9\n")
    try:
        sources.read_source(path, "katas/neuron.py")
    except sources.NotUTF8 as error:
        assert str(error) == (
            "katas/neuron.py is not UTF-8 text (byte 0xe9 on line 2): save it as UTF-8 in your "
            "editor (Python reads source files as UTF-8), then try again"
        )
    else:
        raise AssertionError("a Latin-1 byte was read as UTF-8")
    assert sources.read_tolerant(path).startswith("x = 1\n# caf")  # for finding a stub, never for rewriting
    assert sources.read_tolerant(tmp_path / "absent.py") is None


def test_definition_lines_counts_every_copy_even_in_a_file_that_does_not_parse():
    twice = LEARNER + "\n\ndef mine(x):\n    return 2 * x\n"
    assert sources.definition_lines(twice, "mine") == [6, 22]
    assert sources.definition_lines(twice.replace("return x\n", "return (\n"), "mine") == [6, 22]
    assert sources.definition_lines(LEARNER, "absent") == []


def test_compile_error_says_where():
    assert sources.compile_error(LEARNER, "m.py") is None
    error = sources.compile_error(LEARNER.replace("return x\n", "return (\n"), "m.py")
    assert error is not None and error.lineno == 8
    assert sources.compile_error("x = 1\0", "m.py") is not None  # a null byte is an error too, not a crash
