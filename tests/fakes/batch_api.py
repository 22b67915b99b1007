"""The providers' batch APIs, faked for tests: OpenAI Files + Batches and Anthropic Message Batches.

Mounted on the loopback fake (tests/fakes/llm_server.py) as `server.batches`. A batch answers
each line as the chat endpoint would (the echo reply, or `server.default` text), and moves
through its states one poll at a time.

Knobs (set per test):
- `polls_to_finish`: polls of a batch before it has ended (default 1: the second poll ends it).
- `errored_ids`: custom ids answered with an error line (`error_first`: the first N lines of
  each batch); `missing_ids`: left out of the output.
- `expire`: the batch ends `expired` with only the lines in `expire_after` (a count) answered.
- `status_override`: the status every poll reports (e.g. "haunted": an unknown status).
- `poll_status`: an HTTP status every poll returns instead (401: the key was revoked).
- `max_upload_bytes`: an upload larger than this is refused with 413.
- `max_requests`: a batch with more lines than this is refused with 400.
Observations: `submitted` (batches created), `lines_submitted`, `cancelled` (ids), `polls`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Reply = tuple[int, bytes, dict[str, str]]


@dataclass
class _Batch:
    id: str
    kind: str  # openai | anthropic
    lines: list[dict[str, Any]]
    polls: int = 0
    cancelled: bool = False
    output: bytes | None = None
    errors: bytes | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None


@dataclass
class FakeBatches:
    answer: Callable[[str, Any], dict[str, Any]]  # (endpoint path, request body) -> reply body
    base_url: str = ""  # the server's, for Anthropic's absolute results_url
    polls_to_finish: int = 1
    errored_ids: set[str] = field(default_factory=set)
    error_first: int = 0  # the first N lines of every batch error (custom ids are hashes)
    missing_ids: set[str] = field(default_factory=set)
    expire: bool = False
    expire_after: int = 0
    status_override: str | None = None
    poll_status: int | None = None
    max_upload_bytes: int | None = None
    max_requests: int | None = None
    submitted: int = 0
    lines_submitted: int = 0
    polls: int = 0
    cancelled: list[str] = field(default_factory=list)
    _files: dict[str, bytes] = field(default_factory=dict)
    _batches: dict[str, _Batch] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.__init__(self.answer, self.base_url)  # type: ignore[misc]

    # ----------------------------------------------------------------- routing

    def handles(self, path: str) -> bool:
        return path.startswith(("/v1/files", "/v1/batches", "/v1/messages/batches"))

    def serve(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        parts = path.split("?", 1)[0].strip("/").split("/")
        with self._lock:
            if parts[:2] == ["v1", "files"] and method == "POST":
                return self._upload(headers, raw)
            if parts[:2] == ["v1", "files"] and len(parts) == 4 and parts[3] == "content":
                data = self._files.get(parts[2])
                return (200, data, {}) if data is not None else _error(404, "no such file")
            if parts[:2] == ["v1", "batches"] and method == "POST" and len(parts) == 2:
                return self._create_openai(_json(raw))
            if parts[:3] == ["v1", "messages", "batches"] and method == "POST" and len(parts) == 3:
                return self._create_anthropic(_json(raw))
            batch_id = parts[3] if parts[1] == "messages" else parts[2] if len(parts) > 2 else ""
            batch = self._batches.get(batch_id)
            if batch is None:
                return _error(404, "no such batch")
            tail = parts[4:] if parts[1] == "messages" else parts[3:]
            if tail == ["cancel"] and method == "POST":
                batch.cancelled = True
                self.cancelled.append(batch.id)
                return 200, json.dumps(self._state(batch)).encode(), {}
            if tail == ["results"]:
                return (200, batch.output or b"", {}) if batch.output else _error(404, "no results")
            if tail == [] and method == "GET":
                if self.poll_status is not None:
                    return _error(self.poll_status, "invalid x-api-key")
                self.polls += 1
                batch.polls += 1
                if batch.polls > self.polls_to_finish and batch.output is None:
                    self._finish(batch)
                return 200, json.dumps(self._state(batch)).encode(), {}
        return _error(404, "unknown batch path")

    # ----------------------------------------------------------------- OpenAI

    def _upload(self, headers: dict[str, str], raw: bytes) -> Reply:
        if self.max_upload_bytes is not None and len(raw) > self.max_upload_bytes:
            return _error(413, f"file too large: {len(raw)} bytes")
        ctype = headers.get("content-type", "")
        boundary = ctype.split("boundary=", 1)[1].strip('"') if "boundary=" in ctype else ""
        content, purpose = b"", ""
        for part in raw.split(b"--" + boundary.encode()):
            head, _, body = part.partition(b"\r\n\r\n")
            body = body.removesuffix(b"\r\n")
            if b'name="file"' in head:
                content = body
            elif b'name="purpose"' in head:
                purpose = body.decode()
        if purpose != "batch":
            return _error(400, "purpose must be batch")
        file_id = f"file-{len(self._files) + 1}"
        self._files[file_id] = content
        return 200, json.dumps({"id": file_id, "object": "file", "purpose": "batch"}).encode(), {}

    def _create_openai(self, body: Any) -> Reply:
        if not isinstance(body, dict) or body.get("completion_window") != "24h":
            return _error(400, "completion_window must be 24h")
        data = self._files.get(str(body.get("input_file_id")))
        if data is None:
            return _error(400, "no such input file")
        lines = [json.loads(x) for x in data.decode().splitlines() if x.strip()]
        return self._create("openai", lines)

    # ----------------------------------------------------------------- Anthropic

    def _create_anthropic(self, body: Any) -> Reply:
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not requests:
            return _error(400, "requests must be a non-empty list")
        return self._create("anthropic", requests)

    # ----------------------------------------------------------------- shared

    def _create(self, kind: str, lines: list[dict[str, Any]]) -> Reply:
        if self.max_requests is not None and len(lines) > self.max_requests:
            return _error(400, f"a batch holds at most {self.max_requests} requests")
        prefix = "batch_" if kind == "openai" else "msgbatch_"
        batch = _Batch(id=f"{prefix}{len(self._batches) + 1}", kind=kind, lines=lines)
        self._batches[batch.id] = batch
        self.submitted += 1
        self.lines_submitted += len(lines)
        return 200, json.dumps(self._state(batch)).encode(), {}

    def _finish(self, batch: _Batch) -> None:
        out, errs = [], []
        for i, line in enumerate(batch.lines):
            cid = line["custom_id"]
            if cid in self.missing_ids or (self.expire and i >= self.expire_after):
                if self.expire and batch.kind == "anthropic":
                    out.append({"custom_id": cid, "result": {"type": "expired"}})
                elif self.expire:
                    errs.append(
                        {"custom_id": cid, "response": None, "error": {"code": "batch_expired"}}
                    )
                continue
            failed = cid in self.errored_ids or i < self.error_first
            if batch.kind == "openai":
                if failed:
                    errs.append(
                        {
                            "custom_id": cid,
                            "response": {"status_code": 500, "body": {"error": {"message": "x"}}},
                            "error": None,
                        }
                    )
                    continue
                reply = self.answer("/v1/chat/completions", line["body"])
                out.append({"custom_id": cid, "response": {"status_code": 200, "body": reply}})
            else:
                if failed:
                    result = {"type": "errored", "error": {"type": "api_error", "message": "x"}}
                else:
                    result = {
                        "type": "succeeded",
                        "message": self.answer("/v1/messages", line["params"]),
                    }
                out.append({"custom_id": cid, "result": result})
        batch.output = "".join(json.dumps(x) + "\n" for x in out).encode()
        batch.errors = "".join(json.dumps(x) + "\n" for x in errs).encode()
        if batch.kind == "openai":
            n = len(self._files)
            batch.output_file_id, batch.error_file_id = f"file-{n + 1}", f"file-{n + 2}"
            self._files[batch.output_file_id] = batch.output
            self._files[batch.error_file_id] = batch.errors

    def _state(self, batch: _Batch) -> dict[str, Any]:
        ended = batch.output is not None or batch.cancelled
        if batch.kind == "anthropic":
            status = "ended" if ended else ("canceling" if batch.cancelled else "in_progress")
            state: dict[str, Any] = {
                "id": batch.id,
                "type": "message_batch",
                "processing_status": self.status_override or status,
                "request_counts": {"processing": 0 if ended else len(batch.lines)},
                "results_url": None,
            }
            if batch.output is not None:
                state["results_url"] = f"{self.base_url}/v1/messages/batches/{batch.id}/results"
            return state
        if batch.cancelled and batch.output is None:
            status = "cancelled"
        elif batch.output is None:
            status = "validating" if batch.polls == 0 else "in_progress"
        else:
            status = "expired" if self.expire else "completed"
        state = {
            "id": batch.id,
            "object": "batch",
            "endpoint": "/v1/chat/completions",
            "status": self.status_override or status,
            "request_counts": {"total": len(batch.lines)},
            "output_file_id": None,
            "error_file_id": None,
        }
        state["output_file_id"], state["error_file_id"] = batch.output_file_id, batch.error_file_id
        return state


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _error(status: int, message: str) -> Reply:
    return status, json.dumps({"error": {"message": message, "type": "batch"}}).encode(), {}
