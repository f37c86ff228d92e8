"""Neural Katas: the harness, the course, the tools (``kata``) and the notebook front end."""


def load_ipython_extension(ipython) -> None:
    """``%load_ext dojo``: the ``%kata`` magics. Imported only here, so ``import dojo`` stays light."""
    from .notebook import load_ipython_extension as load

    load(ipython)
