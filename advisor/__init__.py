"""The solver core: prepare -> greedy -> CP-SAT model -> extract -> score and explain.

`advise`, `review` and `SolveControl` load the solver when first used, not when this
package is imported: the command line lives in it, and `podlayout --version` and `--help`
need no solver (OR-Tools and numpy take most of a second to load).
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advisor.review import review
    from advisor.solve import SolveControl, advise

__all__ = ["SolveControl", "advise", "review"]
_FROM_SOLVE = ("SolveControl", "advise")


class _Core(ModuleType):
    """This package. Its `review` stays the function once the submodule of that name is
    loaded: the import system binds a submodule on its package when it first loads it,
    which would turn `from advisor import review` into the module."""

    @property
    def review(self) -> Any:
        return import_module("advisor.review").review

    @review.setter
    def review(self, value: object) -> None:
        if not isinstance(value, ModuleType):  # the submodule stays in sys.modules
            raise AttributeError("advisor.review is the review function; it cannot be set")

    def __getattr__(self, name: str) -> Any:
        if name in _FROM_SOLVE:
            return getattr(import_module("advisor.solve"), name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")


sys.modules[__name__].__class__ = _Core
