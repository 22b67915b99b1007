"""Concurrency: an adaptive per-provider limit (AIMD on 429s) and a bounded worker pool."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Measured with benchmarks/bench_calls.py (table in docs/providers.md): the engine's cost per
# call is flat from 8 to 64 in flight (~1 ms CPU), so the provider sets the limit. 16 calls of
# ~2 s each is ~480 requests/min, inside entry API tiers; 32 mostly buys 429s there.
DEFAULT_CONCURRENCY = 16


class Limiter:
    """An adaptive concurrency limit for one provider (AIMD on 429s)."""

    def __init__(self, limit: int) -> None:
        self.ceiling = max(1, limit)
        self.limit = self.ceiling
        self.in_flight = 0
        self._ok = 0
        self._cut_at = 0.0
        self._cond = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._cond:
            await self._cond.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1

    async def release(self, *, throttled: bool = False) -> None:
        async with self._cond:
            self.in_flight -= 1
            now = time.monotonic()
            if throttled:
                # A burst of 429s from one window halves once, not once per request.
                if now - self._cut_at > 1.0 and self.limit > 1:
                    self.limit = max(1, self.limit // 2)
                    self._cut_at = now
                self._ok = 0
            elif self.limit < self.ceiling:
                self._ok += 1
                if self._ok >= self.limit:
                    self.limit += 1
                    self._ok = 0
            self._cond.notify(max(0, self.limit - self.in_flight))


async def bounded(
    items: Iterable[T],
    worker: Callable[[T], Awaitable[R]],
    concurrency: int,
    *,
    stop: Callable[[], bool] | None = None,
) -> AsyncIterator[R]:
    """Run `worker` over `items`, at most `concurrency` at once; yield results as they finish.

    Items are pulled lazily (a million-case dataset is never in memory). When a worker raises,
    or `stop()` turns true (pass `lambda: engine.stopped`), no new item is pulled; workers in
    flight finish and their results are yielded, then the first exception is raised. Closing
    the generator early cancels the workers in flight.
    """
    it = iter(items)
    limit = max(1, concurrency)
    pending: set[asyncio.Future[R]] = set()
    # Finished tasks arrive through a queue: O(1) per completion, where asyncio.wait() would
    # re-register a callback on every task in flight each time.
    finished: asyncio.Queue[asyncio.Future[R]] = asyncio.Queue()
    error: BaseException | None = None
    exhausted = False

    def pull() -> None:
        nonlocal exhausted
        while not exhausted and error is None and len(pending) < limit:
            if stop is not None and stop():
                exhausted = True
                return
            try:
                item = next(it)
            except StopIteration:
                exhausted = True
                return
            task = asyncio.ensure_future(worker(item))
            task.add_done_callback(finished.put_nowait)
            pending.add(task)

    try:
        pull()
        while pending:
            task = await finished.get()
            pending.discard(task)
            failure = asyncio.CancelledError() if task.cancelled() else task.exception()
            if failure is not None:
                error = error or failure
            pull()  # before yielding: the consumer's work overlaps the next calls
            if failure is None:
                yield task.result()
        if error is not None:
            raise error
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
