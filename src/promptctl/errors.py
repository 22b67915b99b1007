"""Locations and the exception hierarchy; each error class knows its SPEC §4 exit code.

PromptctlError (2)
├── UsageError (2)          bad YAML, unknown prompt, missing variable, zero cases, ...
│   └── MissingKeyError (2) an API key variable is not set
├── GateError (1)           a gate refused: promotion refused, lint errors
├── IncompleteError (3)     could not complete
│   ├── ProviderError (3)   provider failed after retries, or answered nonsense
│   ├── AuthError (3)       401/403
│   ├── BudgetError (3)     the cost budget would be exceeded
│   └── OfflineError (3)    --offline, and a call would need the network
└── RunInterruptedError (130)  partial results are on disk; --resume continues
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Location:
    """A 1-based place in a file; line and col are optional."""

    path: str
    line: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.path
        if self.col is None:
            return f"{self.path}:{self.line}"
        return f"{self.path}:{self.line}:{self.col}"


class PromptctlError(Exception):
    """Base of every error promptctl reports to a user."""

    exit_code: ClassVar[int] = 2

    def __init__(self, message: str, *, where: Location | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        prefix = f"{self.where}: " if self.where else ""
        return f"{prefix}{self.message}"


class UsageError(PromptctlError):
    exit_code = 2


class MissingKeyError(UsageError):
    exit_code = 2


class GateError(PromptctlError):
    exit_code = 1


class IncompleteError(PromptctlError):
    exit_code = 3


class ProviderError(IncompleteError):
    exit_code = 3


class AuthError(IncompleteError):
    exit_code = 3


class BudgetError(IncompleteError):
    exit_code = 3


class OfflineError(IncompleteError):
    exit_code = 3


class RunInterruptedError(PromptctlError):
    exit_code = 130


class PromptctlWarning(UserWarning):
    """Something a user should know that did not stop the command (e.g. a corrupt cache was
    set aside). The core raises it with `warnings.warn`; the CLI prints `warning: ...`."""
