"""What changed between two revisions, for `promptctl diff`: prompts (versions, text, model,
params, schemas), the suites they affect, gates loosened, security-relevant config, eval deltas.

Files at each revision are parsed by their owners (history/snapshot.py for suites and datasets,
gate/baseline.py for baselines): a suite that does not parse at a revision is reported in
`problems`, and never compared by a guess.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from promptctl.errors import UsageError
from promptctl.gate import baseline, floors
from promptctl.history import gitrepo
from promptctl.history.snapshot import Snapshot, SuiteAt, snapshot, suites_at
from promptctl.project import config, yamlio
from promptctl.project.checks import Checker
from promptctl.project.config import CONFIG_FILE, Config, Project, read_config
from promptctl.prompts import loader
from promptctl.prompts.prompt import Prompt

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
    problems: tuple[Flag, ...] = ()  # suites (or datasets) that do not parse at a revision

    @property
    def empty(self) -> bool:
        return not (
            self.prompts
            or self.suites_changed
            or self.loosened
            or self.security
            or self.partials
            or self.problems
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


def _project_at(project: Project, config: Config | None) -> Project:
    """The project as configured at a revision (its promptctl.yaml), when that one loads."""
    return Project(root=project.root, config=config) if config is not None else project


def _prompts_at(snap: Snapshot, project: Project, config: Config | None) -> dict[str, Prompt | str]:
    """name -> Prompt, or the error text when the file does not load at that revision."""
    at = _project_at(project, config)
    out: dict[str, Prompt | str] = {}
    for path in snap.files(project.prompts_dir):
        if path.suffix not in (".yaml", ".yml") or project.partials_dir in path.parents:
            continue
        name = path.relative_to(project.prompts_dir).with_suffix("").as_posix()
        shown = project.rel(path) + ("" if snap.rev is None else f"@{snap.rev}")
        try:
            out[name] = loader.load_prompt_text(
                yamlio.decode(snap.read(path) or b"", shown),
                name,
                shown,
                at,
                source=loader.Source(at, snap.sha if snap.rev is not None else None),
            )
        except UsageError as e:
            out[name] = str(e)
    return out


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
    a: Mapping[str, SuiteAt], b: Mapping[str, SuiteAt], baselines_changed: Mapping[str, str]
) -> list[Flag]:
    """Every way revision b makes a suite's gate easier to pass than revision a did. A suite
    that does not parse at a is not compared (see `problems`); one that stops parsing at b
    gates nothing until fixed: flagged."""
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
        if old.suite is None:
            continue
        if new.suite is None:
            flags.append(
                Flag(
                    kind="suite-invalid",
                    subject=name,
                    detail="the suite no longer loads: nothing gates its prompt until it does",
                )
            )
            continue
        g0, g1 = old.suite.gate, new.suite.gate
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


def verdict_setting_flags(a: Config | None, b: Config | None) -> list[Flag]:
    """A change to any setting a trusted config ref takes from the base (paths.*, providers,
    prices, defaults): it could loosen the gate, so the reviewer sees it (issue 19)."""
    if a is None or b is None:
        return []
    flags = []
    old, new = config.verdict_settings(a), config.verdict_settings(b)
    for key in config.changed_settings(a, b):
        if key.startswith("providers."):  # header values may be secrets: security_flags details
            detail = "added" if key not in old else "removed" if key not in new else "changed"
        else:
            detail = f"{old.get(key, '(none)')} -> {new.get(key, '(none)')}"
        flags.append(Flag(kind="verdict-setting", subject=key, detail=detail))
    return flags


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


def baseline_rates(
    project: Project, snap: Snapshot, suite: str
) -> tuple[str | None, dict[str, float]]:
    """(prompt version, scorer -> pass rate) of the suite's baseline at `snap`, read by the one
    baseline parser; none when there is no baseline there or it does not parse (lint and eval
    report a broken baseline; a review shows no delta rather than a guessed one)."""
    path = baseline.path_for(project, suite)
    data = snap.read(path)
    if data is None:
        return None, {}
    try:
        found = baseline.parse(data, snap.label(project.rel(path)), suite)
    except UsageError:
        return None, {}
    return found.prompt_version, floors.pass_rates(found.outcomes)


def eval_deltas(
    project: Project,
    sa: Snapshot,
    sb: Snapshot,
    changes: list[PromptChange],
    suites_a: Mapping[str, SuiteAt],
    suites_b: Mapping[str, SuiteAt],
) -> list[EvalDelta]:
    """Per suite and scorer of each changed prompt, pass rates where both versions have evidence:
    the suite's baseline at each revision, else a local run of that version."""
    out: list[EvalDelta] = []
    for change in changes:
        if change.old_version is None or change.new_version is None:
            continue
        for suite in change.suites:
            va, ra = baseline_rates(project, sa, suite)
            vb, rb = baseline_rates(project, sb, suite)
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
    suites_a = suites_at(sa, _project_at(project, config_a))
    suites_b = suites_at(sb, _project_at(project, config_b))
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
    problems = [
        Flag(
            kind="suite-invalid",
            subject=name,
            detail=f"does not load at {snap.shown}: {at.error}",
        )
        for snap, suites in ((sa, suites_a), (sb, suites_b))
        for name, at in sorted(suites.items())
        if at.error is not None
    ]
    return DiffResult(
        rev_a=sa.shown,
        rev_b=sb.shown,
        prompts=tuple(changes),
        suites_changed=suites_changed,
        loosened=tuple(
            gate_flags(suites_a, suites_b, baselines) + verdict_setting_flags(config_a, config_b)
        ),
        security=tuple(security_flags(raw_a, raw_b)),
        deltas=tuple(eval_deltas(project, sa, sb, changes, suites_a, suites_b)),
        partials=tuple(partial_changes(project, sa, sb, [prompts_a, prompts_b])),
        problems=tuple(problems),
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
