"""What changed between two revisions, for `promptctl diff`: prompts (versions, text, model,
params, schemas), the suites they affect, gates loosened, security-relevant config, eval deltas.

Files at an old revision are read raw and leniently: an old suite that would not validate today
must not stop a review, so suites are read as plain YAML here rather than through suites.py.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from promptctl.errors import UsageError
from promptctl.history import gitrepo
from promptctl.model import Gate, Prompt, content_hash
from promptctl.project import yamlio
from promptctl.project.checks import Checker
from promptctl.project.config import CONFIG_FILE, Config, Project, read_config
from promptctl.prompts import loader

# ----------------------------------------------------------------------------- snapshots


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A project's files at a git revision, or in the working tree (`rev` None)."""

    root: Path
    rev: str | None
    sha: str | None = None

    @property
    def shown(self) -> str:
        return "working tree" if self.rev is None else f"{self.rev} ({(self.sha or '')[:7]})"

    def read(self, path: Path) -> bytes | None:
        if self.rev is None:
            try:
                return path.read_bytes()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return None
        return gitrepo.read_file(self.root, self.sha or self.rev, path)

    def files(self, under: Path) -> list[Path]:
        if self.rev is None:
            return sorted(p for p in under.rglob("*") if p.is_file()) if under.is_dir() else []
        top = gitrepo.toplevel(self.root)
        return [top / p for p in gitrepo.list_files(self.root, self.sha or self.rev, under)]

    def text(self, path: Path) -> str | None:
        data = self.read(path)
        return None if data is None else data.decode("utf-8", errors="replace")


def snapshot(project: Project, rev: str | None) -> Snapshot:
    if rev is None:
        return Snapshot(project.root, None)
    return Snapshot(project.root, rev, gitrepo.resolve_commit(project.root, rev))


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamChange:
    kind: str  # added | removed | changed | renamed
    key: str
    old: Any = None
    new: Any = None
    new_key: str | None = None  # for renamed


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptChange:
    name: str
    status: str  # added | removed | modified | invalid
    old_version: str | None
    new_version: str | None
    text_diff: str = ""
    model: tuple[str, str] | None = None
    params: tuple[ParamChange, ...] = ()
    input: tuple[str, ...] = ()
    output: tuple[str, ...] = ()
    suites: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Flag:
    """A change that loosens a gate, or touches where a secret is sent."""

    kind: str  # floor-lowered, max-drop-raised, ..., provider-base-url, provider-api-key-env
    subject: str  # the suite, or the provider
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalDelta:
    suite: str
    scorer: str
    old_version: str
    new_version: str
    old_rate: float
    new_rate: float
    old_source: str
    new_source: str

    @property
    def delta(self) -> float:
        return self.new_rate - self.old_rate


@dataclass(frozen=True, slots=True, kw_only=True)
class PartialChange:
    """A partial is not part of any version (SPEC): its edits must still reach the reviewer."""

    name: str  # relative to prompts/partials/
    status: str  # added | removed | modified
    text_diff: str
    prompts: tuple[str, ...]  # prompts that include it (transitively)


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffResult:
    rev_a: str
    rev_b: str
    prompts: tuple[PromptChange, ...] = ()
    suites_changed: tuple[str, ...] = ()
    loosened: tuple[Flag, ...] = ()
    security: tuple[Flag, ...] = ()
    deltas: tuple[EvalDelta, ...] = ()
    partials: tuple[PartialChange, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.prompts or self.suites_changed or self.loosened or self.security or self.partials
        )

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["loosened_gate"] = bool(self.loosened)
        for d, raw in zip(self.deltas, out["deltas"], strict=True):
            raw["delta"] = round(d.delta, 6)
        return out


# ----------------------------------------------------------------------------- reading


def _config_at(snap: Snapshot, project: Project) -> tuple[Config | None, Any]:
    text = snap.text(project.root / CONFIG_FILE)
    if text is None:
        return Config(), None
    try:
        raw = yamlio.loads(text, CONFIG_FILE)
        checker = Checker(CONFIG_FILE)
        return read_config(project.root, checker, text=text), raw
    except UsageError:
        return None, None


def _prompts_at(snap: Snapshot, project: Project, config: Config | None) -> dict[str, Prompt | str]:
    """name -> Prompt, or the error text when the file does not load at that revision."""
    at = Project(root=project.root, config=config) if config is not None else project
    out: dict[str, Prompt | str] = {}
    for path in snap.files(project.prompts_dir):
        if path.suffix not in (".yaml", ".yml") or project.partials_dir in path.parents:
            continue
        name = path.relative_to(project.prompts_dir).with_suffix("").as_posix()
        shown = project.rel(path) + ("" if snap.rev is None else f"@{snap.rev}")
        try:
            out[name] = loader.load_prompt_text(
                yamlio.decode(snap.read(path) or b"", shown), name, shown, at
            )
        except UsageError as e:
            out[name] = str(e)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class RawSuite:
    name: str
    prompt: str | None
    gate: Gate
    gate_raw: Mapping[str, Any]
    scorers: tuple[str, ...]
    cases: Mapping[str, bool]  # case id -> critical
    text: str


def suites_at(snap: Snapshot, project: Project) -> dict[str, RawSuite]:
    out: dict[str, RawSuite] = {}
    skip = (project.evals_dir / "data", project.baselines_dir)
    for path in snap.files(project.evals_dir):
        if path.suffix not in (".yaml", ".yml") or path.parent != project.evals_dir:
            continue
        if path.parent in skip:
            continue
        text = snap.text(path) or ""
        try:
            data = yamlio.plain(yamlio.loads(text, project.rel(path)))
        except UsageError:
            data = None
        if not isinstance(data, dict):
            out[path.stem] = RawSuite(
                name=path.stem,
                prompt=None,
                gate=Gate(),
                gate_raw={},
                scorers=(),
                cases={},
                text=text,
            )
            continue
        prompt = data.get("prompt")
        gate_raw = data.get("gate") if isinstance(data.get("gate"), dict) else {}
        scorers = data.get("scorers") if isinstance(data.get("scorers"), list) else []
        out[path.stem] = RawSuite(
            name=path.stem,
            prompt=loader.split_ref(prompt)[0] if isinstance(prompt, str) and prompt else None,
            gate=_gate(gate_raw),
            gate_raw=gate_raw,
            scorers=tuple(
                str(s.get("id") or s.get("type")) for s in scorers if isinstance(s, dict)
            ),
            cases=_cases(snap, path, data),
            text=text,
        )
    return out


def _gate(raw: Mapping[str, Any]) -> Gate:
    def num(key: str, default: float | None) -> float | None:
        value = raw.get(key, default)
        return (
            float(value)
            if isinstance(value, int | float) and not isinstance(value, bool)
            else default
        )

    return Gate(
        min_pass_rate=num("min_pass_rate", None),
        max_drop=num("max_drop", 0.05) or 0.0,
        alpha=num("alpha", 0.05) or 0.0,
        max_cost_usd=num("max_cost_usd", None),
        on_inconclusive=str(raw.get("on_inconclusive", "warn")),
    )


def _cases(snap: Snapshot, suite_path: Path, data: Mapping[str, Any]) -> dict[str, bool]:
    rows: list[Any] = []
    if isinstance(data.get("cases"), list):
        rows = data["cases"]
    elif isinstance(data.get("dataset"), str):
        path = (suite_path.parent / data["dataset"]).resolve()
        text = snap.text(path)
        if text is not None:
            rows = _rows(path.suffix, text)
    out: dict[str, bool] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        case_id = row.get("id")
        if case_id is None:  # SPEC: a case without an id gets a hash of its vars
            case_id = content_hash(row.get("vars", {}))
        critical = row.get("critical") in (True, "true", "True", "1", 1)
        out[str(case_id)] = critical
    return out


def _rows(suffix: str, text: str) -> list[Any]:
    if suffix == ".jsonl":
        rows = []
        for line in text.splitlines():
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return rows
    if suffix == ".csv":
        return list(csv.DictReader(io.StringIO(text)))
    try:
        data = yamlio.plain(yamlio.loads(text, "dataset"))
    except UsageError:
        return []
    if isinstance(data, dict) and isinstance(data.get("cases"), list):
        return data["cases"]
    return data if isinstance(data, list) else []


# ----------------------------------------------------------------------------- comparing


def messages_text(prompt: Prompt) -> list[str]:
    """The text a reviewer reads: the template, or each message under a role header."""
    if prompt.uses_template and len(prompt.messages) == 1:
        return prompt.messages[0].content.splitlines(keepends=True)
    lines: list[str] = []
    for m in prompt.messages:
        lines.append(f"[{m.role}]\n")
        lines.extend(
            line if line.endswith("\n") else line + "\n"
            for line in m.content.splitlines(keepends=True)
        )
    return lines


def text_diff(old: Prompt | None, new: Prompt | None, name: str, a: str, b: str) -> str:
    old_lines = messages_text(old) if old else []
    new_lines = messages_text(new) if new else []
    for lines in (old_lines, new_lines):
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
    return "".join(difflib.unified_diff(old_lines, new_lines, f"{name} ({a})", f"{name} ({b})"))


def param_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[ParamChange, ...]:
    removed = [k for k in old if k not in new]
    added = [k for k in new if k not in old]
    out: list[ParamChange] = []
    for key in removed:
        # A removed and an added key with the same value is a rename (max_tokens ->
        # max_completion_tokens): one line for the reviewer, not two.
        match = next((a for a in added if new[a] == old[key]), None)
        if match is not None:
            added.remove(match)
            out.append(
                ParamChange(kind="renamed", key=key, new_key=match, old=old[key], new=new[match])
            )
        else:
            out.append(ParamChange(kind="removed", key=key, old=old[key]))
    out += [ParamChange(kind="added", key=k, new=new[k]) for k in added]
    out += [
        ParamChange(kind="changed", key=k, old=old[k], new=new[k])
        for k in old
        if k in new and old[k] != new[k]
    ]
    return tuple(sorted(out, key=lambda c: c.key))


def _schema_changes(old: Prompt, new: Prompt) -> tuple[tuple[str, ...], tuple[str, ...]]:
    inputs: list[str] = []
    for key in sorted(set(old.input) | set(new.input)):
        if key not in old.input:
            inputs.append(f"variable {key!r} added: {_short(new.input[key])}")
        elif key not in new.input:
            inputs.append(f"variable {key!r} removed")
        elif old.input[key] != new.input[key]:
            inputs.append(f"variable {key!r}: {_short(old.input[key])} -> {_short(new.input[key])}")
    outputs: list[str] = []
    if old.output.format != new.output.format:
        outputs.append(f"format: {old.output.format} -> {new.output.format}")
    if old.output.schema != new.output.schema:
        outputs.append(f"schema: {_short(old.output.schema)} -> {_short(new.output.schema)}")
    return tuple(inputs), tuple(outputs)


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(yamlio.plain(value), sort_keys=True, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def compare_prompts(
    a: Mapping[str, Prompt | str],
    b: Mapping[str, Prompt | str],
    suites_of: Mapping[str, set[str]],
    shown_a: str,
    shown_b: str,
) -> list[PromptChange]:
    out: list[PromptChange] = []
    for name in sorted(set(a) | set(b)):
        old, new = a.get(name), b.get(name)
        suites = tuple(sorted(suites_of.get(name, set())))
        if isinstance(old, str) or isinstance(new, str):
            if old == new:
                continue
            out.append(
                PromptChange(
                    name=name,
                    status="invalid",
                    old_version=old.version if isinstance(old, Prompt) else None,
                    new_version=new.version if isinstance(new, Prompt) else None,
                    suites=suites,
                    error=new if isinstance(new, str) else old,
                )
            )
            continue
        if old is not None and new is not None and old.version == new.version:
            continue
        model = None
        params: tuple[ParamChange, ...] = ()
        inputs: tuple[str, ...] = ()
        outputs: tuple[str, ...] = ()
        if old is not None and new is not None:
            model = (old.model, new.model) if old.model != new.model else None
            params = param_changes(old.params, new.params)
            inputs, outputs = _schema_changes(old, new)
        out.append(
            PromptChange(
                name=name,
                status="added" if old is None else "removed" if new is None else "modified",
                old_version=old.version if old else None,
                new_version=new.version if new else None,
                text_diff=text_diff(old, new, name, shown_a, shown_b),
                model=model,
                params=params,
                input=inputs,
                output=outputs,
                suites=suites,
            )
        )
    return out


def gate_flags(
    a: Mapping[str, RawSuite], b: Mapping[str, RawSuite], baselines_changed: Mapping[str, str]
) -> list[Flag]:
    """Every way revision b makes a suite's gate easier to pass than revision a did."""
    flags: list[Flag] = []
    for name in sorted(a):
        old, new = a[name], b.get(name)
        if new is None:
            flags.append(
                Flag(
                    kind="suite-removed",
                    subject=name,
                    detail="the suite was deleted: nothing gates its prompt now",
                )
            )
            continue
        g0, g1 = old.gate, new.gate
        if g0.min_pass_rate is not None and (g1.min_pass_rate or 0.0) < g0.min_pass_rate:
            flags.append(
                Flag(
                    kind="floor-lowered",
                    subject=name,
                    detail=f"min_pass_rate {g0.min_pass_rate:g} -> "
                    f"{'none' if g1.min_pass_rate is None else f'{g1.min_pass_rate:g}'}",
                )
            )
        if g1.max_drop > g0.max_drop:
            flags.append(
                Flag(
                    kind="max-drop-raised",
                    subject=name,
                    detail=f"max_drop {g0.max_drop:g} -> {g1.max_drop:g}",
                )
            )
        if g1.alpha > g0.alpha:
            flags.append(
                Flag(
                    kind="alpha-raised", subject=name, detail=f"alpha {g0.alpha:g} -> {g1.alpha:g}"
                )
            )
        if g0.max_cost_usd is not None and (
            g1.max_cost_usd is None or g1.max_cost_usd > g0.max_cost_usd
        ):
            flags.append(
                Flag(
                    kind="budget-raised",
                    subject=name,
                    detail=f"max_cost_usd {g0.max_cost_usd:g} -> "
                    f"{'none' if g1.max_cost_usd is None else f'{g1.max_cost_usd:g}'}",
                )
            )
        if g0.on_inconclusive == "fail" and g1.on_inconclusive != "fail":
            flags.append(
                Flag(
                    kind="inconclusive-allowed",
                    subject=name,
                    detail=f"on_inconclusive fail -> {g1.on_inconclusive}",
                )
            )
        gone = [s for s in old.scorers if s not in new.scorers]
        if gone:
            flags.append(
                Flag(
                    kind="scorer-removed", subject=name, detail="scorer removed: " + ", ".join(gone)
                )
            )
        cases_gone = sorted(c for c in old.cases if c not in new.cases)
        if cases_gone:
            flags.append(
                Flag(
                    kind="cases-removed",
                    subject=name,
                    detail=f"{len(cases_gone)} case(s) removed: {_ids(cases_gone)}",
                )
            )
        crit = sorted(
            c
            for c, critical in old.cases.items()
            if critical and c in new.cases and not new.cases[c]
        )
        crit_gone = sorted(
            c for c, critical in old.cases.items() if critical and c not in new.cases
        )
        if crit or crit_gone:
            flags.append(
                Flag(
                    kind="critical-removed",
                    subject=name,
                    detail=f"no longer critical: {_ids(crit + crit_gone)}",
                )
            )
    for name, how in sorted(baselines_changed.items()):
        flags.append(Flag(kind="baseline-edited", subject=name, detail=how))
    return flags


def _ids(ids: list[str], limit: int = 8) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def security_flags(raw_a: Any, raw_b: Any) -> list[Flag]:
    """Provider endpoint and key-variable changes: where an API key is sent (issue 9)."""

    def providers(raw: Any) -> dict[str, dict[str, Any]]:
        if not isinstance(raw, dict) or not isinstance(raw.get("providers"), dict):
            return {}
        return {str(k): v for k, v in raw["providers"].items() if isinstance(v, dict)}

    pa, pb = providers(yamlio.plain(raw_a)), providers(yamlio.plain(raw_b))
    flags: list[Flag] = []
    for name in sorted(set(pa) | set(pb)):
        for key, kind in (
            ("base_url", "provider-base-url"),
            ("api_key_env", "provider-api-key-env"),
            ("headers", "provider-headers"),
        ):
            old, new = pa.get(name, {}).get(key), pb.get(name, {}).get(key)
            if old != new:
                if key == "headers":  # header values may be secrets: name the keys only
                    old = sorted(old) if isinstance(old, dict) else old
                    new = sorted(new) if isinstance(new, dict) else new
                flags.append(
                    Flag(kind=kind, subject=name, detail=f"{key}: {_short(old)} -> {_short(new)}")
                )
    return flags


# ----------------------------------------------------------------------------- eval deltas


def baseline_rates(data: bytes | None) -> tuple[str | None, dict[str, float]]:
    """(prompt version, scorer -> pass rate) from a baseline file, read leniently; the format is
    owned by baseline.py, so only the fields every baseline has are used."""
    if data is None:
        return None, {}
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, {}
    if not isinstance(raw, dict):
        return None, {}
    prompt = raw.get("prompt")
    version = raw.get("prompt_version") or (
        prompt.get("version") if isinstance(prompt, dict) else None
    )
    return (str(version) if version else None), _rates_from(raw)


def _rates_from(raw: Mapping[str, Any]) -> dict[str, float]:
    """Mean pass fraction per scorer over cases, from baseline.py's layout:
    `cases: [{"id": ..., "scores": {scorer: {"pass": fraction, ...}}}, ...]`."""
    sums: dict[str, list[float]] = {}
    cases = raw.get("cases")
    for case in cases if isinstance(cases, list) else []:
        scores = case.get("scores") if isinstance(case, dict) else None
        for scorer, entry in (scores or {}).items() if isinstance(scores, dict) else ():
            value = entry.get("pass") if isinstance(entry, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                sums.setdefault(str(scorer), []).append(float(value))
    return {k: sum(v) / len(v) for k, v in sums.items() if v}


def eval_deltas(
    project: Project,
    sa: Snapshot,
    sb: Snapshot,
    changes: list[PromptChange],
    suites_a: Mapping[str, RawSuite],
    suites_b: Mapping[str, RawSuite],
) -> list[EvalDelta]:
    """Per suite and scorer of each changed prompt, pass rates where both versions have evidence:
    the suite's baseline at each revision, else a local run of that version."""
    out: list[EvalDelta] = []
    for change in changes:
        if change.old_version is None or change.new_version is None:
            continue
        for suite in change.suites:
            path = project.baselines_dir / f"{suite}.json"
            va, ra = baseline_rates(sa.read(path))
            vb, rb = baseline_rates(sb.read(path))
            src_a, src_b = f"baseline@{sa.shown}", f"baseline@{sb.shown}"
            if va != change.old_version:
                ra, src_a = _run_rates(project, suite, change.old_version)
            if vb != change.new_version:
                rb, src_b = _run_rates(project, suite, change.new_version)
            for scorer in sorted(set(ra) & set(rb)):
                out.append(
                    EvalDelta(
                        suite=suite,
                        scorer=scorer,
                        old_version=change.old_version,
                        new_version=change.new_version,
                        old_rate=ra[scorer],
                        new_rate=rb[scorer],
                        old_source=src_a,
                        new_source=src_b,
                    )
                )
    return out


def _run_rates(project: Project, suite: str, version: str) -> tuple[dict[str, float], str]:
    from promptctl.labels import promote as promotion

    run = promotion.latest_run_of(project, suite, version)
    if run is None:
        return {}, ""
    return run.rates, f"run {run.run_id}"


# ----------------------------------------------------------------------------- entry point


def diff(project: Project, rev_a: str | None = "HEAD", rev_b: str | None = None) -> DiffResult:
    """What changed from `rev_a` to `rev_b` (None: the working tree)."""
    gitrepo.open_repo(project.root, why="`promptctl diff`")
    if rev_a is not None and gitrepo.head_commit(project.root) is None and rev_a == "HEAD":
        raise UsageError(
            "this repository has no commits yet, so there is nothing to diff against",
            hint="commit first, or name two revisions",
        )
    sa, sb = snapshot(project, rev_a), snapshot(project, rev_b)
    config_a, raw_a = _config_at(sa, project)
    config_b, raw_b = _config_at(sb, project)
    prompts_a = _prompts_at(sa, project, config_a)
    prompts_b = _prompts_at(sb, project, config_b)
    suites_a, suites_b = suites_at(sa, project), suites_at(sb, project)
    suites_of: dict[str, set[str]] = {}
    for suites in (suites_a, suites_b):
        for s in suites.values():
            if s.prompt:
                suites_of.setdefault(s.prompt, set()).add(s.name)
    changes = compare_prompts(prompts_a, prompts_b, suites_of, sa.shown, sb.shown)
    baselines: dict[str, str] = {}
    for suite in sorted(set(suites_a) | set(suites_b)):
        path = project.baselines_dir / f"{suite}.json"
        old, new = sa.read(path), sb.read(path)
        if old is not None and old != new:
            baselines[suite] = (
                f"{project.rel(path)} deleted" if new is None else f"{project.rel(path)} edited"
            )
    suites_changed = tuple(
        sorted(
            s
            for s in set(suites_a) | set(suites_b)
            if (suites_a.get(s).text if s in suites_a else None)
            != (suites_b.get(s).text if s in suites_b else None)
        )
    )
    return DiffResult(
        rev_a=sa.shown,
        rev_b=sb.shown,
        prompts=tuple(changes),
        suites_changed=suites_changed,
        loosened=tuple(gate_flags(suites_a, suites_b, baselines)),
        security=tuple(security_flags(raw_a, raw_b)),
        deltas=tuple(eval_deltas(project, sa, sb, changes, suites_a, suites_b)),
        partials=tuple(partial_changes(project, sa, sb, [prompts_a, prompts_b])),
    )


def partial_changes(
    project: Project, sa: Snapshot, sb: Snapshot, prompts: list[Mapping[str, Prompt | str]]
) -> list[PartialChange]:
    from promptctl.prompts import rendering

    def files(snap: Snapshot) -> dict[str, Path]:
        base = project.partials_dir
        return {p.relative_to(base).as_posix(): p for p in snap.files(base)}

    fa, fb = files(sa), files(sb)
    users: dict[str, set[str]] = {}
    for copies in prompts:
        for name, prompt in copies.items():
            if isinstance(prompt, Prompt):
                for m in prompt.messages:
                    for partial in rendering.included_partials(m, prompt.partials_dir):
                        users.setdefault(partial, set()).add(name)
    out = []
    for rel in sorted(set(fa) | set(fb)):
        old = sa.text(fa[rel]) if rel in fa else None
        new = sb.text(fb[rel]) if rel in fb else None
        if old == new:
            continue
        lines_a = (old or "").splitlines(keepends=True)
        lines_b = (new or "").splitlines(keepends=True)
        for lines in (lines_a, lines_b):
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
        text = "".join(
            difflib.unified_diff(lines_a, lines_b, f"{rel} ({sa.shown})", f"{rel} ({sb.shown})")
        )
        status = "added" if old is None else "removed" if new is None else "modified"
        out.append(
            PartialChange(
                name=rel, status=status, text_diff=text, prompts=tuple(sorted(users.get(rel, ())))
            )
        )
    return out


# ----------------------------------------------------------------------------- rendering


def _value(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, default=str)


def _param_line(c: ParamChange) -> str:
    if c.kind == "renamed":
        return f"{c.key} renamed to {c.new_key} ({_value(c.new)})"
    if c.kind == "added":
        return f"{c.key} added: {_value(c.new)}"
    if c.kind == "removed":
        return f"{c.key} removed (was {_value(c.old)})"
    return f"{c.key}: {_value(c.old)} -> {_value(c.new)}"


def _heading(c: PromptChange) -> str:
    if c.status == "added":
        return f"{c.name}: added at {c.new_version}"
    if c.status == "removed":
        return f"{c.name}: removed (was {c.old_version})"
    if c.status == "invalid":
        return f"{c.name}: does not load ({c.error})"
    return f"{c.name}: {c.old_version} -> {c.new_version}"


def _details(c: PromptChange) -> list[str]:
    lines = []
    if c.model:
        lines.append(f"model: {c.model[0]} -> {c.model[1]}")
    lines += [f"params: {_param_line(p)}" for p in c.params]
    lines += [f"input: {s}" for s in c.input]
    lines += [f"output: {s}" for s in c.output]
    if c.suites:
        lines.append("suites affected: " + ", ".join(c.suites))
    return lines


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def render_text(result: DiffResult) -> str:
    out = [f"promptctl diff {result.rev_a} -> {result.rev_b}"]
    if result.empty:
        out.append("no prompt, suite or config changes")
        return "\n".join(out) + "\n"
    for c in result.prompts:
        out += ["", _heading(c)] + [f"  {line}" for line in _details(c)]
        if c.text_diff:
            out += ["  " + line for line in c.text_diff.rstrip("\n").splitlines()]
    for pc in result.partials:
        used = ", ".join(pc.prompts) or "no prompt"
        out += [
            "",
            f"partial {pc.name}: {pc.status} (included by {used}; versions do not "
            "change with partials)",
        ]
        out += ["  " + line for line in pc.text_diff.rstrip("\n").splitlines()]
    if result.deltas:
        out += ["", "eval deltas:"]
        out += [
            f"  {d.suite}/{d.scorer}: {_pct(d.old_rate)} -> {_pct(d.new_rate)} "
            f"({d.delta * 100:+.1f} pts; {d.old_source} vs {d.new_source})"
            for d in result.deltas
        ]
    if result.suites_changed:
        out += ["", "suites changed: " + ", ".join(result.suites_changed)]
    if result.loosened:
        out += ["", "WARNING: gates loosened:"]
        out += [f"  {f.subject}: {f.kind}: {f.detail}" for f in result.loosened]
    if result.security:
        out += [
            "",
            "SECURITY: provider endpoints or key variables changed (review where keys are sent):",
        ]
        out += [f"  {f.subject}: {f.detail}" for f in result.security]
    return "\n".join(out) + "\n"


# What lets repository text drive a PR comment: HTML, links and images, code spans, mentions
# and issue references. `_`, `*` and `>` mid-line only change emphasis: left readable.
_MD_ACTIVE = {
    "\\": "\\\\",
    "`": "\\`",
    "[": "\\[",
    "]": "\\]",
    "<": "&lt;",
    "&": "&amp;",
    "@": "&#64;",
    "#": "&#35;",
}
_MD_ACTIVE_RE = re.compile("|".join(re.escape(c) for c in _MD_ACTIVE))


def _md(text: str) -> str:
    text = " ".join(text.splitlines())
    return _MD_ACTIVE_RE.sub(lambda m: _MD_ACTIVE[m.group(0)], text)


def _code(text: str) -> str:
    """An inline code span, or escaped text when a backtick would end the span early."""
    return f"`{text}`" if "`" not in text and "\n" not in text else _md(text)


def _fenced(text: str, lang: str) -> list[str]:
    """A code block whose fence is longer than any backtick run inside: prompt text cannot
    close it and inject markdown into the comment."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + lang, text, fence]


def render_markdown(result: DiffResult) -> str:
    """A PR comment: warnings first, a heading per changed prompt, the text diff folded. Text
    from the repository (names, case ids, values) is escaped: it must not drive the comment."""
    from promptctl.escaping import markdown_cell

    md = _md
    out = [f"## promptctl diff: {_code(result.rev_a)} -> {_code(result.rev_b)}", ""]
    if result.empty:
        out.append("No prompt, suite or config changes.")
        return "\n".join(out) + "\n"
    if result.loosened:
        out += ["> [!WARNING]", "> **Gates loosened** by this change:"]
        out += [f"> - {_code(f.subject)}: {f.kind}: {md(f.detail)}" for f in result.loosened]
        out.append("")
    if result.security:
        out += ["> [!CAUTION]", "> **Security-relevant config changes** (where API keys are sent):"]
        out += [f"> - provider {_code(f.subject)}: {md(f.detail)}" for f in result.security]
        out.append("")
    for c in result.prompts:
        if c.status == "modified":
            out.append(f"### {_code(c.name)} `{c.old_version}` -> `{c.new_version}`")
        elif c.status == "added":
            out.append(f"### {_code(c.name)} added at `{c.new_version}`")
        elif c.status == "removed":
            out.append(f"### {_code(c.name)} removed (was `{c.old_version}`)")
        else:
            out.append(f"### {_code(c.name)} does not load: {md(c.error or '')}")
        out.append("")
        out += [f"- {md(line)}" for line in _details(c)]
        if c.text_diff:
            out += ["", "<details><summary>text diff</summary>", ""]
            out += _fenced(c.text_diff.rstrip("\n"), "diff")
            out += ["", "</details>"]
        out.append("")
    for pc in result.partials:
        used = ", ".join(_code(p) for p in pc.prompts) or "no prompt"
        out += [
            f"### partial {_code(pc.name)} {pc.status}",
            "",
            f"- included by {used} (a partial is not part of any version)",
        ]
        out += ["", "<details><summary>text diff</summary>", ""]
        out += _fenced(pc.text_diff.rstrip("\n"), "diff")
        out += ["", "</details>", ""]
    if result.deltas:
        out += [
            "### Eval deltas",
            "",
            "| suite | scorer | before | after | delta |",
            "|---|---|---|---|---|",
        ]
        out += [
            f"| {markdown_cell(d.suite)} | {markdown_cell(d.scorer)} | {_pct(d.old_rate)} | "
            f"{_pct(d.new_rate)} | {d.delta * 100:+.1f} pts |"
            for d in result.deltas
        ]
        out.append("")
    if result.suites_changed:
        out += ["Suites changed: " + ", ".join(_code(s) for s in result.suites_changed), ""]
    return "\n".join(out).rstrip("\n") + "\n"
