"""One headless Chromium for the whole session: Debian's package, never a downloaded browser.

Playwright's sync API keeps an asyncio loop running on the thread that drives it, and the eval
runs its own `asyncio.run()` in-process: so the browser lives on a thread of its own and a test
hands it a function of a fresh page (`chromium.run(check)`). Launch flags keep Chromium from
calling home (issue 16). Where no Chromium can be had, every browser test is skipped, loudly.
"""

from __future__ import annotations

import concurrent.futures
import os
import queue
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("PROMPTCTL_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


CHROMIUM = chromium_path()
SKIP_REASON = (
    "NO CHROMIUM FOUND: the browser tests of the HTML report and `promptctl view` did not run. "
    "Install Debian's package (apt-get install chromium; .ci/run does) or point "
    "PROMPTCTL_CHROMIUM at a Chromium binary."
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if CHROMIUM is not None:
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


T = TypeVar("T")
Job = tuple[Callable[[Any], Any], "concurrent.futures.Future[Any]"]


class Chromium:
    """A headless Chromium on its own thread; `run(fn)` calls fn(page) there, page fresh."""

    def __init__(self, executable: str) -> None:
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._main, args=(executable,), daemon=True)
        self._thread.start()
        self._started.result(timeout=120)  # a Chromium that cannot start fails loudly here

    def _main(self, executable: str) -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=executable, args=ARGS, headless=True)
                self._started.set_result(None)
                while (job := self._jobs.get()) is not None:
                    fn, done = job
                    context = browser.new_context(
                        viewport={"width": 1280, "height": 800}, service_workers="block"
                    )
                    try:
                        done.set_result(fn(context.new_page()))
                    except BaseException as e:
                        done.set_exception(e)
                    finally:
                        context.close()
                browser.close()
        except BaseException as e:
            if not self._started.done():
                self._started.set_exception(e)

    def run(self, fn: Callable[[Any], T]) -> T:
        done: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((fn, done))
        return done.result(timeout=120)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=30)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    assert CHROMIUM is not None  # collection skipped the tests otherwise
    browser = Chromium(CHROMIUM)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go (the session's temp dir; CI can keep it as an artifact)."""
    where = os.environ.get("PROMPTCTL_TEST_ARTIFACTS")
    path = Path(where) if where else tmp_path_factory.mktemp("artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path
