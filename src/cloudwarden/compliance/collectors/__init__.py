"""One module per AWS service; each registers itself with `@collector` from `base`."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def load_all(pkg: ModuleType) -> None:
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{info.name}")
