"""Baseline files `evals/baselines/<suite>.json`: stable bytes, one case per line, atomic writes.

Layout (keys sorted everywhere; floats rounded to 6 places; a run of the same results rewrites
the same bytes, so an unchanged baseline never shows in `git diff`):

    {
    "cases": [
    {"hash":"…","id":"t-001","outputs":[{…}],"scores":{"has-summary":{"errors":0,"mean":1.0,…}}},
    …
    ],
    "cost_usd": 0.0,
    "format": 1,
    …
    }
"""

from __future__ import annotations

import json
import math
import os
import weakref
from array import array
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptctl.errors import Location, UsageError
from promptctl.model import (
    FAMILIES,
    METRICS,
    Gate,
    RecordedOutput,
    RecordedOutputs,
    RunData,
    ScorerOutcome,
)
from promptctl.project import files, paths
from promptctl.project.config import Project

if TYPE_CHECKING:
    from promptctl.evals.runs import Summary

FORMAT = 1
_DIGITS = 6
KEEP_OPEN_BYTES = 1 << 20  # a larger baseline's outputs are read again from the file


@dataclass(frozen=True, slots=True, kw_only=True)
class Baseline:
    """A suite's committed reference results. `path`/`commit` say where it was read from."""

    suite: str
    prompt: str
    prompt_version: str
    model: str
    params: Mapping[str, Any]
    gate: Gate
    gate_hash: str
    scorer_hashes: Mapping[str, str]
    outcomes: tuple[ScorerOutcome, ...]
    # read from the file when iterated (a 100k-case baseline keeps ~32 bytes an output in memory)
    outputs: RecordedOutputs = ()
    cost_usd: float | None = None  # of the recorded outputs when they were made
    run_id: str | None = None  # the run it was made from (not written: it would churn the file)
    path: str = ""  # as users see it (project-relative)
    commit: str | None = None  # full sha when read from git (--baseline-ref)
    case_hashes: Mapping[str, str] = field(default_factory=dict)
    # The gate's verdict on the run this was written from (issue 14 §5): only `passed` is
    # promotion evidence. None: written by a promptctl from before verdicts were recorded.
    verdict: str | None = None
    floors: Mapping[str, float] = field(default_factory=dict)  # the floors that run met
    accepted_failing: str | None = None  # --reason of `--accept-failing`
    failures: tuple[str, ...] = ()  # why that run failed (recorded with --accept-failing)
    uses: Mapping[str, str] = field(default_factory=dict)  # chain: alias -> "name@version"


# A run gated without a baseline (`new`) held its floors: recorded as `passed`, so re-recording
# the same results later (gated against this file, `passed`) rewrites the same bytes.
PASSING = ("passed", "new")


def path_for(project: Project, suite: str) -> Path:
    return project.baselines_dir / f"{suite}.json"


def regenerate_hint(suite: str) -> str:
    return (
        f"regenerate it with `promptctl baseline update {suite}` (after `promptctl eval {suite}`)"
    )


# ----------------------------------------------------------------------------- building


def from_run(
    run: RunData,
    *,
    record_outputs: bool = True,
    verdict: str | None = None,
    failures: tuple[str, ...] = (),
    accepted_failing: str | None = None,
) -> Baseline:
    """The baseline a complete run would commit (outputs left out when `record_outputs` is off),
    recording the gate's `verdict` on that run and the floors it was held to."""
    case_hashes = {o.case_id: o.case_hash for o in run.outcomes}
    floors = {
        k: float(v)
        for k in ("min_pass_rate", "max_cost_usd")
        if (v := getattr(run.gate, k)) is not None
    }
    return Baseline(
        verdict="passed" if verdict == "new" else verdict,
        floors=floors if verdict in PASSING else {},
        accepted_failing=accepted_failing,
        failures=tuple(failures) if verdict not in PASSING else (),
        uses=dict(run.uses),
        suite=run.suite,
        prompt=run.prompt,
        prompt_version=run.prompt_version,
        model=run.model,
        params=dict(run.params),
        gate=run.gate,
        gate_hash=run.gate.hash,
        scorer_hashes=dict(run.scorer_hashes),
        outcomes=tuple(sorted(run.outcomes, key=lambda o: (o.case_id, o.scorer_id))),
        outputs=_by_case(run.outputs) if record_outputs else (),
        # What the recorded outputs cost when first made: a replayed re-run spends nothing, and
        # neither the run id nor its spend may change the bytes of an unchanged baseline.
        cost_usd=_recorded_cost(run.outputs),
        run_id=run.run_id,
        case_hashes=case_hashes,
    )


def _by_case(outputs: RecordedOutputs) -> RecordedOutputs:
    """`outputs` in (case, repeat) order: as they are when their reader says so (a run's or a
    baseline's, read from the file), else sorted (a list of references, not copies)."""
    if getattr(outputs, "sorted_by_case", False):
        return outputs
    return tuple(sorted(outputs, key=lambda o: (o.case_id, o.repeat)))


class _NoPrice(Exception):
    """An output whose cost is unknown: the recorded outputs have no total."""


def _recorded_cost(outputs: RecordedOutputs) -> float | None:
    seen = False

    def costs() -> Iterator[float]:
        nonlocal seen
        for o in outputs:
            if o.cost_usd is None:
                raise _NoPrice
            seen = True
            yield o.cost_usd

    try:
        total = math.fsum(costs())  # exact: the same total in whatever order outputs come
    except _NoPrice:
        return None
    return total if seen else None


def replay_index(baseline: Baseline | None) -> Mapping[str, RecordedOutput]:
    """Recorded outputs by request key (the key covers the repeat index); the last one
    recorded wins when two cases made the same request."""
    if baseline is None:
        return {}
    if isinstance(baseline.outputs, _Recorded):
        return baseline.outputs.by_key()
    return {o.request_key: o for o in baseline.outputs if o.request_key}


# ----------------------------------------------------------------------------- writing


def _num(value: Any) -> Any:
    """Floats rounded to 6 places, -0.0 and non-finite values normalised: repr-stable."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        r = round(value, _DIGITS)
        return 0.0 if r == 0 else r
    if isinstance(value, Mapping):
        return {str(k): _num(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_num(v) for v in value]
    return value


# Characters some editors and tools treat as line breaks (JSON allows them raw in strings):
# escaped, so a case stays on one line everywhere, not only in git.
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _compact(value: Any) -> str:
    text = json.dumps(_num(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in _LINE_BREAKS.items():
        text = text.replace(raw, escaped)
    return text


def _case_lines(baseline: Baseline) -> Iterator[str]:
    """Each case's line, in case-id order: the outcomes (sorted) and the outputs (in case order)
    are walked side by side, so no case but the current one is ever built in memory."""
    outcomes = sorted(baseline.outcomes, key=lambda o: (o.case_id, o.scorer_id))
    outputs = iter(_by_case(baseline.outputs))
    pending = next(outputs, None)
    i, n = 0, len(outcomes)
    while i < n:
        first = outcomes[i]
        cid = first.case_id
        case: dict[str, Any] = {"id": cid, "hash": first.case_hash, "scores": {}}
        while i < n and outcomes[i].case_id == cid:
            o = outcomes[i]
            case["scores"][o.scorer_id] = {
                "errors": o.errors,
                "mean": float(o.mean_score),
                "pass": float(o.pass_fraction),
                "repeats": o.repeats,
            }
            if o.critical:
                case["critical"] = True
            i += 1
        recs = []
        # an output of a case no scorer saw cannot be gated; it is not kept
        while pending is not None and pending.case_id <= cid:
            if pending.case_id == cid:
                recs.append(_output_record(pending))
            pending = next(outputs, None)
        if recs:
            case["outputs"] = sorted(recs, key=lambda r: (r["repeat"], r["key"]))
        yield _compact(case)


def _output_record(out: RecordedOutput) -> dict[str, Any]:
    rec: dict[str, Any] = {"key": out.request_key, "output": out.output, "repeat": out.repeat}
    for name in ("input_tokens", "output_tokens", "cost_usd"):
        if getattr(out, name) is not None:
            rec[name] = getattr(out, name)
    if out.judge:  # lets a report tell the candidate's reply from its judges'
        rec["judge"] = True
    return rec


def _chunks(baseline: Baseline) -> Iterator[str]:
    """The file's text, a line at a time."""
    header: dict[str, Any] = {
        "format": FORMAT,
        "suite": baseline.suite,
        "prompt": baseline.prompt,
        "prompt_version": baseline.prompt_version,
        "model": baseline.model,
        "params": dict(baseline.params),
        "gate": baseline.gate.fields(),
        "gate_hash": baseline.gate_hash,
        "scorers": dict(baseline.scorer_hashes),
        "cost_usd": baseline.cost_usd,
    }
    if baseline.uses:  # only chains carry it: other baselines keep their bytes
        header["uses"] = dict(baseline.uses)
    if baseline.verdict is not None:
        evidence: dict[str, Any] = {"verdict": baseline.verdict, "floors": dict(baseline.floors)}
        if baseline.accepted_failing is not None:
            evidence["accepted_failing"] = baseline.accepted_failing
            evidence["failures"] = list(baseline.failures)
        header["evidence"] = evidence
    yield '{\n"cases": [\n'
    previous: str | None = None
    for line in _case_lines(baseline):
        if previous is not None:
            yield previous + ",\n"
        previous = line
    if previous is not None:
        yield previous + "\n"
    yield "],\n"
    keys = sorted(header)
    for i, key in enumerate(keys):
        yield f"{json.dumps(key)}: {_compact(header[key])}" + (",\n" if i < len(keys) - 1 else "\n")
    yield "}\n"


def dumps(baseline: Baseline) -> str:
    """The file's exact text."""
    return "".join(_chunks(baseline))


def write(project: Project, baseline: Baseline) -> tuple[Path, bool]:
    """Write through the one atomic writer, never through a symlink, a line at a time. Returns
    the path and whether the bytes changed; an unchanged baseline is not touched at all."""
    path = paths.writable(project.root, path_for(project, baseline.suite))
    changed = files.write_atomic(
        path, (chunk.encode("utf-8") for chunk in _chunks(baseline)), unless_same=True
    )
    return path, changed


# ----------------------------------------------------------------------------- reading


def read(project: Project, suite: str, *, ref: str | None = None) -> Baseline | None:
    """The baseline of `suite` from the working tree, or as committed at git `ref`; None when
    there is none. A damaged file is a UsageError naming file and line (exit 2)."""
    path = path_for(project, suite)
    shown = project.rel(path)
    commit = None
    lines: _Lines | None = None
    if ref is None:
        try:
            opened = _FileLines(path)
        except FileNotFoundError:
            return None
        raw = opened.read_all()
        # A small file's bytes cost less than an open descriptor per suite: only a large one
        # stays open to be read again (100 suites must not hold 100 descriptors).
        lines = opened if len(raw) > KEEP_OPEN_BYTES else None
        if lines is None:
            opened.close()
    else:
        from promptctl.history import gitrepo

        commit = gitrepo.resolve_commit(project.root, ref)
        blob = gitrepo.read_file(project.root, commit, path)
        if blob is None:
            return None
        raw = blob
        shown = f"{shown}@{commit[:12]}"
    parsed = parse(raw, shown, suite, lines=lines)
    return _replace(parsed, path=project.rel(path), commit=commit)


def _replace(b: Baseline, **changes: Any) -> Baseline:
    import dataclasses

    return dataclasses.replace(b, **changes)


class _Bad(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line = message, line


def parse(raw: bytes, shown: str, suite: str, *, lines: _Lines | None = None) -> Baseline:
    """Bytes -> Baseline, or a UsageError at `shown:line` saying how to regenerate the file.

    The recorded outputs are read again from `lines` (the file `raw` was read from) when they
    are asked for; without it, from `raw`, which the Baseline then keeps."""
    split = _split_cases(raw)
    if split is not None:
        # The layout this module writes: the header is parsed alone and the cases one line at
        # a time, straight from the bytes, so a 100k-case baseline is never one JSON tree (or
        # a second copy as text) in memory (issue 18).
        header, first_line, span = split
        try:
            data = json.loads(header)
        except ValueError:
            data = None
        if isinstance(data, dict):
            try:
                return _build(
                    data,
                    _LazyText(raw),
                    _case_rows(raw, first_line, span),
                    lines or _BytesLines(raw),
                )
            except _Bad as e:
                raise _error(shown, suite, e.message, e.line) from None
            except _Unstreamable:
                pass  # the whole-file parse below names the exact line and column
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _error(shown, suite, f"not UTF-8 (byte {e.start})", None) from None
    try:
        data = json.loads(text)
    except ValueError as e:
        line = getattr(e, "lineno", None)
        col = getattr(e, "colno", None)
        msg = getattr(e, "msg", str(e))
        raise UsageError(
            f"baseline is not valid JSON: {msg}",
            where=Location(shown, line, col),
            hint=regenerate_hint(suite),
        ) from None
    try:
        return _build(data, text)
    except _Bad as e:
        raise _error(shown, suite, e.message, e.line) from None


def _error(shown: str, suite: str, message: str, line: int | None) -> UsageError:
    return UsageError(
        f"invalid baseline: {message}", where=Location(shown, line), hint=regenerate_hint(suite)
    )


def _line_of_key(text: str | _LazyText, key: str) -> int | None:
    needle = json.dumps(key) + ":"
    for i, line in enumerate(text.splitlines(), 1):
        if line.startswith(needle):
            return i
    return None


_CASES_OPEN = b'{\n"cases": [\n'


class _LazyText:
    """The file as text for error line numbers (`_line_of_key`), decoded only if one is needed."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def splitlines(self) -> list[str]:
        return self.raw.decode("utf-8", errors="replace").splitlines()


def _split_cases(raw: bytes) -> tuple[bytes, int, tuple[int, int]] | None:
    """(the header as JSON with `"cases": []`, the line number of the first case, the span of
    the case lines) when `raw` has the layout `dumps` writes; None for anything else."""
    if not raw.startswith(_CASES_OPEN):
        return None
    start = len(_CASES_OPEN)
    close = raw.find(b"\n],\n", start - 1)
    if close < 0:
        return None
    return b'{"cases": [],\n' + raw[close + 4 :], 3, (start, close + 1)


_Row = tuple[int, int, int, Any]  # line number, start and end offsets, the parsed case


def _case_rows(raw: bytes, first_line: int, span: tuple[int, int]) -> Iterator[_Row]:
    """Each case line of `raw[span]`, parsed one at a time, with its line number and span."""
    pos, end, line = span[0], span[1], first_line
    while pos < end:
        nl = raw.find(b"\n", pos, end)
        nl = end if nl < 0 else nl
        try:
            yield line, pos, nl, json.loads(raw[pos:nl].rstrip(b","))
        except ValueError:  # UnicodeDecodeError too
            raise _Unstreamable from None
        pos, line = nl + 1, line + 1


class _Unstreamable(Exception):
    """A case line that does not parse alone: read the file whole for the exact error."""


def _build(
    data: Any,
    text: str | _LazyText,
    rows: Iterator[_Row] | None = None,
    lines: _Lines | None = None,
) -> Baseline:
    if not isinstance(data, dict):
        raise _Bad("the top level must be an object", 1)
    fmt = data.get("format")
    if not isinstance(fmt, int) or isinstance(fmt, bool):
        raise _Bad("missing or non-integer `format`", _line_of_key(text, "format") or 1)
    if fmt > FORMAT:
        raise _Bad(
            f"format {fmt} is newer than this promptctl understands ({FORMAT}); upgrade promptctl",
            _line_of_key(text, "format"),
        )
    if fmt < 1:
        raise _Bad(f"unknown format {fmt}", _line_of_key(text, "format"))

    def field_(key: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
        if key not in data:
            if optional:
                return None
            raise _Bad(f"missing `{key}`", 1)
        value = data[key]
        if value is None and optional:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise _Bad(f"`{key}` has the wrong type", _line_of_key(text, key))
        return value

    suite = field_("suite", str)
    prompt = field_("prompt", str)
    version = field_("prompt_version", str)
    model = field_("model", str)
    params = field_("params", dict)
    gate_raw = field_("gate", dict, optional=True) or {}
    gate_hash = field_("gate_hash", str)
    scorers = field_("scorers", dict)
    cost = field_("cost_usd", (int, float), optional=True)
    cases = field_("cases", list)
    evidence = _evidence(field_("evidence", dict, optional=True), _line_of_key(text, "evidence"))
    uses = field_("uses", dict, optional=True) or {}
    if not all(isinstance(v, str) for v in uses.values()):
        raise _Bad("`uses` must map aliases to name@version", _line_of_key(text, "uses"))
    if not all(isinstance(v, str) for v in scorers.values()):
        raise _Bad("`scorers` must map scorer ids to hashes", _line_of_key(text, "scorers"))
    gate = _gate(gate_raw, _line_of_key(text, "gate"))

    if rows is None:
        first_case_line = (_line_of_key(text, "cases") or 1) + 1
        rows = ((first_case_line + i, -1, -1, case) for i, case in enumerate(cases))
    outcomes: list[ScorerOutcome] = []
    outputs: list[RecordedOutput] = []
    case_hashes: dict[str, str] = {}
    index = _Index() if lines is not None else None
    for line, start, end, case in rows:
        outs_c, recs = _case(case, scorers, line)
        cid = case["id"]
        if cid in case_hashes:
            raise _Bad(f"case {cid!r} appears twice", line)
        case_hashes[cid] = case["hash"]
        outcomes.extend(outs_c)
        if index is None:
            outputs.extend(recs)
        elif recs:
            index.add(cid, start, end, recs)
    return Baseline(
        suite=suite,
        prompt=prompt,
        prompt_version=version,
        model=model,
        params=params,
        gate=gate,
        gate_hash=gate_hash,
        scorer_hashes=dict(scorers),
        outcomes=tuple(outcomes),
        outputs=_Recorded(lines, index)
        if lines is not None and index is not None
        else tuple(outputs),
        cost_usd=float(cost) if cost is not None else None,
        case_hashes=case_hashes,
        uses={str(k): v for k, v in uses.items()},
        **evidence,
    )


def _evidence(raw: Mapping[str, Any] | None, line: int | None) -> dict[str, Any]:
    if raw is None:
        return {}
    verdict, floors = raw.get("verdict"), raw.get("floors", {})
    accepted, failures = raw.get("accepted_failing"), raw.get("failures", [])
    if (
        not isinstance(verdict, str)
        or not isinstance(floors, dict)
        or not all(isinstance(v, int | float) for v in floors.values())
        or not isinstance(accepted, str | None)
        or not isinstance(failures, list)
    ):
        raise _Bad("`evidence` needs a verdict (string) and floors (numbers)", line)
    return {
        "verdict": verdict,
        "floors": {str(k): float(v) for k, v in floors.items()},
        "accepted_failing": accepted,
        "failures": tuple(str(f) for f in failures),
    }


def _gate(raw: Mapping[str, Any], line: int | None) -> Gate:
    """Check a baseline's `gate` (a hand edit must not slip a bad value into the gate), then
    build it with the one builder."""
    for key in ("min_pass_rate", "max_drop", "alpha", "max_cost_usd"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise _Bad(f"gate.{key} must be a number", line)
    if raw.get("on_inconclusive") not in (None, "warn", "fail"):
        raise _Bad("gate.on_inconclusive must be warn or fail", line)
    advisory = raw.get("advisory")
    if advisory is not None and (
        not isinstance(advisory, list) or any(not isinstance(a, str) for a in advisory)
    ):
        raise _Bad("gate.advisory must be a list of scorer ids", line)
    if raw.get("family", "eval") not in FAMILIES:
        raise _Bad(f"gate.family must be one of {', '.join(FAMILIES)}", line)
    metric = raw.get("metric", {})
    if not isinstance(metric, Mapping) or any(m not in METRICS for m in metric.values()):
        raise _Bad(f"gate.metric must map scorer ids to one of {', '.join(METRICS)}", line)
    return Gate.from_fields(raw)


def _case(
    case: Any, scorers: Mapping[str, str], line: int
) -> tuple[list[ScorerOutcome], list[RecordedOutput]]:
    if not isinstance(case, dict):
        raise _Bad("a case must be an object", line)
    cid, chash, scores = case.get("id"), case.get("hash"), case.get("scores")
    if not isinstance(cid, str) or not isinstance(chash, str) or not isinstance(scores, dict):
        raise _Bad("a case needs `id`, `hash` (strings) and `scores` (an object)", line)
    critical = case.get("critical", False) is True
    outcomes = []
    for sid, s in sorted(scores.items()):
        if sid not in scorers:
            raise _Bad(f"case {cid!r} has a score for unknown scorer {sid!r}", line)
        if not isinstance(s, dict):
            raise _Bad(f"case {cid!r}, scorer {sid!r}: scores must be objects", line)
        try:
            mean, frac = _float(s["mean"]), _float(s["pass"])
            repeats, errors = s["repeats"], s.get("errors", 0)
        except (KeyError, TypeError, ValueError):
            raise _Bad(f"case {cid!r}, scorer {sid!r}: needs mean, pass, repeats", line) from None
        if (
            not isinstance(repeats, int)
            or repeats < 1
            or not isinstance(errors, int)
            or not 0 <= mean <= 1
            or not 0 <= frac <= 1
        ):
            raise _Bad(f"case {cid!r}, scorer {sid!r}: values out of range", line)
        outcomes.append(
            ScorerOutcome(
                case_id=cid,
                case_hash=chash,
                scorer_id=sid,
                scorer_hash=scorers[sid],
                mean_score=mean,
                pass_fraction=frac,
                repeats=repeats,
                errors=errors,
                critical=critical,
            )
        )
    return outcomes, _case_outputs(case, cid, line)


def _case_outputs(case: dict[str, Any], cid: str, line: int) -> list[RecordedOutput]:
    recorded = []
    outs = case.get("outputs", [])
    if not isinstance(outs, list):
        raise _Bad(f"case {cid!r}: outputs must be a list", line)
    for rec in outs:
        if (
            not isinstance(rec, dict)
            or not isinstance(rec.get("key"), str)
            or not isinstance(rec.get("output"), str)
            or not isinstance(rec.get("repeat"), int)
        ):
            raise _Bad(f"case {cid!r}: an output needs key, output and repeat", line)
        recorded.append(
            RecordedOutput(
                case_id=cid,
                repeat=rec["repeat"],
                request_key=rec["key"],
                output=rec["output"],
                input_tokens=rec.get("input_tokens"),
                output_tokens=rec.get("output_tokens"),
                cost_usd=rec.get("cost_usd"),
                judge=rec.get("judge") is True,
            )
        )
    return recorded


def _float(value: Any) -> float:
    """float(value), the common 0.0 and 1.0 shared: 100k cases hold 200k scores."""
    f = float(value)
    return _ONE if f == 1.0 else _ZERO if f == 0.0 else f


_ONE, _ZERO = 1.0, 0.0


# ----------------------------------------------------------------------------- lazy outputs


class _Lines:
    """Where a baseline's case lines are read again from, by byte span."""

    def read(self, start: int, end: int) -> bytes:
        raise NotImplementedError


class _BytesLines(_Lines):
    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def read(self, start: int, end: int) -> bytes:
        return self.raw[start:end]


class _FileLines(_Lines):
    """The file kept open: an atomic rewrite of the baseline (a rename) leaves this reader on
    the bytes it parsed, and it holds no copy of them."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self._closer = weakref.finalize(self, os.close, self.fd)
        self.raw: bytes | None = None

    def close(self) -> None:
        self._closer()

    def read_all(self) -> bytes:
        with os.fdopen(os.dup(self.fd), "rb") as fh:
            raw = fh.read()
        if not hasattr(os, "pread"):
            self.raw = raw  # no positional reads on this platform: keep the bytes
        return raw

    def read(self, start: int, end: int) -> bytes:
        if self.raw is not None:
            return self.raw[start:end]
        return os.pread(self.fd, end - start, start)


class _Index:
    """The span of each case line that recorded outputs, and each output's key hash."""

    def __init__(self) -> None:
        self.starts, self.ends = array("q"), array("q")
        self.count = 0
        self.sorted_by_case = True
        self._last: str | None = None
        self._keys: list[tuple[int, int]] = []  # (hash of the key, line index)

    def add(self, case_id: str, start: int, end: int, recs: list[RecordedOutput]) -> None:
        i = len(self.starts)
        self.starts.append(start)
        self.ends.append(end)
        self.count += len(recs)
        if self._last is not None and case_id < self._last:
            self.sorted_by_case = False
        self._last = case_id
        self._keys.extend((hash(r.request_key), i) for r in recs if r.request_key)

    def keys(self) -> tuple[array[int], array[int]]:
        """(key hashes, sorted; the line index of each): built once, then the list is gone."""
        pairs, self._keys = sorted(self._keys), []
        return array("q", (h for h, _ in pairs)), array("q", (i for _, i in pairs))


class _Recorded(RecordedOutputs):
    """A baseline's recorded outputs, parsed again from their case lines when asked for.

    Parsing validated every line already; one that no longer reads the same (the file edited
    in place during the run) yields nothing, so its requests are asked of the model again."""

    def __init__(self, lines: _Lines, index: _Index) -> None:
        self._lines = lines
        self._starts, self._ends = index.starts, index.ends
        self._count = index.count
        self.sorted_by_case = index.sorted_by_case
        self._hashes, self._key_lines = index.keys()
        self._cached: tuple[int, tuple[RecordedOutput, ...]] = (-1, ())

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[RecordedOutput]:
        for i in range(len(self._starts)):
            yield from self._line(i)

    def __contains__(self, item: object) -> bool:
        return any(o == item for o in self)

    def __eq__(self, other: object) -> bool:  # as the tuple it stands for
        if not isinstance(other, _Recorded | tuple | list):
            return NotImplemented
        return tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]

    def _line(self, i: int) -> tuple[RecordedOutput, ...]:
        if self._cached[0] == i:  # a case's repeats and judges ask for the same line in turn
            return self._cached[1]
        try:
            case = json.loads(self._lines.read(self._starts[i], self._ends[i]).rstrip(b","))
            outs = tuple(_case_outputs(case, case["id"], 0))
        except (ValueError, KeyError, TypeError, OSError, _Bad):
            outs = ()
        self._cached = (i, outs)
        return outs

    def get_by_key(self, key: str) -> RecordedOutput | None:
        h = hash(key)
        i = bisect_right(self._hashes, h) - 1
        while i >= 0 and self._hashes[i] == h:  # the last recorded wins, as in a dict
            for o in reversed(self._line(self._key_lines[i])):
                if o.request_key == key:
                    return o
            i -= 1
        return None

    def by_key(self) -> Mapping[str, RecordedOutput]:
        return _ByKey(self)


class _ByKey(Mapping[str, RecordedOutput]):
    """Recorded outputs by request key, looked up in the sorted key hashes."""

    def __init__(self, recorded: _Recorded) -> None:
        self._recorded = recorded
        self._len: int | None = None

    def __getitem__(self, key: str) -> RecordedOutput:
        found = self._recorded.get_by_key(key) if isinstance(key, str) else None
        if found is None:
            raise KeyError(key)
        return found

    def get(self, key: str, default: Any = None) -> Any:
        found = self._recorded.get_by_key(key) if isinstance(key, str) else None
        return default if found is None else found

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(o.request_key for o in self._recorded if o.request_key))

    def __len__(self) -> int:
        if self._len is None:
            self._len = sum(1 for _ in self)
        return self._len

    def __bool__(self) -> bool:
        return len(self._recorded._hashes) > 0


# ----------------------------------------------------------------------------- update


@dataclass(frozen=True, slots=True, kw_only=True)
class Updated:
    suite: str
    path: str  # project-relative
    changed: bool  # False: the file already held exactly these bytes
    cases: int
    outputs: int
    run_id: str
    verdict: str = ""  # recorded in the baseline


def update_from_runs(
    project: Project,
    suites: list[str] | None,
    from_run: str | list[str] | None = None,
    *,
    accept_failing: str | None = None,
) -> list[Updated]:
    """Write the baselines of `suites` (None: every suite that has a complete run) from their
    latest complete runs, or from the run `from_run`. Refuses incomplete, sharded, filtered and
    stale runs: a baseline must describe the whole suite as it is now. A run whose gate failed
    is refused too (GateError, nothing written) unless `accept_failing` gives the reason, which
    the baseline records (issue 14 §5)."""
    from promptctl.evals import runs
    from promptctl.evals import suites as suite_files

    files = suite_files.suite_files(project)
    chosen: list[Path] = []
    if from_run is not None:
        for ref in [from_run] if isinstance(from_run, str) else from_run:
            path = runs.find_run(project, ref)
            suite = runs.read_header(path).suite
            if suites and suite not in suites:
                raise UsageError(
                    f"run {path.name} is of suite {suite!r}, not {', '.join(suites)}",
                    hint=f"promptctl baseline update {suite} --from-run {path.name}",
                )
            chosen.append(path)
    else:
        explicit = suites is not None
        for name in suites if suites is not None else list(files):
            if name not in files:
                from promptctl.project.checks import did_you_mean

                hint = did_you_mean(name, list(files))
                raise UsageError(
                    f"unknown suite {name!r}",
                    hint=(hint + " " if hint else "")
                    + "suites: "
                    + (", ".join(files) or "none under evals/"),
                )
            path = runs.latest_run(project, name, complete=True)
            if path is None:
                if explicit:
                    raise UsageError(
                        f"suite {name!r} has no complete run to record",
                        hint=f"run `promptctl eval {name}` first",
                    )
                continue
            chosen.append(path)
        if not chosen:
            raise UsageError(
                "no suite has a complete run to record", hint="run `promptctl eval` first"
            )
    if accept_failing is not None and not accept_failing.strip():
        raise UsageError(
            "--accept-failing needs --reason TEXT",
            hint="the reason is recorded in the baseline, whose history is the audit trail",
        )
    # every run is checked before any file is written: a refusal leaves all of them untouched
    prepared = [_prepare(project, path, files, accept_failing) for path in chosen]
    out = []
    for new in prepared:
        written, changed = write(project, new)
        out.append(
            Updated(
                suite=new.suite,
                path=project.rel(written),
                changed=changed,
                cases=len(new.case_hashes),
                outputs=len(new.outputs),
                run_id=new.run_id or "",
                verdict=new.verdict or "",
            )
        )
    return out


def run_verdict(project: Project, run: RunData, summary: Summary | None) -> Any:
    """(verdict, failures) of a complete run: as its `eval` gated it (summary.json), else gated
    now against the working tree's baseline (a run made with the gate off, a merged run)."""
    from promptctl.gate import verdict as gate

    recorded = summary.gate if summary is not None else None
    if isinstance(recorded, dict) and isinstance(recorded.get("verdict"), str):
        failures = [str(f) for f in recorded.get("failures") or []]
        for sg in recorded.get("scorers") or []:
            if isinstance(sg, dict) and sg.get("verdict") not in PASSING:
                failures.append(f"{sg.get('scorer')}: {sg.get('verdict')}")
        return recorded["verdict"], tuple(failures)
    result = gate.evaluate(run, read(project, run.suite))
    failures = list(result.failures) + [
        f"{sg.scorer_id}: {sg.verdict.value}"
        for sg in result.scorers
        if sg.verdict.value not in PASSING
    ]
    return result.verdict.value, tuple(failures)


def _prepare(
    project: Project, path: Path, files: Mapping[str, Path], accept_failing: str | None
) -> Baseline:
    from promptctl.evals import runs
    from promptctl.evals import suites as suite_files
    from promptctl.evals.results import load_run
    from promptctl.prompts import loader

    header = runs.read_header(path)
    run = load_run(path)
    if not run.complete:
        raise UsageError(
            f"run {run.run_id} is not complete",
            hint=f"finish it with `promptctl eval --resume {run.run_id}`",
        )
    if run.shard:
        raise UsageError(
            f"run {run.run_id} is shard {run.shard} of the suite",
            hint="merge the shards first: `promptctl merge RUN...`",
        )
    if header.filter:
        raise UsageError(
            f"run {run.run_id} ran only the cases matching --filter {header.filter!r}",
            hint=f"run the whole suite: `promptctl eval {run.suite}`",
        )
    record = True
    if run.suite in files:
        suite = suite_files.load_suite(project, files[run.suite])
        record = suite.record_outputs
        current = loader.resolve(suite.prompt_ref, project).version
        if current != run.prompt_version:
            raise UsageError(
                f"prompt {run.prompt} changed since run {run.run_id} "
                f"({run.prompt_version} -> {current})",
                hint=f"run `promptctl eval {run.suite}`, then update the baseline",
            )
    verdict, failures = run_verdict(project, run, runs.read_summary(path))
    if verdict in ("regressed", "failed") and accept_failing is None:
        from promptctl.errors import GateError

        raise GateError(
            f"run {run.run_id} of suite {run.suite!r} failed its gate ({verdict}"
            + (f": {'; '.join(failures)}" if failures else "")
            + "); a failing run is no baseline, and nothing was written",
            hint=f"fix the regression and `promptctl eval {run.suite}` again, or record it "
            f"anyway: promptctl baseline update {run.suite} --accept-failing --reason TEXT",
        )
    return from_run(
        run,
        record_outputs=record,
        verdict=verdict,
        failures=failures,
        accepted_failing=accept_failing if verdict not in PASSING else None,
    )
