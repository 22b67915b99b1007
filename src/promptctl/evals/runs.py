"""Run directories: run.json at start, results.jsonl appended line by line, summary.json at the end.

A line of results.jsonl is one (case, repeat) with every scorer's result. Each line reaches the
file in one write() on an O_APPEND descriptor, so a kill -9 leaves only whole lines (a torn last
line from a power cut is skipped on reading). summary.json is replaced atomically.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import secrets
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from promptctl.errors import IncompleteError, Location, UsageError
from promptctl.model import PER_CASE_HASH, Gate, RecordedOutput, RunData, ScorerOutcome
from promptctl.project import files
from promptctl.project.config import Project

RESULTS = "results.jsonl"
META = "run.json"
SUMMARY = "summary.json"
FSYNC_EVERY_S = 1.0  # whole lines survive a kill -9 without fsync; fsync bounds a power cut

# The storage boundary of results.jsonl. A seam for tests (issue 9): a full disk cannot be
# made on demand, so tests replace this with a function raising OSError(errno.ENOSPC).
_os_write = os.write


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

    def __init__(self, path: Path) -> None:
        self.path = path
        self.run_id = path.name
        self._lock = _lock_run(path)
        try:
            self._fd = os.open(path / RESULTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except BaseException:
            self._lock.release()
            raise
        self._last_sync = time.monotonic()
        self._repair_tail()

    @classmethod
    def create(cls, project: Project, run_id: str, meta: Mapping[str, Any]) -> RunWriter:
        path = project.runs_dir / run_id
        try:
            path.mkdir(parents=True, exist_ok=False)
            _ignore_state_dir(project)
            write_json_atomic(path / META, {"run_id": run_id, **meta})
            return cls(path)
        except OSError as e:  # a read-only or full .promptctl/: say so before any call is paid
            raise IncompleteError(
                f"cannot create the run directory {project.rel(path)}: {e.strerror or e}",
                hint=f"make {project.rel(project.state_dir)}/ writable (or move it with "
                "paths.state in promptctl.yaml) and free some space",
            ) from None

    def _repair_tail(self) -> None:
        # A torn last line (power cut) would glue itself to the next append: end it first.
        size = os.fstat(self._fd).st_size
        if size:
            with open(self.path / RESULTS, "rb") as fh:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    os.write(self._fd, b"\n")

    def append(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
        try:
            data = line.encode("utf-8")
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

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        os.fsync(self._fd)
        write_json_atomic(self.path / SUMMARY, summary)

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
    gitignore = project.state_dir / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("# local promptctl state: cache and runs\n*\n", encoding="utf-8")


def read_records(path: Path, problems: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Whole, well-typed lines of results.jsonl; a torn, corrupt or wrong-typed line is skipped
    (so `--resume` asks that pair again) and, when `problems` is given, described there."""
    try:
        fh = open(path / RESULTS, "rb")  # noqa: SIM115 - closed below, generator
    except FileNotFoundError:
        return
    with fh:
        for number, raw in enumerate(fh, start=1):
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
            yield record


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


def latest_records(
    path: Path, problems: list[str] | None = None
) -> dict[tuple[str, int], dict[str, Any]]:
    """The last record of each (case, repeat): a resumed pair's new line supersedes the old."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for record in read_records(path, problems):
        out[(str(record["case_id"]), int(record.get("repeat", 0)))] = record
    return out


def read_meta(path: Path) -> dict[str, Any]:
    try:
        return json.loads((path / META).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{path} is not a run directory (no {META})",
            hint="run ids are listed under .promptctl/runs/",
        ) from None
    except ValueError as e:
        raise UsageError(f"{META} is corrupt: {e}", where=Location(str(path / META))) from None


def read_summary(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads((path / SUMMARY).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def is_complete(path: Path) -> bool:
    summary = read_summary(path)
    return bool(summary and summary.get("status") == "complete")


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
                if read_meta(path).get("suite") != suite:
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
            return candidate.resolve()
    known = [p.name for p in run_dirs(project)][-5:]
    raise UsageError(
        f"no run {ref!r}", hint="recent runs: " + (", ".join(known) if known else "none")
    )


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


class Tally:
    """Aggregates result records as they arrive: per scorer, per (case, scorer), per case.

    Memory is a few small lists per case (no outputs kept), so 100k cases stay cheap.
    """

    MAX_REASONS = 3

    def __init__(self, scorer_hashes: Mapping[str, str]) -> None:
        self.scorer_hashes = dict(scorer_hashes)
        self.per_scorer: dict[str, list[float]] = {s: [0, 0, 0, 0.0] for s in scorer_hashes}
        self.slots: dict[tuple[str, str], list[Any]] = {}
        self.cases: dict[str, list[Any]] = {}
        self.pairs = 0
        self.call_errors = 0
        self.cached = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.judge_input_tokens = 0  # judges' calls (replayed or not): the eval's token total
        self.judge_output_tokens = 0
        self.cost_usd = 0.0
        self.latencies: list[float] = []

    def add(self, record: Mapping[str, Any]) -> None:
        case_id = str(record["case_id"])
        scores = record.get("scores") or {}
        error = record.get("error")
        critical = bool(record.get("critical", False))
        self.pairs += 1
        self.call_errors += 1 if error else 0
        self.cached += 1 if record.get("cached") else 0
        self.input_tokens += int(record.get("input_tokens") or 0)
        self.output_tokens += int(record.get("output_tokens") or 0)
        for j in record.get("judge_outputs") or ():
            if isinstance(j, Mapping):
                self.judge_input_tokens += int(j.get("input_tokens") or 0)
                self.judge_output_tokens += int(j.get("output_tokens") or 0)
        if not error and not record.get("cached"):
            self.cost_usd += float(record.get("cost_usd") or 0.0)
            self.latencies.append(float(record.get("latency_s") or 0.0))
        case = self.cases.get(case_id)
        if case is None:
            case = self.cases[case_id] = [0.0, 0, 0, critical, []]
        for sid, scorer_hash in self.scorer_hashes.items():
            if scorer_hash == PER_CASE_HASH and sid not in scores:
                continue  # a row's own scorer: only the cases that carry it are scored by it
            s = scores.get(sid) or {"score": 0.0, "passed": False, "error": error or "not scored"}
            value = float(s.get("score") or 0.0)
            failed_error = s.get("error")
            passed = bool(s.get("passed")) and not failed_error
            agg = self.per_scorer[sid]
            agg[0] += 1
            agg[1] += passed
            agg[2] += 1 if failed_error else 0
            agg[3] += value
            slot = self.slots.get((case_id, sid))
            if slot is None:
                slot = self.slots[(case_id, sid)] = [
                    record.get("case_hash", ""),
                    0.0,
                    0,
                    0,
                    0,
                    critical,
                ]
            slot[1] += value
            slot[2] += passed
            slot[3] += 1 if failed_error else 0
            slot[4] += 1
            case[0] += value
            case[1] += 1
            if not passed:
                case[2] += 1
                if len(case[4]) < self.MAX_REASONS:
                    why = failed_error or s.get("reason") or "failed"
                    case[4].append(f"{sid}: {str(why)[:300]}")

    def outcomes(self) -> list[ScorerOutcome]:
        return [
            ScorerOutcome(
                case_id=case_id,
                case_hash=v[0],
                scorer_id=sid,
                scorer_hash=self.scorer_hashes[sid],
                mean_score=v[1] / v[4],
                pass_fraction=v[2] / v[4],
                repeats=v[4],
                errors=v[3],
                critical=v[5],
            )
            for (case_id, sid), v in sorted(self.slots.items())
        ]

    def scorer_stats(self) -> dict[str, dict[str, Any]]:
        from promptctl.gate.stats import wilson_interval

        # The interval counts cases, as the gate does: repeats of one case are not independent
        # samples (issue 13: 10 cases x 3 repeats gave 24.6-57.7% here, 16.8-68.7% in the gate).
        case_passes: dict[str, list[float]] = {sid: [0.0, 0] for sid in self.per_scorer}
        for (_, sid), slot in self.slots.items():
            agg = case_passes[sid]
            agg[0] += slot[2] / slot[4]
            agg[1] += 1
        out = {}
        for sid, (n, passed, errors, total) in self.per_scorer.items():
            n = int(n)
            lo, hi = wilson_interval(case_passes[sid][0], int(case_passes[sid][1]))
            out[sid] = {
                "n": n,
                "passed": int(passed),
                "errors": int(errors),
                "pass_rate": (passed / n) if n else None,
                "wilson_low": lo,
                "wilson_high": hi,
                "mean_score": (total / n) if n else None,
            }
        return out

    def failing_cases(self) -> dict[str, list[str]]:
        """case id -> the first reasons it failed (for JUnit and the worst-case list)."""
        return {cid: c[4] for cid, c in self.cases.items() if c[2]}

    def worst(self, k: int = 5) -> list[dict[str, Any]]:
        import heapq

        rows = heapq.nsmallest(
            k, ((c[0] / c[1] if c[1] else 0.0, cid) for cid, c in self.cases.items() if c[2])
        )
        return [
            {
                "case_id": cid,
                "mean_score": round(score, 4),
                "critical": self.cases[cid][3],
                "reasons": self.cases[cid][4],
            }
            for score, cid in rows
        ]

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "pairs_done": self.pairs,
            "cases": len(self.cases),
            "call_errors": self.call_errors,
            "cached": self.cached,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "judge_input_tokens": self.judge_input_tokens,
            "judge_output_tokens": self.judge_output_tokens,
            "cost_usd": round(self.cost_usd, 8),
            "latency_p50_s": percentile(lat, 0.5),
            "latency_p95_s": percentile(lat, 0.95),
            "scorers": self.scorer_stats(),
            "worst_cases": self.worst(),
        }


def load_run(path: str | Path) -> RunData:
    """A run as read back from disk (complete or not)."""
    path = Path(path).resolve()
    meta = read_meta(path)
    records = latest_records(path)
    scorer_hashes = dict(meta.get("scorer_hashes") or {})
    summary = read_summary(path)
    gate = Gate.from_fields(meta.get("gate") or {})
    outputs = tuple(
        RecordedOutput(
            case_id=str(r["case_id"]),
            repeat=int(r.get("repeat", 0)),
            request_key=str(r.get("request_key") or ""),
            output=str(r.get("output")),
            input_tokens=r.get("input_tokens"),
            output_tokens=r.get("output_tokens"),
            cost_usd=r.get("cost_usd"),
        )
        for r in records.values()
        if r.get("error") is None and r.get("output") is not None
    ) + tuple(
        # Judge replies of the case (issue 6): recorded so that a replayed run calls no judge.
        RecordedOutput(
            case_id=str(r["case_id"]),
            repeat=int(r.get("repeat", 0)),
            request_key=str(j.get("key") or ""),
            output=str(j.get("output")),
            input_tokens=j.get("input_tokens"),
            output_tokens=j.get("output_tokens"),
            cost_usd=j.get("cost_usd"),
            judge=True,
        )
        for r in records.values()
        if r.get("error") is None
        for j in [*(r.get("judge_outputs") or ()), *(r.get("steps") or ())]
        # a chain's upstream replies (issue 14) are recorded the same way: replayed by key
        if isinstance(j, dict)
    )
    cost = summary.get("cost_usd") if summary else None
    if cost is None:
        cost = sum(float(r.get("cost_usd") or 0.0) for r in records.values())
    return RunData(
        run_id=path.name,
        path=str(path),
        suite=str(meta.get("suite")),
        prompt=str(meta.get("prompt")),
        prompt_version=str(meta.get("prompt_version")),
        model=str(meta.get("model")),
        params=dict(meta.get("params") or {}),
        gate=gate,
        scorer_hashes=scorer_hashes,
        outcomes=tuple(_tally(records, scorer_hashes).outcomes()),
        outputs=outputs,
        cost_usd=cost,
        complete=bool(summary and summary.get("status") == "complete"),
        shard=meta.get("shard"),
        uses={str(k): str(v) for k, v in (meta.get("uses") or {}).items()},
    )


def _tally(
    records: Mapping[tuple[str, int], Mapping[str, Any]], scorer_hashes: Mapping[str, str]
) -> Tally:
    tally = Tally(scorer_hashes)
    for _, record in sorted(records.items()):
        tally.add(record)
    return tally
