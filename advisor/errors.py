"""The core's one exception hierarchy; the CLI and the API translate it.

    AdvisorError                 anything the core raises on purpose
    ├── InputError               input that parses but cannot be used (also a ProblemError,
    │                            so callers catching models.ProblemError keep working)
    ├── BudgetError              a limit of the core (time, size) was reached
    │   └── OutOfTimeError       a phase ran past its deadline; the solve pipeline catches
    │                            it and falls back to the plan it already has
    └── InternalError            an invariant of the core did not hold: a bug

Errors of the input readers (manifests, Compose files) may derive from AdvisorError or
InputError too: the base has no constructor of its own, so it mixes with ValueError.
"""

from models.validation import FieldIssue, ProblemError


class AdvisorError(Exception):
    """Base of errors raised by the advisor core."""


class InputError(AdvisorError, ProblemError):
    """Input that parses but cannot be used; names the offending fields."""

    def __init__(self, issues: list[FieldIssue]) -> None:
        ProblemError.__init__(self, issues)


class BudgetError(AdvisorError):
    """A limit of the core (its time budget, a size) was reached."""


class OutOfTimeError(BudgetError):
    """A phase passed its deadline before it could finish; what it built is unusable."""

    def __init__(self, phase: str, overrun: float) -> None:
        super().__init__(f"{phase}: past its deadline by {overrun:.2f} s")
        self.phase = phase
        self.overrun = overrun


class InternalError(AdvisorError):
    """An invariant of the core did not hold: a bug, never the user's input."""


__all__ = ["AdvisorError", "BudgetError", "FieldIssue", "InputError", "InternalError",
           "OutOfTimeError", "ProblemError"]
