"""Run directories, the one reader and writer of their files: run.json (RunHeader) at start,
results.jsonl (one ResultLine per case and repeat) appended line by line, summary.json (Summary)
at the end. Everything else reads runs through these types, never through string keys.

Each line reaches the file in one write() on an O_APPEND descriptor, so a kill -9 leaves only
whole lines (a torn last line from a power cut is skipped on reading). run.json and
summary.json are replaced atomically. Keys a newer version wrote are kept (`extra`), and the
bytes written for known keys are those earlier versions wrote.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import secrets
import time
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptctl.errors import IncompleteError, Location, UsageError
from promptctl.model import Gate
from promptctl.project import files, paths
from promptctl.project.config import Project

RESULTS = "results.jsonl"
META = "run.json"
SUMMARY = "summary.json"
FSYNC_EVERY_S = 1.0  # whole lines survive a kill -9 without fsync; fsync bounds a power cut

# The storage boundary of results.jsonl. A seam for tests (issue 9): a full disk cannot be
# made on demand, so tests replace this with a function raising OSError(errno.ENOSPC).
_os_write = os.write


# ----------------------------------------------------------------------------- the records


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _opt_float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoreLine:
    """One scorer's result on one (case, repeat): a line's `scores[id]`."""

    score: float = 0.0
    passed: bool = False
    reason: str = ""
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "passed": self.passed,
            "reason": self.reason,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, raw: Any) -> ScoreLine:
        if not isinstance(raw, Mapping):
            return cls(error="not scored")
        return cls(
            score=_opt_float(raw.get("score")) or 0.0,
            passed=bool(raw.get("passed")),
            reason=str(raw.get("reason") or ""),
            error=_opt_str(raw.get("error")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultLine:
    """One line of results.jsonl: a (case, repeat) with every scorer's result, or the error of
    its call. Keys this version does not know are kept in `extra` (a newer writer's)."""

    suite: str
    case_id: str
    case_hash: str = ""
    repeat: int = 0
    request_key: str | None = None  # None: a chain whose upstream step failed before the call
    critical: bool = False
    steps: tuple[Mapping[str, Any], ...] = ()  # a chain's upstream calls, in order (chains)
    replayed: bool = False  # answered from the baseline's recorded output
    judge_outputs: tuple[Mapping[str, Any], ...] = ()  # judge replies, for replay (replay.py)
    output: str | None = None
    scores: Mapping[str, ScoreLine] = field(default_factory=dict)
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float | None = None
    cost_usd: float | None = None
    cached: bool = False
    error: str | None = None
    served_model: str | None = None  # the model the provider says answered (drift)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        return (self.case_id, self.repeat)

    def to_json(self) -> dict[str, Any]:
        """The line as written, keys in the order earlier versions wrote them."""
        out: dict[str, Any] = {
            "suite": self.suite,
            "case_id": self.case_id,
            "case_hash": self.case_hash,
            "repeat": self.repeat,
            "critical": self.critical,
        }
        if self.steps:
            out["steps"] = [dict(step) for step in self.steps]
        out["request_key"] = self.request_key
        if self.replayed:
            out["replayed"] = True
        if self.judge_outputs:
            out["judge_outputs"] = [dict(j) for j in self.judge_outputs]
        out.update(
            output=self.output,
            scores={sid: s.to_json() for sid, s in self.scores.items()},
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            latency_s=self.latency_s,
            cost_usd=self.cost_usd,
            cached=self.cached,
            error=self.error,
        )
        if self.served_model is not None:
            out["served_model"] = self.served_model
        out.update((k, v) for k, v in self.extra.items() if k not in out)
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ResultLine:
        scores = raw.get("scores")
        judged = raw.get("judge_outputs")
        steps = raw.get("steps")
        return cls(
            suite=str(raw.get("suite") or ""),
            case_id=str(raw["case_id"]),
            case_hash=str(raw.get("case_hash") or ""),
            repeat=int(raw.get("repeat") or 0),
            request_key=_opt_str(raw.get("request_key")),
            critical=bool(raw.get("critical", False)),
            steps=tuple(x for x in steps if isinstance(x, Mapping))
            if isinstance(steps, list)
            else (),
            replayed=bool(raw.get("replayed")),
            judge_outputs=tuple(j for j in judged if isinstance(j, Mapping))
            if isinstance(judged, list)
            else (),
            output=_opt_str(raw.get("output")),
            scores={str(k): ScoreLine.from_json(v) for k, v in scores.items()}
            if isinstance(scores, Mapping)
            else {},
            input_tokens=_opt_int(raw.get("input_tokens")),
            output_tokens=_opt_int(raw.get("output_tokens")),
            latency_s=_opt_float(raw.get("latency_s")),
            cost_usd=_opt_float(raw.get("cost_usd")),
            cached=bool(raw.get("cached")),
            error=_opt_str(raw.get("error")),
            served_model=_opt_str(raw.get("served_model")),
            extra={k: v for k, v in raw.items() if k not in _LINE_KEYS},
        )


_LINE_KEYS = frozenset(f for f in ResultLine.__dataclass_fields__ if f != "extra")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunHeader:
    """run.json: what a run was asked to do, written before its first call."""

    run_id: str
    suite: str
    suite_path: str = ""
    prompt: str = ""
    prompt_version: str = ""
    model: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    scorer_hashes: Mapping[str, str] = field(default_factory=dict)
    gate: Gate = field(default_factory=Gate)
    gate_hash: str = ""
    uses: Mapping[str, str] = field(default_factory=dict)  # alias -> upstream name@version
    repeat: int | None = None
    canary: str | None = None  # the run's canary token: the same one on --resume
    cases: int = 0
    pairs: int = 0
    filter: str | None = None
    shard: str | None = None  # "I/N"
    fresh: bool = False  # `eval --fresh`: no cache, no replay, on --resume too
    invocation: str = ""
    started_at: str = ""
    merged_from: tuple[str, ...] | None = None  # the shard runs a merged run came from
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "suite": self.suite,
            "suite_path": self.suite_path,
            "prompt": self.prompt,
            "prompt_version": self.prompt_version,
            "model": self.model,
            "params": dict(self.params),
            "scorer_hashes": dict(self.scorer_hashes),
            "gate": self.gate.fields(),
            "gate_hash": self.gate_hash,
            "uses": dict(self.uses),
            "repeat": self.repeat,
            "canary": self.canary,
            "cases": self.cases,
            "pairs": self.pairs,
            "filter": self.filter,
            "shard": self.shard,
            "invocation": self.invocation,
            "started_at": self.started_at,
        }
        if self.fresh:  # only when set: a run that is not fresh writes what earlier versions did
            out["fresh"] = True
        if self.merged_from is not None:
            out["merged_from"] = list(self.merged_from)
        out.update((k, v) for k, v in self.extra.items() if k not in out)
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> RunHeader:
        gate = raw.get("gate")
        merged = raw.get("merged_from")
        uses = raw.get("uses")
        return cls(
            run_id=str(raw.get("run_id") or ""),
            suite=str(raw.get("suite")),
            suite_path=str(raw.get("suite_path") or ""),
            prompt=str(raw.get("prompt")),
            prompt_version=str(raw.get("prompt_version")),
            model=str(raw.get("model")),
            params=dict(raw.get("params") or {}),
            scorer_hashes={str(k): str(v) for k, v in (raw.get("scorer_hashes") or {}).items()},
            gate=Gate.from_fields(gate if isinstance(gate, Mapping) else {}),
            gate_hash=str(raw.get("gate_hash") or ""),
            uses={str(k): str(v) for k, v in uses.items()} if isinstance(uses, Mapping) else {},
            repeat=_opt_int(raw.get("repeat")),
            canary=_opt_str(raw.get("canary")),
            cases=_opt_int(raw.get("cases")) or 0,
            pairs=_opt_int(raw.get("pairs")) or 0,
            filter=_opt_str(raw.get("filter")),
            shard=_opt_str(raw.get("shard")) or None,
            fresh=raw.get("fresh") is True,  # absent (earlier versions): not fresh
            invocation=str(raw.get("invocation") or ""),
            started_at=str(raw.get("started_at") or ""),
            merged_from=tuple(str(m) for m in merged) if isinstance(merged, list) else None,
            extra={k: v for k, v in raw.items() if k not in _HEADER_KEYS},
        )


_HEADER_KEYS = frozenset(f for f in RunHeader.__dataclass_fields__ if f != "extra")


@dataclass(frozen=True, slots=True, kw_only=True)
class ScorerStats:
    """summary.json `scorers[id]`: counts over (case, repeat) pairs; the interval over cases."""

    n: int
    passed: int
    errors: int
    pass_rate: float | None
    wilson_low: float
    wilson_high: float
    mean_score: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "passed": self.passed,
            "errors": self.errors,
            "pass_rate": self.pass_rate,
            "wilson_low": self.wilson_low,
            "wilson_high": self.wilson_high,
            "mean_score": self.mean_score,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ScorerStats:
        return cls(
            n=_opt_int(raw.get("n")) or 0,
            passed=_opt_int(raw.get("passed")) or 0,
            errors=_opt_int(raw.get("errors")) or 0,
            pass_rate=_opt_float(raw.get("pass_rate")),
            wilson_low=_opt_float(raw.get("wilson_low")) or 0.0,
            wilson_high=_opt_float(raw.get("wilson_high")) or 1.0,
            mean_score=_opt_float(raw.get("mean_score")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class WorstCase:
    case_id: str
    mean_score: float
    critical: bool
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "mean_score": self.mean_score,
            "critical": self.critical,
            "reasons": list(self.reasons),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> WorstCase:
        return cls(
            case_id=str(raw.get("case_id")),
            mean_score=_opt_float(raw.get("mean_score")) or 0.0,
            critical=bool(raw.get("critical")),
            reasons=tuple(str(r) for r in raw.get("reasons") or ()),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """summary.json: how a run ended, its totals, per-scorer stats and (once gated) the gate."""

    run_id: str
    suite: str
    status: str  # complete | interrupted | incomplete
    error: str | None = None
    prompt: str = ""
    prompt_version: str = ""
    model: str = ""
    pairs_total: int = 0
    repeat: int | None = None
    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    pairs_done: int = 0
    cases: int = 0
    call_errors: int = 0
    cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    judge_input_tokens: int = 0  # judges' calls (replayed or not): the eval's token total
    judge_output_tokens: int = 0
    cost_usd: float | None = None  # candidate + judge; None: a model without a known price
    judge_cost_usd: float | None = None
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    scorers: Mapping[str, ScorerStats] = field(default_factory=dict)
    worst_cases: tuple[WorstCase, ...] = ()
    floor_failures: tuple[str, ...] = ()
    finished_at: str = ""
    gate: Mapping[str, Any] | None = None  # gate/verdict.as_dict of the verdict; None: not gated
    replayed: int = 0
    judge_replayed: int = 0  # judge replies the baseline answered
    merged_from: tuple[str, ...] | None = None
    batch_calls: int = 0  # answered through a provider batch (eval --batch)
    batch_saved_usd: float | None = 0.0  # live cost less batch cost; None: a model had no price
    # eval --settle: its fresh calls for this run (judges' included) and their cost, both
    # already counted in `calls` and `cost_usd` (None: a model without a known price)
    settle_calls: int = 0
    settle_cost_usd: float | None = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "suite": self.suite,
            "status": self.status,
            "error": self.error,
            "prompt": self.prompt,
            "prompt_version": self.prompt_version,
            "model": self.model,
            "pairs_total": self.pairs_total,
            "repeat": self.repeat,
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "retries": self.retries,
            "pairs_done": self.pairs_done,
            "cases": self.cases,
            "call_errors": self.call_errors,
            "cached": self.cached,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "judge_input_tokens": self.judge_input_tokens,
            "judge_output_tokens": self.judge_output_tokens,
            "cost_usd": self.cost_usd,
            "latency_p50_s": self.latency_p50_s,
            "latency_p95_s": self.latency_p95_s,
            "scorers": {sid: st.to_json() for sid, st in self.scorers.items()},
            "worst_cases": [w.to_json() for w in self.worst_cases],
            "floor_failures": list(self.floor_failures),
            "finished_at": self.finished_at,
            "judge_cost_usd": self.judge_cost_usd,
        }
        if self.gate is not None:
            out["gate"] = dict(self.gate)
        out["replayed"] = self.replayed
        out["judge_replayed"] = self.judge_replayed
        if self.merged_from is not None:
            out["merged_from"] = list(self.merged_from)
        if self.batch_calls:
            out["batch_calls"] = self.batch_calls
            out["batch_saved_usd"] = (
                None if self.batch_saved_usd is None else round(self.batch_saved_usd, 8)
            )
        if self.settle_calls:
            out["settle_calls"] = self.settle_calls
            out["settle_cost_usd"] = (
                None if self.settle_cost_usd is None else round(self.settle_cost_usd, 8)
            )
        out.update((k, v) for k, v in self.extra.items() if k not in out)
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Summary:
        scorers = raw.get("scorers")
        gate = raw.get("gate")
        merged = raw.get("merged_from")
        return cls(
            run_id=str(raw.get("run_id") or ""),
            suite=str(raw.get("suite") or ""),
            status=str(raw.get("status") or "unfinished"),
            error=_opt_str(raw.get("error")),
            prompt=str(raw.get("prompt") or ""),
            prompt_version=str(raw.get("prompt_version") or ""),
            model=str(raw.get("model") or ""),
            pairs_total=_opt_int(raw.get("pairs_total")) or 0,
            repeat=_opt_int(raw.get("repeat")),
            calls=_opt_int(raw.get("calls")) or 0,
            cache_hits=_opt_int(raw.get("cache_hits")) or 0,
            retries=_opt_int(raw.get("retries")) or 0,
            pairs_done=_opt_int(raw.get("pairs_done")) or 0,
            cases=_opt_int(raw.get("cases")) or 0,
            call_errors=_opt_int(raw.get("call_errors")) or 0,
            cached=_opt_int(raw.get("cached")) or 0,
            input_tokens=_opt_int(raw.get("input_tokens")) or 0,
            output_tokens=_opt_int(raw.get("output_tokens")) or 0,
            judge_input_tokens=_opt_int(raw.get("judge_input_tokens")) or 0,
            judge_output_tokens=_opt_int(raw.get("judge_output_tokens")) or 0,
            cost_usd=_opt_float(raw.get("cost_usd")),
            judge_cost_usd=_opt_float(raw.get("judge_cost_usd")),
            latency_p50_s=_opt_float(raw.get("latency_p50_s")),
            latency_p95_s=_opt_float(raw.get("latency_p95_s")),
            scorers={
                str(k): ScorerStats.from_json(v)
                for k, v in scorers.items()
                if isinstance(v, Mapping)
            }
            if isinstance(scorers, Mapping)
            else {},
            worst_cases=tuple(
                WorstCase.from_json(w)
                for w in raw.get("worst_cases") or ()
                if isinstance(w, Mapping)
            ),
            floor_failures=tuple(str(f) for f in raw.get("floor_failures") or ()),
            finished_at=str(raw.get("finished_at") or ""),
            gate=dict(gate) if isinstance(gate, Mapping) else None,
            replayed=_opt_int(raw.get("replayed")) or 0,
            judge_replayed=_opt_int(raw.get("judge_replayed")) or 0,
            merged_from=tuple(str(m) for m in merged) if isinstance(merged, list) else None,
            batch_calls=_opt_int(raw.get("batch_calls")) or 0,
            batch_saved_usd=_opt_float(raw.get("batch_saved_usd"))
            if "batch_saved_usd" in raw
            else 0.0,
            settle_calls=_opt_int(raw.get("settle_calls")) or 0,
            settle_cost_usd=_opt_float(raw.get("settle_cost_usd"))
            if "settle_cost_usd" in raw
            else 0.0,
            extra={k: v for k, v in raw.items() if k not in _SUMMARY_KEYS},
        )


_SUMMARY_KEYS = frozenset(f for f in Summary.__dataclass_fields__ if f != "extra")


def new_run_id(suite: str, now: dt.datetime | None = None) -> str:
    """`20261125T120501Z-<suite>-<4 hex>`: sorts by start time; the suffix avoids collisions."""
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in suite)
    return f"{stamp}-{safe}-{secrets.token_hex(2)}"


def write_json_atomic(path: Path, value: Any) -> None:
    """run.json, summary.json and results.json: indented, sorted keys, through the one atomic
    writer (a full disk is its IncompleteError naming the file)."""
    data = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    files.write_atomic(path, data)


class RunWriter:
    """Appends result lines to one run directory."""

    def __init__(self, path: Path, *, root: Path | None = None) -> None:
        self.path = path
        self.run_id = path.name
        # never through a symlinked runs/, run directory or results.jsonl (issue 19): checked
        # before the run's lock file is created in it. Without a project root (a bare run
        # directory) only results.jsonl itself is opened without following a symlink.
        root = root if root is not None else Path(os.path.abspath(path)).parent
        paths.writable(root, path / RESULTS)
        self._lock = _lock_run(path)
        try:
            self._fd = paths.open_append(root, path / RESULTS)
        except BaseException:
            self._lock.release()
            raise
        self._last_sync = time.monotonic()
        self._repair_tail()

    @classmethod
    def create(cls, project: Project, header: RunHeader) -> RunWriter:
        paths.check_state_untracked(project)
        path = paths.writable(project.root, project.runs_dir / header.run_id, directory=True)
        try:
            path.mkdir(parents=True, exist_ok=False)
            _ignore_state_dir(project)
        except OSError as e:  # a read-only or full .promptctl/: say so before any call is paid
            raise IncompleteError(
                f"cannot create the run directory {project.rel(path)}: {e.strerror or e}",
                hint=f"make {project.rel(project.state_dir)}/ writable (or move it with "
                "paths.state in promptctl.yaml) and free some space",
            ) from None
        write_json_atomic(path / META, header.to_json())
        return cls(path, root=project.root)

    def _repair_tail(self) -> None:
        # A torn last line (power cut) would glue itself to the next append: end it first.
        size = os.fstat(self._fd).st_size
        if size:
            with open(self.path / RESULTS, "rb") as fh:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    os.write(self._fd, b"\n")

    def append(self, line: ResultLine) -> None:
        record = line.to_json()
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: \uXXXX escapes keep it valid JSON
            data = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()
        try:
            written = _os_write(self._fd, data)
            if written != len(data):  # a short write is a full disk that said so late
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as e:
            # Lines already written are whole; a torn tail is repaired when the run resumes.
            raise IncompleteError(
                f"cannot append to {self.path / RESULTS}: {e.strerror or e}",
                hint=f"free some space, then: promptctl eval --resume {self.run_id}",
            ) from None
        now = time.monotonic()
        if now - self._last_sync >= FSYNC_EVERY_S:
            os.fsync(self._fd)
            self._last_sync = now

    def write_summary(self, summary: Summary) -> None:
        os.fsync(self._fd)
        write_json_atomic(self.path / SUMMARY, summary.to_json())

    def close(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
        self._lock.release()


LOCK = "run.lock"  # held while a process appends: two `--resume RUN` at once asked every call twice


def _lock_run(path: Path) -> Any:
    """An OS lock on the run directory (released by the kernel if the holder dies, kill -9
    included); the holder's pid and start time sit in the file to name it to a second one."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(path / LOCK), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = json.loads((path / f"{LOCK}.holder").read_text(encoding="utf-8"))
            who = f"pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('since')}"
        except (OSError, ValueError, AttributeError):
            who = "another process"
        raise UsageError(
            f"run {path.name} is in use by another promptctl ({who})",
            hint="wait for it to finish; two processes resuming one run would ask every call twice",
        ) from None
    import socket

    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    (path / f"{LOCK}.holder").write_text(json.dumps(holder), encoding="utf-8")
    return lock


def _ignore_state_dir(project: Project) -> None:
    gitignore = paths.writable(project.root, project.state_dir / ".gitignore")
    if not gitignore.exists():
        gitignore.write_text("# local promptctl state: cache and runs\n*\n", encoding="utf-8")


def read_lines(path: Path, problems: list[str] | None = None) -> Iterator[ResultLine]:
    """Whole, well-typed lines of results.jsonl; a torn, corrupt or wrong-typed line is skipped
    (so `--resume` asks that pair again) and, when `problems` is given, described there."""
    for _, record in _records(path, problems):
        yield ResultLine.from_json(record)


def _records(path: Path, problems: list[str] | None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(byte offset, parsed record) of each whole, well-typed line."""
    try:
        fh = open(path / RESULTS, "rb")  # noqa: SIM115 - closed below, generator
    except FileNotFoundError:
        return
    with fh:
        offset = 0
        for number, raw in enumerate(fh, start=1):
            start, offset = offset, offset + len(raw)
            if not raw.endswith(b"\n"):
                break  # torn last line
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if not (isinstance(record, dict) and "case_id" in record):
                continue
            problem = record_problem(record)
            if problem is not None:
                if problems is not None:
                    problems.append(f"{path.name}/{RESULTS}:{number}: {problem}")
                continue
            yield start, record


class LatestLines:
    """The last line of each (case, repeat) of a run, in (case, repeat) order, parsed again
    from results.jsonl each time they are iterated: a 100k-case run costs an array of offsets,
    not 100k parsed lines (issue 18). The file is append-only, so an offset stays valid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        last: dict[tuple[str, int], int] = {}
        for start, record in _records(path, None):
            last[(str(record["case_id"]), int(record.get("repeat") or 0))] = start
        self._offsets = array("q", (last[key] for key in sorted(last)))

    def __len__(self) -> int:
        return len(self._offsets)

    def __iter__(self) -> Iterator[ResultLine]:
        with open(self.path / RESULTS, "rb") as fh:
            for offset in self._offsets:
                fh.seek(offset)
                yield ResultLine.from_json(json.loads(fh.readline()))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def record_problem(record: Mapping[str, Any]) -> str | None:
    """What makes a results.jsonl line unusable (a hand edit, another tool), else None."""
    case_id, repeat = record.get("case_id"), record.get("repeat", 0)
    if not isinstance(case_id, str | int) or isinstance(case_id, bool):
        return "case_id must be a string"
    if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 0:
        return f"repeat must be a whole number, not {repeat!r}"[:120]
    for key in ("input_tokens", "output_tokens", "cost_usd", "latency_s"):
        value = record.get(key)
        if value is not None and not _number(value):
            return f"{key} must be a number, not {value!r}"[:120]
    if record.get("error") is not None and not isinstance(record.get("error"), str):
        return "error must be text"
    scores = record.get("scores")
    if scores is None:
        return None
    if not isinstance(scores, dict):
        return "scores must be a mapping of scorer id to result"
    for sid, score in scores.items():
        if not isinstance(score, dict):
            return f"scores.{sid} must be a mapping"
        if score.get("score") is not None and not _number(score.get("score")):
            return f"scores.{sid}.score must be a number"
        if not isinstance(score.get("passed", False), bool):
            return f"scores.{sid}.passed must be true or false"
    return None


def latest_lines(
    path: Path, problems: list[str] | None = None
) -> dict[tuple[str, int], ResultLine]:
    """The last line of each (case, repeat): a resumed pair's new line supersedes the old."""
    return {line.key: line for line in read_lines(path, problems)}


def read_header(path: Path) -> RunHeader:
    """run.json of a run directory; a missing or corrupt one is a UsageError."""
    try:
        raw = json.loads((path / META).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{path} is not a run directory (no {META})",
            hint="run ids are listed under .promptctl/runs/",
        ) from None
    except ValueError as e:
        raise UsageError(f"{META} is corrupt: {e}", where=Location(str(path / META))) from None
    if not isinstance(raw, dict):
        raise UsageError(f"{META} is corrupt: not an object", where=Location(str(path / META)))
    return RunHeader.from_json(raw)


def rewrite_header(path: Path, header: RunHeader) -> None:
    """Replace the run.json of a run this process holds the lock of (`--resume --fresh`)."""
    before = (path / META).stat()
    write_json_atomic(path / META, header.to_json())
    # run_dirs orders runs started in the same second by run.json's mtime: keep the start's.
    os.utime(path / META, ns=(before.st_atime_ns, before.st_mtime_ns))


def read_summary(path: Path) -> Summary | None:
    """summary.json, or None while the run has none (or it is unreadable)."""
    try:
        raw = json.loads((path / SUMMARY).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return Summary.from_json(raw) if isinstance(raw, dict) else None


def rewrite_summary(path: Path, summary: Summary) -> None:
    """Replace the summary.json of a finished run (the eval-wide decision came after it)."""
    write_json_atomic(path / SUMMARY, summary.to_json())


def is_complete(path: Path) -> bool:
    summary = read_summary(path)
    return summary is not None and summary.complete


def run_dirs(project: Project) -> list[Path]:
    """Run directories, oldest first (run ids sort by start time)."""
    root = project.runs_dir
    if not root.is_dir():
        return []
    # Ids sort by second; two runs in the same second are ordered by when run.json was written.
    found = [p for p in root.iterdir() if (p / META).is_file()]
    return sorted(found, key=lambda p: (p.name[:16], (p / META).stat().st_mtime_ns, p.name))


def latest_run(
    project: Project, suite: str | None = None, complete: bool | None = None
) -> Path | None:
    """The newest run (of `suite`), optionally only complete or only unfinished ones."""
    for path in reversed(run_dirs(project)):
        if suite is not None:
            try:
                if read_header(path).suite != suite:
                    continue
            except UsageError:
                continue
        if complete is not None and is_complete(path) != complete:
            continue
        return path
    return None


def find_run(project: Project, ref: str) -> Path:
    """A run by id or path."""
    for candidate in (Path(ref), project.runs_dir / ref):
        if (candidate / META).is_file():
            # absolute, not resolved: a symlinked run directory is refused by name on writing
            return Path(os.path.abspath(candidate))
    known = [p.name for p in run_dirs(project)][-5:]
    raise UsageError(
        f"no run {ref!r}", hint="recent runs: " + (", ".join(known) if known else "none")
    )


def resume_paths(project: Project, refs: list[str]) -> list[Path]:
    """The runs `eval --resume [RUN|SUITE]...` finishes. No ref (or `latest`): every unfinished
    run of the latest interrupted `eval` invocation; a run id or directory: that run; a suite
    name: its latest unfinished run.

    Raises:
        UsageError: a complete run, a suite with nothing to resume, no interrupted run at all.
    """
    paths: list[Path] = []
    for ref in refs or [RESUME_LATEST]:
        paths += (
            _latest_unfinished(project) if ref == RESUME_LATEST else [_resume_one(project, ref)]
        )
    return paths


RESUME_LATEST = "latest"  # `--resume latest` is `--resume` alone


def _latest_unfinished(project: Project) -> list[Path]:
    latest = latest_run(project, complete=False)
    if latest is None:
        raise UsageError("no interrupted run to resume", hint="start one with promptctl eval")
    # Every unfinished suite of the same `eval` invocation resumes together.
    invocation = read_header(latest).invocation
    paths = [
        p
        for p in run_dirs(project)
        if not is_complete(p) and read_header(p).invocation == invocation
    ]
    return paths or [latest]


def _resume_one(project: Project, ref: str) -> Path:
    try:
        path = find_run(project, ref)
    except UsageError:
        from promptctl.evals import suites as suite_files

        if ref not in suite_files.suite_files(project):
            raise
        # `eval SUITE --resume`: that suite's latest unfinished run
        latest = latest_run(project, suite=ref, complete=False)
        if latest is None:
            raise UsageError(
                f"suite {ref!r} has no interrupted run to resume",
                hint=f"start one with promptctl eval {ref}",
            ) from None
        return latest
    if is_complete(path):
        raise UsageError(
            f"run {path.name} is complete: nothing to resume",
            hint="start a new run with promptctl eval",
        )
    return path
