"""Replay recorded model outputs instead of calling the model, and capture the calls a case's
scorers make (judge calls) so a baseline can record them too (issue 6 §2).

A request is replayed only when its key is identical to a recorded one; the key covers provider,
model, params, rendered messages, response format and repeat index (model.Request.key).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from promptctl.model import RecordedOutput, Reply, Request

# The judge calls of the (case, repeat) being scored: asyncio runs each case in its own task,
# and each task has its own copy of the context, so concurrent cases never mix their logs.
_captured: ContextVar[list[dict[str, Any]] | None] = ContextVar("promptctl_captured", default=None)


def reply_from(recorded: RecordedOutput, request: Request) -> Reply:
    """The Reply a recorded output stands for (marked cached: it costs nothing now)."""
    return Reply(
        text=recorded.output,
        model=request.model,
        input_tokens=recorded.input_tokens,
        output_tokens=recorded.output_tokens,
        cost_usd=recorded.cost_usd,
        cached=True,
    )


@contextmanager
def capturing() -> Iterator[list[dict[str, Any]]]:
    """Collect what ReplayingEngine answers inside this block (in this task only)."""
    log: list[dict[str, Any]] = []
    token = _captured.set(log)
    try:
        yield log
    finally:
        _captured.reset(token)


class ReplayingEngine:
    """An engine that answers recorded requests itself and logs every answer for recording.

    Everything but `complete` is the wrapped engine's.
    """

    def __init__(self, engine: Any, recorded: Mapping[str, RecordedOutput]) -> None:
        self._engine = engine
        self._recorded = recorded
        self.replayed = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    async def complete(self, request: Request) -> Reply:
        hit = self._recorded.get(request.key)
        if hit is not None:
            self.replayed += 1
            reply = reply_from(hit, request)
        else:
            reply = await self._engine.complete(request)
        log = _captured.get()
        if log is not None:
            entry: dict[str, Any] = {"key": request.key, "output": reply.text}
            for name in ("input_tokens", "output_tokens", "cost_usd"):
                if getattr(reply, name) is not None:
                    entry[name] = getattr(reply, name)
            log.append(entry)
        return reply
