"""The core's one exception hierarchy; the CLI and the API translate it."""

from models.validation import FieldIssue, ProblemError


class AdvisorError(Exception):
    """Base of errors raised by the advisor core."""


class InputError(AdvisorError, ProblemError):
    """Input that parses but cannot be used; names the offending fields."""

    def __init__(self, issues: list[FieldIssue]) -> None:
        ProblemError.__init__(self, issues)


__all__ = ["AdvisorError", "FieldIssue", "InputError", "ProblemError"]
