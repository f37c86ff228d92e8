"""Mutants and alternatives for every kata, one module per kata module.

Importing this package imports every module in it, which fills
``mutation.REGISTRY``.
"""

import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")
