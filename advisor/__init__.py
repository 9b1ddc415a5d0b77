"""The solver core: prepare -> greedy -> CP-SAT model -> extract -> score and explain."""

from advisor.review import review
from advisor.solve import SolveControl, advise

__all__ = ["SolveControl", "advise", "review"]
