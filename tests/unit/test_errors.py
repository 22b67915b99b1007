"""The error hierarchy: exit codes and whether an error ends an eval run are typed, not set."""

from __future__ import annotations

import pytest

from promptctl import errors
from promptctl.providers.base import ProviderHTTPError


@pytest.mark.parametrize(
    "cls",
    [
        errors.AuthError,
        errors.BudgetError,
        errors.OfflineError,
        errors.MissingKeyError,
        errors.StoppedError,
        errors.ProviderUnavailableError,
        errors.UsageError,
    ],
)
def test_errors_that_stop_an_eval_end_the_run(cls: type[errors.PromptctlError]) -> None:
    assert cls.ends_run is True
    assert cls("x").ends_run is True


@pytest.mark.parametrize(
    "error",
    [
        errors.ProviderError("one call failed"),
        errors.RetriesExhaustedError("5xx after 4 retries"),
        ProviderHTTPError("p", 500),
    ],
)
def test_one_calls_failure_does_not_end_the_run(error: errors.ProviderError) -> None:
    assert error.ends_run is False
    assert error.exit_code == 3


def test_the_breaker_counts_only_exhausted_retries() -> None:
    from promptctl.engine.retry import OUTAGE_AFTER_CALLS, Breaker

    breaker = Breaker("p")
    assert breaker.failed(errors.ProviderError("HTTP 400")) is None
    votes = [breaker.failed(errors.RetriesExhaustedError("HTTP 503")) for _ in range(3)]
    assert votes[: OUTAGE_AFTER_CALLS - 1] == [None] * (OUTAGE_AFTER_CALLS - 1)
    tripped = votes[OUTAGE_AFTER_CALLS - 1]
    assert isinstance(tripped, errors.ProviderUnavailableError)
    assert tripped.ends_run is True
    assert "3 calls in a row failed after retries (last: HTTP 503)" in tripped.message
    breaker.succeeded()
    assert breaker.failed(errors.RetriesExhaustedError("HTTP 503")) is None
