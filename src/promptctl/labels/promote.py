"""promote and rollback: move a label in labels.yaml, only behind evidence that exactly that version
passed its gate (issue 7 §2). No terminal here: results are values, refusals are verdicts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from promptctl.errors import Location, PromptctlError, UsageError
from promptctl.history import gitrepo
from promptctl.history import revisions as history
from promptctl.labels import store as labels
from promptctl.project.config import Project
from promptctl.prompts import loader
from promptctl.prompts.prompt import Prompt

# `new` is a run with no baseline to compare against whose floors held; `inconclusive` is not
# enough to promote on (eval exits 0 on it, but promotion is the stricter door).
PASSING = ("passed", "new")


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """Why a version may (or may not) be promoted."""

    kind: str  # baseline | run | eval | forced | none
    passed: bool
    detail: str  # one sentence for the report and the commit message
    suite: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelChange:
    name: str
    label: str
    old_version: str | None
    new_version: str
    commit: str | None  # the git commit the label records
    changed: bool  # False: the label already had this version (a no-op success)
    refused: bool = False
    evidence: Evidence | None = None
    reason: str | None = None
    committed: str | None = None  # sha of the commit made with --commit

    @property
    def exit_code(self) -> int:
        return 1 if self.refused else 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    run_id: str
    suite: str
    prompt_version: str
    path: str
    rates: dict[str, float]  # scorer id -> mean pass fraction over cases


# ----------------------------------------------------------------------------- evidence


def suites_of(project: Project, name: str) -> list[str]:
    """Suites (file stems) in the working tree whose `prompt:` names this prompt."""
    from promptctl.history import snapshot

    return sorted(s.name for s in snapshot.suites_of(project, name))


def baseline_evidence(project: Project, suite: str, version: str) -> Evidence | None:
    """What the newest committed baseline of `suite` recording exactly `version` says (any commit
    in history: promoting an older version is backed by the baseline it had then). Only the
    verdict it records counts: committed files are the same in every clone, `.promptctl/` is not.
    None: no committed baseline records this version."""
    from promptctl.gate import baseline as baselines

    path = baselines.path_for(project, suite)
    rel = project.rel(path)
    if gitrepo.head_commit(project.root) is None:
        return None
    for commit in gitrepo.file_history(project.root, path, max_count=200):
        data = gitrepo.read_file(project.root, commit.sha, path)
        if data is None:
            continue
        try:
            recorded = baselines.parse(data, f"{rel}@{commit.sha[:12]}", suite)
        except UsageError:
            continue  # a damaged old copy vouches for nothing
        if recorded.prompt_version != version:
            continue
        where = f"committed baseline {rel} at {commit.sha[:12]} records version {version}"
        if recorded.verdict is None:
            return Evidence(
                kind="baseline",
                passed=False,
                suite=suite,
                detail=f"{where} but no verdict (written by an older promptctl), so it is no "
                f"evidence; re-record it: promptctl eval {suite} && promptctl baseline update "
                f"{suite}, then commit it",
            )
        if recorded.verdict != "passed":
            accepted = (
                f", accepted failing: {recorded.accepted_failing}"
                if recorded.accepted_failing
                else ""
            )
            return Evidence(
                kind="baseline",
                passed=False,
                suite=suite,
                detail=f"{where} with verdict {recorded.verdict}{accepted}; only a passing "
                "verdict is evidence",
            )
        return Evidence(
            kind="baseline", passed=True, suite=suite, detail=f"{where}, verdict passed"
        )
    return None


def gate_verdicts(project: Project, run_dirs: list[Path]) -> list[tuple[str, str]]:
    """(verdict, why) of complete runs, gated together as one `eval` gates its suites (one
    decision: the family-wise correction of issue 17), against each suite's baseline as
    committed at HEAD: an uncommitted, loosened baseline cannot vouch for a promotion."""
    from promptctl.evals.results import load_run
    from promptctl.gate import baseline as baselines
    from promptctl.gate import verdict as gate

    head = gitrepo.head_commit(project.root) if gitrepo.is_repo(project.root) else None
    raw = []
    bases = []
    for run_dir in run_dirs:
        run = load_run(run_dir)
        base = baselines.read(project, run.suite, ref=head) if head else None
        raw.append(gate.evaluate(run, base))
        bases.append(base)
    out = []
    for result, base in zip(gate.decide(raw), bases, strict=True):
        reasons = list(result.failures) + [
            f"{sg.scorer_id}: {gate.describe(sg, result.gate)}"
            for sg in result.scorers
            if sg.verdict.value not in PASSING
        ]
        why = "; ".join(reasons)
        if base is None:
            why = (why + "; " if why else "") + "no committed baseline: floors only"
        out.append((result.verdict.value, why))
    return out


def latest_run_of(project: Project, suite: str, version: str) -> RunSummary | None:
    """The newest complete local run of `suite` that evaluated prompt `version`."""
    from promptctl.evals import runs
    from promptctl.evals.results import load_run

    for path in reversed(runs.run_dirs(project)):
        try:
            header = runs.read_header(path)
        except UsageError:
            continue
        if header.suite != suite or header.prompt_version != version:
            continue
        if header.shard or not runs.is_complete(path):
            continue  # a shard or an interrupted run proves nothing about the whole suite
        from promptctl.gate.floors import pass_rates

        return RunSummary(
            run_id=path.name,
            suite=suite,
            prompt_version=version,
            path=str(path),
            rates=pass_rates(load_run(path).outcomes),
        )
    return None


def eval_suites_now(project: Project, prompt: Prompt, suites: list[str]) -> Evidence:
    """Run the prompt's suites as `eval` would, pinned to exactly this version, and gate them."""
    from promptctl.evals import runner
    from promptctl.evals import suites as suite_files

    pinned = [
        replace(s, prompt_ref=f"{prompt.name}@{prompt.version}")
        for s in suite_files.select(project, suites)
    ]
    result = runner.run_eval(project, pinned, runner.EvalOptions())
    details = []
    for s in result.suites:
        if s.status != "complete":
            return Evidence(
                kind="eval",
                passed=False,
                suite=s.suite.name,
                detail=f"suite {s.suite.name!r} did not complete ({s.status}"
                + (f": {s.error}" if s.error else "")
                + f"), run {s.run_id}",
            )
    verdicts = gate_verdicts(project, [Path(s.run_dir) for s in result.suites])
    for s, (verdict, why) in zip(result.suites, verdicts, strict=True):
        if verdict not in PASSING:
            return Evidence(
                kind="eval",
                passed=False,
                suite=s.suite.name,
                detail=f"suite {s.suite.name!r} evaluated now (run {s.run_id}): "
                f"gate {verdict}" + (f" ({why})" if why else ""),
            )
        details.append(f"{s.suite.name} {verdict} (run {s.run_id})")
    return Evidence(
        kind="eval",
        passed=True,
        detail=f"suites evaluated now at version {prompt.version}: " + ", ".join(details),
    )


# A hook that evaluates the prompt's suites now, as `eval` would, and returns the evidence;
# the CLI passes one (it may call a paid model, so the CLI says so first). Without one, a
# version with no evidence is refused with the `eval` command to run.
EvalNow = Callable[[Project, Prompt, list[str]], Evidence]


def find_evidence(project: Project, prompt: Prompt, *, eval_now: EvalNow | None = None) -> Evidence:
    """Every suite of the prompt must vouch for exactly this version: a committed baseline whose
    recorded verdict passed, else (through `eval_now`) a passing evaluation now. A recorded
    failing verdict, or one missing, refuses. Local runs are not consulted: the answer is the
    same in every clone (issue 14 §5)."""
    suites = suites_of(project, prompt.name)
    if not suites:
        return Evidence(
            kind="none",
            passed=False,
            detail=f"no suite evaluates {prompt.name!r} (none under "
            f"{project.rel(project.evals_dir)}/ names it)",
        )
    found = {s: baseline_evidence(project, s, prompt.version) for s in suites}
    refusing = [e for e in found.values() if e is not None and not e.passed]
    if refusing:
        return refusing[0]
    missing = [s for s, e in found.items() if e is None]
    passing = [e.detail for e in found.values() if e is not None]
    if missing and eval_now is None:
        return Evidence(
            kind="none",
            passed=False,
            detail=f"no committed baseline with a passing verdict records version "
            f"{prompt.version} (suites: {', '.join(missing)}); run "
            f"`promptctl eval {' '.join(missing)}`, `promptctl baseline update`, and commit",
        )
    if missing:
        assert eval_now is not None
        now = eval_now(project, prompt, missing)
        if not now.passed or not passing:
            return now
        passing.append(now.detail)
    return Evidence(
        kind="baseline" if not missing else "eval", passed=True, detail="; ".join(passing)
    )


def dependants_evidence(
    project: Project, prompt: Prompt, label: str, *, eval_now: EvalNow | None = None
) -> Evidence | None:
    """The prompts whose `uses:` pin `NAME@label` (and those downstream of them) change when the
    label moves: each one's suites must pass with the candidate it would then serve. None: no
    prompt pins it."""
    from promptctl.prompts import graph as graphs

    names = graphs.pinned_dependants(graphs.build(project), prompt.name, label)
    if not names:
        return None
    details = []
    with loader.serving(prompt.name, label, prompt):
        for name in names:
            dependant = loader.resolve(name, project)
            if not suites_of(project, name):
                details.append(f"dependant {name}: no suite evaluates it")
                continue
            found = find_evidence(project, dependant, eval_now=eval_now)
            what = (
                f"dependant {name}@{dependant.version} (uses {prompt.name}@{label}, "
                f"evaluated with {prompt.name}@{prompt.version})"
            )
            if not found.passed:
                return Evidence(
                    kind=found.kind,
                    passed=False,
                    suite=found.suite,
                    detail=f"{what} has no passing gate: {found.detail}",
                )
            details.append(f"{what}: {found.detail}")
    return Evidence(kind="dependants", passed=True, detail="; ".join(details))


def move_evidence(
    project: Project, prompt: Prompt, label: str, *, eval_now: EvalNow | None = None
) -> Evidence:
    """What moving `label` to `prompt`'s version needs, for promote and rollout alike: its own
    passing gate, then that of every prompt pinning `NAME@label` with the candidate served."""
    evidence = find_evidence(project, prompt, eval_now=eval_now)
    if evidence.passed:
        downstream = dependants_evidence(project, prompt, label, eval_now=eval_now)
        if downstream is not None and not downstream.passed:
            return downstream
        if downstream is not None:
            return replace(evidence, detail=f"{evidence.detail}; {downstream.detail}")
    return evidence


# ----------------------------------------------------------------------------- promote


def _now() -> str:
    return (
        dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )


def commit_message(change: LabelChange, verb: str = "promote") -> str:
    evidence = change.evidence.detail if change.evidence else "none"
    lines = [
        f"{verb} {change.name} {change.label}: {change.old_version or '(none)'} -> "
        f"{change.new_version}",
        "",
        f"Evidence: {evidence}",
    ]
    if change.reason:
        lines.append(f"Reason: {change.reason}")
    return "\n".join(lines) + "\n"


def _check_commit_possible(project: Project) -> None:
    # before labels.yaml is touched: a commit that fails afterwards leaves it rewritten and staged
    gitrepo.require_identity(project.root, why="--commit")
    path = project.labels_file
    if path.exists() and gitrepo.is_dirty(project.root, path):
        raise UsageError(
            f"{project.rel(path)} has uncommitted changes, and --commit would sweep them into "
            "this promotion's commit",
            hint=f"commit or discard them first (git diff {project.rel(path)}), or promote "
            "without --commit",
        )


def _resolve(project: Project, ref: str) -> tuple[Prompt, str]:
    """The prompt at NAME[@REF] and a commit that holds exactly that version."""
    gitrepo.open_repo(project.root, why="promotion (labels record git commits)")
    prompt = loader.resolve(ref, project)
    commit = prompt.commit or history.commit_with_version(project, prompt.name, prompt.version)
    if commit is None:
        raise not_committed(project, prompt)
    return prompt, commit


def not_committed(project: Project, prompt: Prompt) -> UsageError:
    """A label may point only at a committed version: say which files to commit (the prompt's
    own file, or a partial or upstream prompt its version covers)."""
    try:
        prompts_dir = gitrepo.relpath(project.root, project.prompts_dir)
        dirty = sorted(
            n
            for n in gitrepo.changed_files(project.root, "HEAD")
            if n == prompts_dir or n.startswith(prompts_dir + "/")
        )
    except (PromptctlError, ValueError, OSError):
        dirty = []
    if dirty:
        listed = " ".join(dirty[:6]) + (" ..." if len(dirty) > 6 else "")
        hint = (
            f"the version covers the prompt, its partials and the prompts it uses; commit what "
            f"changed first: git add {listed} && git commit"
        )
    else:
        hint = f"commit {prompt.source.path} first (git add {prompt.source.path} && git commit)"
    return UsageError(
        f"version {prompt.version} of {prompt.name!r} is not committed, so a label could not "
        "find it again",
        hint=hint,
    )


def promote(
    project: Project,
    ref: str,
    label: str,
    *,
    force: bool = False,
    reason: str | None = None,
    commit: bool = False,
    eval_now: EvalNow | None = None,
) -> LabelChange:
    """Point `label` of the prompt at NAME[@REF]'s version, behind evidence (or --force with a
    reason). A refusal is a LabelChange with refused=True and labels.yaml untouched."""
    labels.check_label_name(label)
    if force and not (reason and reason.strip()):
        raise UsageError(
            "--force needs --reason TEXT",
            hint="the reason is recorded in labels.yaml, whose history is the audit trail",
        )
    current = labels.read(project)  # malformed labels.yaml: exit 2 before anything else
    prompt, at = _resolve(project, ref)
    old = current.get(prompt.name, {}).get(label)
    base = LabelChange(
        name=prompt.name,
        label=label,
        old_version=old.version if old else None,
        new_version=prompt.version,
        commit=at,
        changed=False,
    )
    if old is not None and old.version == prompt.version:
        return base
    if commit:  # fail before any eval runs; checked again where it counts, inside the write
        with labels.locked(project):
            _check_commit_possible(project)
    if force:
        evidence = Evidence(kind="forced", passed=True, detail=f"forced: {reason}")
    else:
        evidence = move_evidence(project, prompt, label, eval_now=eval_now)
    if not evidence.passed:
        return replace(base, refused=True, evidence=evidence)
    entry = labels.LabelEntry(
        version=prompt.version,
        commit=at[:12],
        promoted_at=_now(),
        reason=reason if force else None,
    )
    return _move(
        project,
        replace(base, evidence=evidence, reason=entry.reason),
        entry,
        commit=commit,
        verb="promote",
    )


def _move(
    project: Project, change: LabelChange, entry: labels.LabelEntry, *, commit: bool, verb: str
) -> LabelChange:
    """Write `entry` for the change's prompt and label, and commit it, all under the labels lock:
    what the label held before is read inside the lock, so `previous` and the commit message are
    right even when another promotion of the same label ran a moment earlier."""
    done: dict[str, Any] = {}

    def apply(pointers: labels.Labels) -> labels.Labels | None:
        if commit:  # again inside the lock: a concurrent promotion may have left it dirty
            _check_commit_possible(project)
        held = pointers.get(change.name, {}).get(change.label)
        if held is not None and held.version == entry.version:
            return None
        done["old"] = held.version if held else None
        pointers.setdefault(change.name, {})[change.label] = replace(entry, previous=done["old"])
        return pointers

    def commit_it() -> None:
        moved = replace(change, old_version=done["old"])
        done["sha"] = gitrepo.commit_paths(
            project.root, [project.labels_file], commit_message(moved, verb)
        )

    written = labels.update(project, apply, then=commit_it if commit else None)
    if written is None:
        return replace(change, changed=False)
    return replace(change, changed=True, old_version=done["old"], committed=done.get("sha"))


# ----------------------------------------------------------------------------- rollback


def label_history(project: Project, name: str, label: str) -> list[tuple[str, str | None]]:
    """(version, commit) the label held in each commit of labels.yaml, newest first."""
    path = project.labels_file
    out: list[tuple[str, str | None]] = []
    if gitrepo.head_commit(project.root) is None:
        return out
    for c in gitrepo.file_history(project.root, path):
        data = gitrepo.read_file(project.root, c.sha, path)
        if data is None:
            continue
        shown = f"{project.rel(path)}@{c.sha[:7]}"
        try:
            held = labels.loads(data.decode("utf-8", errors="replace"), shown)
        except UsageError:
            continue  # a malformed old copy says nothing reliable
        e = held.get(name, {}).get(label)
        if e is not None:
            out.append((e.version, e.commit))
    return out


def rollback(
    project: Project,
    name: str,
    label: str,
    *,
    to: str | None = None,
    commit: bool = False,
    reason: str | None = None,
) -> LabelChange:
    """Move `label` back: to `to`, or to the version it held before, from labels.yaml's history.
    `reason` is recorded in the entry (and the commit message)."""
    labels.check_label_name(label)
    gitrepo.open_repo(project.root, why="rollback (it reads labels.yaml's git history)")
    current = labels.read(project)
    if name not in loader.prompt_files(project) and name not in current:
        raise loader.unknown_prompt(project, name)
    entry = current.get(name, {}).get(label)
    if entry is None:
        held = sorted(current.get(name, {}))
        raise UsageError(
            f"{name!r} has no label {label!r} to roll back",
            hint=f"its labels: {', '.join(held)}"
            if held
            else f"promote it first: promptctl promote {name} --to {label}",
        )
    if to is not None:
        prompt = loader.resolve(f"{name}@{to}", project)
        target, at = (
            prompt.version,
            prompt.commit or history.commit_with_version(project, name, prompt.version),
        )
        if at is None and target != entry.version:
            # only the working tree has it: the label would point at nothing once committed
            raise not_committed(project, prompt)
    else:
        target, at = _previous(project, name, label, entry)
    if target == entry.version:
        return LabelChange(
            name=name,
            label=label,
            old_version=entry.version,
            new_version=target,
            commit=at,
            changed=False,
        )
    if at is None:
        at = history.commit_with_version(project, name, target)
    if commit:
        with labels.locked(project):
            _check_commit_possible(project)
    evidence = Evidence(
        kind="rollback",
        passed=True,
        detail=f"rollback of {label} from {entry.version} to {target}",
    )
    new = labels.LabelEntry(
        version=target,
        commit=at[:12] if at else None,
        promoted_at=_now(),
        reason=f"{ROLLBACK_FROM}{entry.version}" + (f": {reason.strip()}" if reason else ""),
    )
    change = LabelChange(
        name=name,
        label=label,
        old_version=entry.version,
        new_version=target,
        commit=at,
        changed=False,
        evidence=evidence,
        reason=new.reason,
    )
    return _move(project, change, new, commit=commit, verb="rollback")


ROLLBACK_FROM = "rollback from "  # how a rollback's entry starts its reason


def _previous(
    project: Project, name: str, label: str, entry: labels.LabelEntry
) -> tuple[str, str | None]:
    held = label_history(project, name, label)
    # The entry is itself a rollback: the version "before" it is the one just rolled back from,
    # and re-deploying that silently is the opposite of what a second rollback means.
    rolled_back_from = (
        entry.reason[len(ROLLBACK_FROM) :].split(":", 1)[0].strip()
        if entry.reason and entry.reason.startswith(ROLLBACK_FROM)
        else None
    )
    for version, at in held:
        if version == entry.version:
            continue
        if version == rolled_back_from:
            seen = list(dict.fromkeys(v for v, _ in held))
            raise UsageError(
                f"{name} {label} was rolled back from {version} to {entry.version}; rolling back "
                f"again would re-deploy {version}",
                where=Location(project.rel(project.labels_file)),
                hint=f"versions {label} has held, newest first: {', '.join(seen)}; name the one "
                f"to go to: promptctl rollback {name} --label {label} --to VERSION",
            )
        return version, at
    if entry.previous:  # promoted but never committed: the entry remembers where it came from
        return entry.previous, None
    if gitrepo.is_shallow(project.root):
        gitrepo.require_history(project.root, f"rolling back {name} {label}")
    raise UsageError(
        f"{name} {label} has no previous version in {project.rel(project.labels_file)}'s history",
        hint=f"name one: promptctl rollback {name} --label {label} --to VERSION "
        f"(see promptctl log {name})",
    )
