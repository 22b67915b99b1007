"""Locations and the exception hierarchy; each error class knows its SPEC §4 exit code.

PromptctlError (2)
├── UsageError (2)          bad YAML, unknown prompt, missing variable, zero cases, ...
│   └── MissingKeyError (2) an API key variable is not set
├── GateError (1)           a gate refused: promotion refused, lint errors
├── IncompleteError (3)     could not complete
│   ├── ProviderError (3)   one call failed, or the provider answered nonsense
│   │   └── RetriesExhaustedError (3)  a retriable failure outlived its retries
│   ├── AuthError (3)       401/403
│   ├── BudgetError (3)     the cost budget would be exceeded
│   ├── OfflineError (3)    --offline, and a call would need the network
│   ├── StoppedError (3)    the engine was stopped; no new call may start
│   └── ProviderUnavailableError (3)  the outage breaker tripped
└── RunInterruptedError (130)  partial results are on disk; --resume continues

During an eval, `ends_run` says whether an error stops the whole run (auth, budget, offline, a
missing key, a stopped engine) or is one case's failure, recorded while the run goes on (a
`ProviderError`: that call failed, `--resume` retries it).
"""

from __future__ import annotations

from collections.abc import Iterable
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


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest of `choices` to a misspelt `word`, or None."""
    import difflib  # only on an error path

    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


class PromptctlError(Exception):
    """Base of every error promptctl reports to a user."""

    exit_code: ClassVar[int] = 2
    # Raised by a model call during an eval: True stops the run, False fails only that case.
    ends_run: ClassVar[bool] = True

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
    ends_run = False  # one call failed: recorded as that case's error; --resume retries it


class RetriesExhaustedError(ProviderError):
    """A retriable failure (5xx, timeout, connection, TLS) that outlived its retries: one
    case's error, and a vote for the engine's outage breaker."""


class AuthError(IncompleteError):
    exit_code = 3


class BudgetError(IncompleteError):
    exit_code = 3


class OfflineError(IncompleteError):
    exit_code = 3


class StoppedError(IncompleteError):
    """The engine was stopped (budget, quota, Ctrl-C, outage) and no new call may start."""


class BatchError(IncompleteError):
    """A provider batch as a whole failed (upload refused, unknown status, no results): the run
    stops; the batches already submitted are recorded and `--resume` re-attaches."""


class BatchPendingError(StoppedError):
    """`eval --batch --no-wait`: the batches are submitted and recorded; `--resume` collects."""


class ProviderUnavailableError(IncompleteError):
    """The outage breaker tripped: the run stops (exit 3) and keeps what finished."""


class RunInterruptedError(PromptctlError):
    exit_code = 130


class PromptctlWarning(UserWarning):
    """Something a user should know that did not stop the command (e.g. a corrupt cache was
    set aside). The core raises it with `warnings.warn`; the CLI prints `warning: ...`."""
