"""The call engine: `Engine` makes a run's model calls; its parts each own one job.

settings (provider settings, keys) · clients (HTTP client choice, TLS) · retry (retries, the
outage breaker) · budget (prices, the cost cap, the tally) · concurrency (limits, `bounded`) ·
cache (the response cache) · calls (the orchestration) · transport / httpx_transport (HTTP).

The names below are imported on first use (PEP 562): `import promptctl.engine.prices` must not
load asyncio, the providers or SQLite.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptctl.engine.budget import EngineStats
    from promptctl.engine.calls import Engine, run_once
    from promptctl.engine.concurrency import DEFAULT_CONCURRENCY, bounded

_EXPORTS = {
    "DEFAULT_CONCURRENCY": "promptctl.engine.concurrency",
    "Engine": "promptctl.engine.calls",
    "EngineStats": "promptctl.engine.budget",
    "bounded": "promptctl.engine.concurrency",
    "run_once": "promptctl.engine.calls",
}

__all__ = ["DEFAULT_CONCURRENCY", "Engine", "EngineStats", "bounded", "run_once"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'promptctl.engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
