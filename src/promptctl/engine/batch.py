"""Provider batch APIs: the calls a run needs, submitted as OpenAI Batches or Anthropic Message
Batches at the providers' batch price, collected into the run like live replies (issue 18).

`BatchSession` sits inside the engine: `Engine.complete` hands it each request the cache and the
baseline could not answer; requests arriving together (every case of a suite, then the judge
calls their replies provoke) are submitted together, split to the provider's limits. Each batch
is recorded in the run directory (`batches.jsonl`) the moment the provider accepts it, so
`eval --resume` re-attaches to it instead of submitting it again. A line that errored, expired or
is missing from the output goes live (`--batch-retry live`) or into a follow-up batch.

Control-plane calls (upload, create, poll, fetch, cancel) are few: they use httpx, which
honours the proxy variables and SSL_CERT_FILE; keys travel only in their headers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptctl.errors import AuthError, BatchError, UsageError
from promptctl.model import Request
from promptctl.providers.base import HTTPCall, ProviderSettings

BATCHES_FILE = "batches.jsonl"
POLL_ENV = "PROMPTCTL_BATCH_POLL_S"  # seconds between polls (default 30; tests use ~0.01)
LINGER_ENV = "PROMPTCTL_BATCH_LINGER_S"  # how long requests gather before a batch is sent
# Provider limits (requests, bytes) per batch, from their documentation.
LIMITS = {"openai": (50_000, 200 * 1024 * 1024), "anthropic": (100_000, 256 * 1024 * 1024)}
OPENAI_ENDED = {"completed", "failed", "expired", "cancelled"}
OPENAI_RUNNING = {"validating", "in_progress", "finalizing", "cancelling"}
ANTHROPIC_ENDED = {"ended"}
ANTHROPIC_RUNNING = {"in_progress", "canceling"}


def _seconds(env: str, default: float) -> float:
    try:
        return max(0.001, float(os.environ.get(env, "") or default))
    except ValueError:
        return default


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """One line of a batch's results."""

    custom_id: str
    ok: bool
    body: Any = None  # the chat reply's JSON when ok
    error: str = ""  # why not: errored | expired | missing | canceled, with the provider's words


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchState:
    id: str
    status: str
    ended: bool
    raw: Mapping[str, Any]


class BatchAPI:
    """One provider's batch endpoints; subclasses speak OpenAI's or Anthropic's dialect."""

    kind = ""

    def __init__(self, settings: ProviderSettings, call: HTTPCall, client: Any) -> None:
        self.settings, self.client = settings, client
        self.headers = {k: v for k, v in call.headers.items() if k.lower() != "content-type"}
        self.base = self._base(call.url)

    def _base(self, url: str) -> str:
        raise NotImplementedError

    async def _request(self, method: str, url: str, **kw: Any) -> Any:
        import httpx

        try:
            r = await self.client.request(method, url, headers=self.headers, **kw)
        except httpx.HTTPError as e:
            raise BatchError(
                f"{self.settings.name}: batch {method} failed: {type(e).__name__}",
                hint="check the network and the provider's status; then promptctl eval --resume",
            ) from None
        if r.status_code in (401, 403):
            raise AuthError(
                f"{self.settings.name}: the batch API refused the key (HTTP {r.status_code})",
                hint="check the API key variable; the batches already submitted are recorded: "
                "promptctl eval --resume collects them",
            )
        if r.status_code == 413:
            raise BatchError(
                f"{self.settings.name}: the batch upload was refused as too large (HTTP 413)",
                hint="lower batch_max_requests for this provider in promptctl.yaml",
            )
        if r.status_code >= 400:
            raise BatchError(
                f"{self.settings.name}: batch {method} answered HTTP {r.status_code}: "
                f"{_snippet(r.content)}"
            )
        return r

    async def create(self, lines: Sequence[tuple[str, HTTPCall]]) -> str:
        raise NotImplementedError

    async def poll(self, batch_id: str) -> BatchState:
        raise NotImplementedError

    async def results(self, state: BatchState) -> list[Outcome]:
        raise NotImplementedError

    async def cancel(self, batch_id: str) -> BatchState:
        raise NotImplementedError


class OpenAIBatches(BatchAPI):
    kind = "openai"
    ENDPOINT = "/chat/completions"

    def _base(self, url: str) -> str:
        return url[: -len(self.ENDPOINT)] if url.endswith(self.ENDPOINT) else url

    async def create(self, lines: Sequence[tuple[str, HTTPCall]]) -> str:
        jsonl = "".join(
            json.dumps(
                {"custom_id": cid, "method": "POST", "url": "/v1" + self.ENDPOINT, "body": c.body},
                ensure_ascii=False,
            )
            + "\n"
            for cid, c in lines
        ).encode("utf-8")
        r = await self._request(
            "POST",
            f"{self.base}/files",
            data={"purpose": "batch"},
            files={"file": ("promptctl-batch.jsonl", jsonl, "application/jsonl")},
        )
        file_id = _field(r, "id", self.settings.name)
        r = await self._request(
            "POST",
            f"{self.base}/batches",
            json={
                "input_file_id": file_id,
                "endpoint": "/v1" + self.ENDPOINT,
                "completion_window": "24h",
            },
        )
        return _field(r, "id", self.settings.name)

    async def poll(self, batch_id: str) -> BatchState:
        r = await self._request("GET", f"{self.base}/batches/{batch_id}")
        return self._state(r.json())

    def _state(self, data: Any) -> BatchState:
        status = str(data.get("status")) if isinstance(data, dict) else "?"
        if status not in OPENAI_ENDED | OPENAI_RUNNING:
            raise BatchError(
                f"{self.settings.name}: batch {data.get('id') if isinstance(data, dict) else ''} "
                f"has an unknown status {status!r}",
                hint="nothing is lost: promptctl eval --resume polls it again",
            )
        return BatchState(id=str(data["id"]), status=status, ended=status in OPENAI_ENDED, raw=data)

    async def results(self, state: BatchState) -> list[Outcome]:
        out: list[Outcome] = []
        for key in ("output_file_id", "error_file_id"):
            file_id = state.raw.get(key)
            if not file_id:
                continue
            r = await self._request("GET", f"{self.base}/files/{file_id}/content")
            for line in r.text.splitlines():
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except ValueError:
                    continue  # a torn line: its custom id counts as missing, and is retried
                cid = str(item.get("custom_id", ""))
                response = item.get("response") or {}
                if response.get("status_code") == 200 and isinstance(response.get("body"), dict):
                    out.append(Outcome(custom_id=cid, ok=True, body=response["body"]))
                else:
                    why = item.get("error") or (response.get("body") or {}).get("error") or {}
                    out.append(Outcome(custom_id=cid, ok=False, error=f"errored: {_why(why)}"))
        return out

    async def cancel(self, batch_id: str) -> BatchState:
        r = await self._request("POST", f"{self.base}/batches/{batch_id}/cancel")
        return self._state(r.json())


class AnthropicBatches(BatchAPI):
    kind = "anthropic"
    ENDPOINT = "/v1/messages"

    def _base(self, url: str) -> str:
        return url[: -len(self.ENDPOINT)] if url.endswith(self.ENDPOINT) else url

    async def create(self, lines: Sequence[tuple[str, HTTPCall]]) -> str:
        body = {"requests": [{"custom_id": cid, "params": c.body} for cid, c in lines]}
        r = await self._request("POST", f"{self.base}/v1/messages/batches", json=body)
        return _field(r, "id", self.settings.name)

    async def poll(self, batch_id: str) -> BatchState:
        r = await self._request("GET", f"{self.base}/v1/messages/batches/{batch_id}")
        return self._state(r.json())

    def _state(self, data: Any) -> BatchState:
        status = str(data.get("processing_status")) if isinstance(data, dict) else "?"
        if status not in ANTHROPIC_ENDED | ANTHROPIC_RUNNING:
            raise BatchError(
                f"{self.settings.name}: message batch has an unknown processing_status {status!r}",
                hint="nothing is lost: promptctl eval --resume polls it again",
            )
        return BatchState(
            id=str(data["id"]), status=status, ended=status in ANTHROPIC_ENDED, raw=data
        )

    async def results(self, state: BatchState) -> list[Outcome]:
        url = state.raw.get("results_url")
        if not url:
            return []
        r = await self._request("GET", str(url))
        out: list[Outcome] = []
        for line in r.text.splitlines():
            try:
                item = json.loads(line) if line.strip() else None
            except ValueError:
                item = None
            if not isinstance(item, dict):
                continue
            cid, result = str(item.get("custom_id", "")), item.get("result") or {}
            if result.get("type") == "succeeded" and isinstance(result.get("message"), dict):
                out.append(Outcome(custom_id=cid, ok=True, body=result["message"]))
            else:
                kind = str(result.get("type") or "missing")
                out.append(Outcome(custom_id=cid, ok=False, error=f"{kind}: {_why(result)}"))
        return out

    async def cancel(self, batch_id: str) -> BatchState:
        r = await self._request("POST", f"{self.base}/v1/messages/batches/{batch_id}/cancel")
        return self._state(r.json())


APIS: dict[str, type[BatchAPI]] = {"openai": OpenAIBatches, "anthropic": AnthropicBatches}


def supports_batch(settings: ProviderSettings) -> bool:
    """The built-in providers do; another OpenAI-compatible server only with `batch: true`."""
    if settings.type == "anthropic":
        return True
    return settings.type == "openai" and (settings.name == "openai" or settings.batch)


def _field(r: Any, key: str, name: str) -> str:
    try:
        return str(r.json()[key])
    except (ValueError, KeyError, TypeError):
        raise BatchError(f"{name}: the batch API answered without {key!r}") from None


def _why(value: Any) -> str:
    if isinstance(value, dict):
        inner = value.get("error") if isinstance(value.get("error"), dict) else value
        return str(inner.get("message") or inner.get("code") or inner.get("type") or "")[:200]
    return str(value)[:200]


def _snippet(data: bytes) -> str:
    from promptctl.redaction import printable

    return printable(data[:200].decode("utf-8", errors="replace"))


# ----------------------------------------------------------------------------- the run's record


@dataclass(slots=True)
class BatchRecord:
    """A batch as the run directory knows it."""

    id: str
    provider: str
    custom_ids: list[str]
    status: str = "submitted"
    collected: bool = False


def read_records(run_dir: Path) -> dict[str, BatchRecord]:
    """batches.jsonl, folded: id -> its latest state (whole lines only)."""
    out: dict[str, BatchRecord] = {}
    path = run_dir / BATCHES_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue  # a torn last line: the batch it named is recorded again when polled
        bid = str(item.get("id", ""))
        if item.get("event") == "submitted":
            out[bid] = BatchRecord(
                id=bid, provider=str(item["provider"]), custom_ids=list(item["custom_ids"])
            )
        elif bid in out and item.get("event") == "status":
            out[bid].status = str(item.get("status"))
        elif bid in out and item.get("event") == "collected":
            out[bid].collected = True
    return out


def _append(run_dir: Path, item: Mapping[str, Any]) -> None:
    """One whole, flushed, fsynced line: a batch the provider accepted is never forgotten."""
    item = {**item, "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    with open(run_dir / BATCHES_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps(item, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


# ----------------------------------------------------------------------------- the session


@dataclass(slots=True)
class _Pending:
    request: Request
    call: HTTPCall
    future: asyncio.Future[Outcome]


@dataclass(slots=True)
class _Provider:
    api: BatchAPI
    queue: list[_Pending] = field(default_factory=list)
    flusher: asyncio.Task[None] | None = None
    max_requests: int = 0
    max_bytes: int = 0


class BatchSession:
    """Gathers a run's calls into provider batches and hands each call its line's outcome."""

    def __init__(self, run_dir: Path, *, retry: str = "live", no_wait: bool = False) -> None:
        self.run_dir, self.retry, self.no_wait = run_dir, retry, no_wait
        self.poll_s = _seconds(POLL_ENV, 30.0)
        self.linger_s = _seconds(LINGER_ENV, 0.2)
        self.records = read_records(run_dir)
        self._known = {
            cid: r.id for r in self.records.values() for cid in r.custom_ids if not r.collected
        }
        self._providers: dict[str, _Provider] = {}
        self._waiting: dict[str, asyncio.Future[list[Outcome]]] = {}  # batch id -> its outcomes
        self._client: Any = None
        self.submitted = 0  # batches this process submitted
        self.lines = 0
        self.pending_ids: list[str] = []  # --no-wait: submitted, not collected

    async def aclose(self) -> None:
        for p in self._providers.values():
            if p.flusher is not None and not p.flusher.done():
                p.flusher.cancel()
        if self._client is not None:
            await self._client.aclose()

    def _http(self, settings: ProviderSettings) -> Any:
        import httpx

        if self._client is None:
            verify: Any = str(settings.ca_bundle) if settings.ca_bundle else True
            self._client = httpx.AsyncClient(timeout=60.0, verify=verify, trust_env=True)
        return self._client

    def api(self, settings: ProviderSettings, call: HTTPCall) -> _Provider:
        p = self._providers.get(settings.name)
        if p is None:
            api = APIS[settings.type](settings, call, self._http(settings))
            max_requests, max_bytes = LIMITS[api.kind]
            if settings.batch_max_requests:
                max_requests = min(max_requests, settings.batch_max_requests)
            p = self._providers[settings.name] = _Provider(
                api=api, max_requests=max_requests, max_bytes=max_bytes
            )
        return p

    async def outcome(
        self, settings: ProviderSettings, request: Request, call: HTTPCall
    ) -> Outcome:
        """This call's line, from a batch already recorded for it or from a new one."""
        provider = self.api(settings, call)
        known = self._known.get(request.key)
        if known is not None:
            outcomes = await self._collect(provider, known)
            for o in outcomes:
                if o.custom_id == request.key:
                    return o
            return Outcome(custom_id=request.key, ok=False, error="missing from the output")
        loop = asyncio.get_running_loop()
        pending = _Pending(request, call, loop.create_future())
        provider.queue.append(pending)
        if provider.flusher is None or provider.flusher.done():
            provider.flusher = asyncio.ensure_future(self._flush_later(provider))
        return await pending.future

    async def _flush_later(self, provider: _Provider) -> None:
        # Requests that arrive together go together: wait until none arrived for linger_s.
        seen = -1
        while seen != len(provider.queue):
            seen = len(provider.queue)
            await asyncio.sleep(self.linger_s)
        queue, provider.queue = provider.queue, []
        try:
            await self._submit(provider, queue)
        except BaseException as e:
            for p in queue:
                if not p.future.done():
                    if isinstance(e, Exception):
                        p.future.set_exception(e)
                    else:
                        p.future.cancel()
            if not isinstance(e, Exception):
                raise

    def _chunks(self, provider: _Provider, queue: list[_Pending]) -> list[list[_Pending]]:
        chunks: list[list[_Pending]] = [[]]
        size = 0
        for p in queue:
            line = len(json.dumps(p.call.body, ensure_ascii=False)) + 200
            if chunks[-1] and (
                len(chunks[-1]) >= provider.max_requests or size + line > provider.max_bytes
            ):
                chunks.append([])
                size = 0
            chunks[-1].append(p)
            size += line
        return [c for c in chunks if c]

    async def _submit(self, provider: _Provider, queue: list[_Pending]) -> None:
        unique: dict[str, _Pending] = {}
        for p in queue:  # two cases may make the very same request: one line serves both
            unique.setdefault(p.request.key, p)
        waits = []
        for chunk in self._chunks(provider, list(unique.values())):
            batch_id = await provider.api.create([(p.request.key, p.call) for p in chunk])
            ids = [p.request.key for p in chunk]
            _append(
                self.run_dir,
                {
                    "event": "submitted",
                    "id": batch_id,
                    "provider": provider.api.settings.name,
                    "kind": provider.api.kind,
                    "custom_ids": ids,
                },
            )
            self.records[batch_id] = BatchRecord(
                id=batch_id, provider=provider.api.settings.name, custom_ids=ids
            )
            self.submitted += 1
            self.lines += len(ids)
            waits.append(batch_id)
        if self.no_wait:
            self.pending_ids += waits
            from promptctl.errors import BatchPendingError

            error = BatchPendingError(f"{len(waits)} batch(es) submitted")
            for p in queue:
                if not p.future.done():
                    p.future.set_exception(error)
            return
        by_id: dict[str, Outcome] = {}
        for outcomes in await asyncio.gather(*(self._collect(provider, b) for b in waits)):
            by_id.update((o.custom_id, o) for o in outcomes)
        for p in queue:
            if not p.future.done():
                p.future.set_result(
                    by_id.get(p.request.key)
                    or Outcome(custom_id=p.request.key, ok=False, error="missing from the output")
                )

    async def _collect(self, provider: _Provider, batch_id: str) -> list[Outcome]:
        waiting = self._waiting.get(batch_id)
        if waiting is None:
            waiting = self._waiting[batch_id] = asyncio.ensure_future(
                self._wait_for(provider, batch_id)
            )
        return await asyncio.shield(waiting)

    async def _wait_for(self, provider: _Provider, batch_id: str) -> list[Outcome]:
        record = self.records.get(batch_id)
        while True:
            state = await provider.api.poll(batch_id)
            if record is not None and state.status != record.status:
                record.status = state.status
                _append(self.run_dir, {"event": "status", "id": batch_id, "status": state.status})
            if state.ended:
                break
            await asyncio.sleep(self.poll_s)
        outcomes = await provider.api.results(state)
        known = set(record.custom_ids) if record is not None else None
        if known is not None:
            outcomes = [o for o in outcomes if o.custom_id in known]  # a stranger line: ignored
        _append(self.run_dir, {"event": "collected", "id": batch_id, "status": state.status})
        return outcomes


async def status_of(run_dir: Path, resolve: Any) -> list[tuple[BatchRecord, str]]:
    """(record, the provider's status now) of every batch of a run; `resolve(provider name)`
    gives (settings, a sample HTTPCall) for the API."""
    session = BatchSession(run_dir)
    out = []
    try:
        for record in session.records.values():
            settings, call = resolve(record.provider)
            state = await session.api(settings, call).api.poll(record.id)
            out.append((record, state.status))
    finally:
        await session.aclose()
    return out


async def cancel_all(run_dir: Path, resolve: Any) -> list[tuple[BatchRecord, str]]:
    session = BatchSession(run_dir)
    out = []
    try:
        for record in session.records.values():
            if record.collected:
                continue
            settings, call = resolve(record.provider)
            state = await session.api(settings, call).api.cancel(record.id)
            _append(run_dir, {"event": "status", "id": record.id, "status": state.status})
            out.append((record, state.status))
    finally:
        await session.aclose()
    return out


def check_retry(value: str) -> str:
    if value not in ("live", "batch"):
        raise UsageError(f"--batch-retry {value!r}: use live or batch")
    return value
