"""Golden sets, streamed: JSONL and CSV row by row (flat memory), YAML as one list -> Case."""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from promptctl.errors import Location, UsageError
from promptctl.model import Case, ScorerSpec, Suite, content_hash
from promptctl.project import paths, yamlio
from promptctl.project.checks import did_you_mean
from promptctl.project.config import Project

CASE_KEYS = ("id", "vars", "expected", "tags", "critical", "assert")
_CSV_RESERVED = ("id", "expected", "tags", "critical", "assert")
_TRUE = ("1", "true", "yes", "y", "on")
_FALSE = ("", "0", "false", "no", "n", "off")


def case_id_for(variables: Mapping[str, Any]) -> str:
    """The id of a case written without one: a hash of its vars (stable across edits elsewhere)."""
    return content_hash(dict(variables))


def case_from_mapping(item: Any, where: Location) -> Case:
    """One case from a JSON/YAML mapping; a malformed row is a UsageError at `where`."""
    if not isinstance(item, dict):
        raise UsageError(
            "a case must be a mapping with `vars` (and optionally id, expected, tags, critical, "
            "assert)",
            where=where,
        )
    for key in item:
        if key not in CASE_KEYS:
            hint = did_you_mean(str(key), CASE_KEYS) or f"allowed keys: {', '.join(CASE_KEYS)}"
            raise UsageError(f"unknown key {key!r} in case", where=where, hint=hint)
    variables = item.get("vars", {})
    if variables is None:
        variables = {}
    if not isinstance(variables, dict) or any(not isinstance(k, str) for k in variables):
        raise UsageError("case `vars` must be a mapping of names to values", where=where)
    variables = yamlio.plain(variables)
    raw_id = item.get("id")
    if raw_id is None:
        case_id = case_id_for(variables)
    elif isinstance(raw_id, str | int) and not isinstance(raw_id, bool) and str(raw_id).strip():
        case_id = str(raw_id)
    else:
        raise UsageError(f"case id must be a non-empty string, not {raw_id!r}", where=where)
    tags = item.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or any(not isinstance(t, str) for t in tags):
        raise UsageError("case `tags` must be a list of strings", where=where)
    critical = item.get("critical", False)
    if not isinstance(critical, bool):
        raise UsageError(f"case `critical` must be true or false, not {critical!r}", where=where)
    asserts: tuple[ScorerSpec, ...] = ()
    if item.get("assert") is not None:
        from promptctl.evals.scorer_config import row_scorers

        asserts = row_scorers(item["assert"], where)
    return Case(
        id=case_id,
        vars=variables,
        expected=yamlio.plain(item.get("expected")),
        tags=tuple(tags),
        critical=critical,
        source=where,
        asserts=asserts,
    )


def iter_file(path: Path, shown: str) -> Iterator[Case]:
    """Cases from a dataset file, in file order. Bad rows raise UsageError with file:line."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with _open(path, shown) as fh:
            yield from _jsonl(fh, shown)
    elif suffix == ".csv":
        with _open(path, shown, newline="") as fh:
            yield from _csv(fh, shown)
    else:
        # YAML cannot be streamed with locations kept; YAML golden sets are hand-written and small.
        yield from _yaml(yamlio.load_file(path, shown), shown)


def iter_bytes(data: bytes, suffix: str, shown: str) -> Iterator[Case]:
    """The same parser over a dataset's bytes (e.g. as committed at a git revision): the cases
    `iter_file` would give for a file with these bytes and this suffix."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UsageError(
            f"dataset is not UTF-8 ({e.reason})", where=Location(shown), hint="save it as UTF-8"
        ) from None
    suffix = suffix.lower()
    if suffix == ".jsonl":
        yield from _jsonl(io.StringIO(text, newline=None), shown)
    elif suffix == ".csv":
        yield from _csv(io.StringIO(text, newline=""), shown)
    else:
        yield from _yaml(yamlio.loads(text, shown), shown)


# One JSONL case past this is an attack or an accident (issue 9): read no more of it. A prompt
# renders at most 2,000,000 characters (rendering.MAX_OUTPUT_CHARS).
MAX_LINE_CHARS = 8_000_000


def _jsonl(fh: TextIO, shown: str) -> Iterator[Case]:
    lineno = 0
    while raw := fh.readline(MAX_LINE_CHARS + 1):
        lineno += 1
        if len(raw) > MAX_LINE_CHARS:
            raise UsageError(
                f"line longer than {MAX_LINE_CHARS:,} characters",
                where=Location(shown, lineno, 1),
                hint="one case per line; keep large documents out of datasets",
            )
        line = raw.strip()
        if not line or line.startswith("//"):
            continue
        try:
            item = json.loads(line)
        except (ValueError, RecursionError) as e:  # RecursionError: '[' * 100000
            col = getattr(e, "colno", None)
            msg = getattr(e, "msg", "nested too deeply")
            raise UsageError(
                f"not valid JSON: {msg}",
                where=Location(shown, lineno, col),
                hint="one JSON object per line",
            ) from None
        if "\\u" in line and _lone_surrogate(item):
            raise UsageError(
                "a lone UTF-16 surrogate escape (\\ud800-\\udfff)",
                where=Location(shown, lineno, 1),
                hint="write the character itself, or a valid pair",
            )
        yield case_from_mapping(item, Location(shown, lineno, 1))


def _lone_surrogate(item: Any) -> bool:
    """json.loads turns "\\ud800" into a str that cannot be written as UTF-8 (hash, results)."""
    try:
        json.dumps(item, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _csv(fh: TextIO, shown: str) -> Iterator[Case]:
    reader = csv.reader(fh)
    try:
        header = next(reader, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes or "" in header:
            raise UsageError(
                f"CSV header has {'duplicate' if dupes else 'empty'} column "
                f"names{': ' + ', '.join(dupes) if dupes else ''}",
                where=Location(shown, 1, 1),
            )
        for row in reader:
            lineno = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise UsageError(
                    f"row has {len(row)} fields, the header {len(header)}",
                    where=Location(shown, lineno, 1),
                    hint="quote fields that contain commas",
                )
            yield _csv_case(dict(zip(header, row, strict=True)), Location(shown, lineno, 1))
    except csv.Error as e:
        # e.g. "field larger than field limit (131072)": a clean error, not a traceback.
        raise UsageError(
            f"CSV error: {e}",
            where=Location(shown, reader.line_num or 1),
            hint=f"check quoting; fields are limited to {csv.field_size_limit():,} characters",
        ) from None


def _csv_case(row: dict[str, str], where: Location) -> Case:
    item: dict[str, Any] = {"vars": {k: v for k, v in row.items() if k not in _CSV_RESERVED}}
    if row.get("id", "").strip():
        item["id"] = row["id"].strip()
    if "expected" in row:
        item["expected"] = row["expected"]
    if row.get("tags", "").strip():
        item["tags"] = [t.strip() for t in row["tags"].replace(";", ",").split(",") if t.strip()]
    if row.get("assert", "").strip():
        try:
            item["assert"] = json.loads(row["assert"])
        except ValueError:
            raise UsageError(
                "the `assert` column must hold a JSON list of scorers", where=where
            ) from None
    flag = row.get("critical", "").strip().lower()
    if flag not in _TRUE + _FALSE:
        raise UsageError(f"critical must be true or false, not {flag!r}", where=where)
    item["critical"] = flag in _TRUE
    return case_from_mapping(item, where)


def _yaml(data: Any, shown: str) -> Iterator[Case]:
    if data is None:
        return
    if isinstance(data, yamlio.YamlMap) and "cases" in data:
        data = data["cases"]
    if not isinstance(data, yamlio.YamlList):
        raise UsageError(
            "a YAML dataset must be a list of cases (or a mapping with `cases:`)",
            where=getattr(data, "loc", None) or Location(shown, 1, 1),
        )
    for i, item in enumerate(data):
        yield case_from_mapping(item, data.item_loc(i) or Location(shown))


def _open(path: Path, shown: str, newline: str | None = None) -> Any:
    try:
        return path.open(encoding="utf-8-sig", newline=newline)
    except FileNotFoundError:
        raise UsageError("dataset not found", where=Location(shown)) from None
    except OSError as e:
        raise UsageError(f"cannot read dataset: {e.strerror}", where=Location(shown)) from None


def iter_cases(project: Project, suite: Suite) -> Iterator[Case]:
    """Every case of a suite, streamed; a dataset that is not UTF-8 is a UsageError."""
    if suite.dataset is None:
        yield from suite.cases
        return
    path = Path(suite.dataset)
    shown = project.rel(path)
    if path.exists():  # a missing one is reported by the reader, with its own message
        paths.readable(project.root, path)  # inside, a regular file (not /dev/zero), capped
    try:
        yield from iter_file(path, shown)
    except UnicodeDecodeError as e:
        raise UsageError(
            f"dataset is not UTF-8 ({e.reason})",
            where=Location(shown),
            hint="save the file as UTF-8",
        ) from None


# ----------------------------------------------------------------------------- selection


class Selector:
    """`--filter` and `--shard`: which cases of a suite run. Terms are OR-ed.

    `id:GLOB` matches case ids, `tag:GLOB` matches any tag, a bare GLOB matches ids.
    """

    def __init__(self, expr: str | None = None, shard: tuple[int, int] | None = None) -> None:
        self.terms: list[tuple[str, str]] = []
        for term in (expr or "").split(","):
            term = term.strip()
            if not term:
                continue
            kind, sep, pattern = term.partition(":")
            if sep and kind in ("id", "tag"):
                self.terms.append((kind, pattern))
            elif sep:
                raise UsageError(f"--filter term {term!r}: use id:GLOB, tag:GLOB or a bare GLOB")
            else:
                self.terms.append(("id", term))
        self.shard = shard

    def __call__(self, case: Case) -> bool:
        if self.terms and not any(self._match(kind, pattern, case) for kind, pattern in self.terms):
            return False
        return self.shard is None or shard_of(case.id, self.shard[1]) == self.shard[0] - 1

    @staticmethod
    def _match(kind: str, pattern: str, case: Case) -> bool:
        if kind == "id":
            return fnmatch.fnmatchcase(case.id, pattern)
        return any(fnmatch.fnmatchcase(t, pattern) for t in case.tags)


def shard_of(case_id: str, count: int) -> int:
    """0-based shard of a case: a hash of its id, so shards are stable as the dataset grows."""
    digest = hashlib.sha256(case_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """`I/N` (1-based I) -> (I, N); anything else is a UsageError (exit 2)."""
    if text is None:
        return None
    index, sep, total = text.partition("/")
    if not sep or not index.strip().isdigit() or not total.strip().isdigit():
        raise UsageError(f"--shard {text!r} is not I/N", hint="e.g. --shard 1/4 (I from 1 to N)")
    i, n = int(index), int(total)
    if n < 1 or not 1 <= i <= n:
        raise UsageError(
            f"--shard {text!r}: I must be between 1 and N (N >= 1)",
            hint="e.g. --shard 1/4 ... --shard 4/4",
        )
    return i, n
