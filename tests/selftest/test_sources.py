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
