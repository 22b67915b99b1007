"""The promotion policy applied: may this label move to that version? (docs/policy.md)

`promote`, `rollout` and `policy check` ask the same questions here, so a move that a command
would refuse is also refused when it arrives as a hand edit of labels.yaml in a pull request.
The policy itself is parsed by project/policy.py from promptctl.yaml (the trusted revision's in
CI: a change cannot loosen the policy it is judged by).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from promptctl.errors import Location, UsageError
from promptctl.history import gitrepo
from promptctl.labels import promote as promotion
from promptctl.labels import store as labels
from promptctl.project.config import Project
from promptctl.project.policy import LabelRule, Policy


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    name: str
    label: str
    rule: str  # from | min_soak | protected | force | require_suites | rollout
    message: str


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f}h" if seconds >= 3600 else f"{seconds / 60:.0f}m"


def held_since(
    project: Project, name: str, label: str, version: str, *, rev: str | None = None
) -> dt.datetime | None:
    """When `label` of `name` started holding `version` without a break, in labels.yaml's
    committed history up to `rev` (default HEAD); None if it does not hold it there now.

    Commit times are the committer's clock; in CI `rev` is the base branch, whose history a pull
    request cannot rewrite."""
    path = project.labels_file
    if gitrepo.head_commit(project.root) is None:
        return None
    since: dt.datetime | None = None
    for c in gitrepo.file_history(project.root, path, rev=rev):
        data = gitrepo.read_file(project.root, c.sha, path)
        try:
            held = labels.loads(data.decode("utf-8", errors="replace"), path.name) if data else {}
        except UsageError:
            break
        e = held.get(name, {}).get(label)
        if e is None or e.version != version:
            break
        since = _parse_time(c.date)
    return since


def ever_held(project: Project, name: str, label: str, version: str, *, rev: str) -> bool:
    """True when `label` of `name` held `version` in some commit of labels.yaml up to `rev`:
    moving back to it is a rollback, which the policy's forward rules do not govern."""
    path = project.labels_file
    for c in gitrepo.file_history(project.root, path, rev=rev):
        data = gitrepo.read_file(project.root, c.sha, path)
        try:
            held = labels.loads(data.decode("utf-8", errors="replace"), path.name) if data else {}
        except UsageError:
            continue
        e = held.get(name, {}).get(label)
        if e is not None and e.version == version:
            return True
    return False


def _suite_names(project: Project) -> set[str]:
    from promptctl.evals import suites

    return set(suites.suite_files(project))


def check_suites(project: Project, policy: Policy) -> None:
    """A policy naming a suite that does not exist is an input error (PC310), not a refusal."""
    known = _suite_names(project)
    for rule in policy.labels.values():
        for suite in rule.require_suites:
            if suite not in known:
                raise UsageError(
                    f"policy.labels.{rule.label}: require_suites names {suite!r}, which is no "
                    f"suite under {project.rel(project.evals_dir)}/",
                    where=rule.source or Location("promptctl.yaml"),
                    hint=f"suites: {', '.join(sorted(known)) or 'none'}",
                )


def check_move(
    project: Project,
    policy: Policy,
    name: str,
    label: str,
    version: str,
    *,
    forced: bool = False,
    via: str = "promote",  # promote | rollout | edit (policy check of labels.yaml)
    history_rev: str | None = None,
    at: dt.datetime | None = None,
    first: bool = False,  # the label holds no version yet
) -> list[Violation]:
    """Every rule of `label`'s policy that moving `name` to `version` breaks."""
    rule = policy.rule(label)
    if rule is None:
        return []
    check_suites(project, policy)
    at = at or now()
    out: list[Violation] = []

    def broke(what: str, message: str) -> None:
        out.append(Violation(name=name, label=label, rule=what, message=message))

    if forced and not rule.force:
        broke("force", f"policy: {label} may not be forced (force: false)")
    # A rollout splits traffic between the version a label serves and a candidate: a label that
    # serves nothing yet gets its first version by promotion (with evidence), or never any.
    if rule.rollout is not None and via == "promote" and not first:
        broke(
            "rollout",
            f"policy: {label} moves to a new version only through a rollout "
            f"(promptctl rollout start {name} --label {label} --to {version} --percent N)",
        )
    if rule.from_label is not None:
        since = held_since(project, name, rule.from_label, version, rev=history_rev)
        if since is None:
            broke(
                "from",
                f"policy: {label} takes only versions that held {rule.from_label} first; "
                f"{name}@{version} does not hold {rule.from_label} in the committed labels.yaml",
            )
        elif rule.min_soak_s and (at - since).total_seconds() < rule.min_soak_s:
            held = (at - since).total_seconds()
            broke(
                "min_soak",
                f"policy: {name}@{version} has held {rule.from_label} for {_hours(held)}, less "
                f"than min_soak {_hours(rule.min_soak_s)} (since {since.isoformat()})",
            )
    if not forced:
        for suite in rule.require_suites:
            found = promotion.baseline_evidence(project, suite, version)
            if found is None or not found.passed:
                why = found.detail if found else "no committed baseline of this version"
                broke(
                    "require_suites",
                    f"policy: {label} requires suite {suite} to pass at {version}: {why}",
                )
    return out


def check_rollout_steps(
    rule: LabelRule | None, rollout: labels.Rollout, *, finishing: bool, at: dt.datetime
) -> list[str]:
    """Problems with widening (or finishing) `rollout` now, under the label's rollout rule."""
    if rule is None or rule.rollout is None:
        return []
    problems = []
    soak = rule.rollout.min_soak_s
    if soak and rollout.steps:
        last = _parse_time(rollout.steps[-1].at)
        if last is not None and (at - last).total_seconds() < soak:
            ago = _hours((at - last).total_seconds())
            problems.append(
                f"policy: each rollout step of {rule.label} must soak {_hours(soak)}; the last "
                f"({rollout.steps[-1].percent:g}%) started {ago} ago"
            )
    if finishing:
        done = {s.percent for s in rollout.steps}
        missing = [p for p in rule.rollout.steps if p < 100 and p not in done]
        if missing:
            problems.append(
                f"policy: a rollout of {rule.label} must pass through "
                f"{' -> '.join(f'{p:g}%' for p in rule.rollout.steps)}; missing "
                f"{', '.join(f'{p:g}%' for p in missing)}"
            )
    return problems


def next_step_allowed(rule: LabelRule | None, current: float, percent: float) -> str | None:
    """With declared steps, a step may not skip one: 5 -> 50 when the policy says 5 -> 25 -> 50."""
    if rule is None or rule.rollout is None or not rule.rollout.steps:
        return None
    skipped = [p for p in rule.rollout.steps if current < p < percent]
    if skipped:
        return (
            f"policy: a rollout of {rule.label} goes "
            f"{' -> '.join(f'{p:g}%' for p in rule.rollout.steps)}; widen to "
            f"{skipped[0]:g}% first"
        )
    return None


def promote(
    project: Project,
    ref: str,
    label: str,
    *,
    force: bool = False,
    reason: str | None = None,
    commit: bool = False,
    eval_now: promotion.EvalNow | None = None,
) -> promotion.LabelChange:
    """`promote` under the project's policy: a move the policy forbids is refused (exit 1,
    labels.yaml untouched) before any evidence is sought; otherwise promotion decides."""
    policy = project.config.policy
    if policy.rule(label) is not None:
        from promptctl.prompts import loader

        prompt = loader.resolve(ref, project)
        held = labels.read(project).get(prompt.name, {}).get(label)
        if held is None or held.version != prompt.version:
            found = check_move(
                project,
                policy,
                prompt.name,
                label,
                prompt.version,
                forced=force,
                first=held is None,
            )
            if found:
                return _refused(prompt.name, label, held, prompt.version, found)
    return promotion.promote(
        project, ref, label, force=force, reason=reason, commit=commit, eval_now=eval_now
    )


def _refused(
    name: str,
    label: str,
    held: labels.LabelEntry | None,
    version: str,
    found: list[Violation],
    why: str = "",
) -> promotion.LabelChange:
    """The label move the policy refuses: labels.yaml untouched, the rules it broke as evidence."""
    return promotion.LabelChange(
        name=name,
        label=label,
        old_version=held.version if held else None,
        new_version=version,
        commit=None,
        changed=False,
        refused=True,
        evidence=promotion.Evidence(
            kind="policy", passed=False, detail=why + "; ".join(v.message for v in found)
        ),
    )


def rollback(
    project: Project,
    name: str,
    label: str,
    *,
    to: str | None = None,
    commit: bool = False,
    reason: str | None = None,
) -> promotion.LabelChange:
    """`rollback` under the project's policy. Back to a version the label served before, the
    policy's forward rules do not apply (as `policy check` sees it); `--to` a version it never
    served is a move forward, held to them like `promote` (refused: exit 1, labels.yaml
    untouched)."""
    policy = project.config.policy
    if to is not None and policy.rule(label) is not None:
        from promptctl.prompts import loader

        version = loader.resolve(f"{name}@{to}", project).version
        held = labels.read(project).get(name, {}).get(label)
        served = held is not None and held.version == version
        if not served and not ever_held(project, name, label, version, rev="HEAD"):
            found = check_move(project, policy, name, label, version, first=held is None)
            if found:
                why = f"{label} never served {version}, so this is a move forward: "
                return _refused(name, label, held, version, found, why)
    return promotion.rollback(project, name, label, to=to, commit=commit, reason=reason)


# ----------------------------------------------------------------------------- policy check


@dataclass(frozen=True, slots=True, kw_only=True)
class Move:
    name: str
    label: str
    old: labels.LabelEntry | None
    new: labels.LabelEntry | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    base: str
    moves: tuple[Move, ...]
    violations: tuple[Violation, ...]

    @property
    def exit_code(self) -> int:
        return 1 if self.violations else 0


def moves_since(project: Project, base: str) -> list[Move]:
    """Label entries that differ between labels.yaml at `base` and the working tree."""
    path = project.labels_file
    data = gitrepo.read_file(project.root, base, path)
    before = (
        labels.loads(data.decode("utf-8"), f"{project.rel(path)}@{base}")
        if data is not None
        else {}
    )
    after = labels.read(project)
    out = []
    for name in sorted(set(before) | set(after)):
        for label in sorted(set(before.get(name, {})) | set(after.get(name, {}))):
            old, new = before.get(name, {}).get(label), after.get(name, {}).get(label)
            if old != new:
                out.append(Move(name=name, label=label, old=old, new=new))
    return out


def check(project: Project, base: str, *, at: dt.datetime | None = None) -> CheckResult:
    """Every move of labels.yaml since `base` against the policy committed at `base`."""
    from promptctl.project import config

    gitrepo.resolve_commit(project.root, base)  # an unknown REF is exit 2 before anything else
    policy = config.read_trusted(project.root, base).policy
    at = at or now()
    violations: list[Violation] = []
    moves = moves_since(project, base)
    for m in moves:
        violations += _check_edit(project, policy, m, base, at)
    return CheckResult(base=base, moves=tuple(moves), violations=tuple(violations))


def _check_edit(
    project: Project, policy: Policy, m: Move, base: str, at: dt.datetime
) -> list[Violation]:
    rule = policy.rule(m.label)
    if rule is None or m.new is None:
        return []  # removing a label serves nothing new; rollback moves back through promote
    out: list[Violation] = []
    moved = m.old is None or m.new.version != m.old.version
    if moved and ever_held(project, m.name, m.label, m.new.version, rev=base):
        moved = False  # a rollback to a version this label served before
    if moved:
        forced = bool(m.new.reason) and not _has_evidence(project, m.name, m.new.version)
        finishing = (
            m.old is not None
            and m.old.rollout is not None
            and m.old.rollout.candidate == m.new.version
        )
        out += check_move(
            project,
            policy,
            m.name,
            m.label,
            m.new.version,
            forced=forced,
            via="rollout" if finishing else "promote",
            history_rev=base,
            at=at,
            first=m.old is None,
        )
        if not forced and not _has_evidence(project, m.name, m.new.version):
            out.append(
                Violation(
                    name=m.name,
                    label=m.label,
                    rule="evidence",
                    message=f"{m.name}@{m.new.version} has no committed baseline recording a "
                    "passing verdict (promote and rollout need one)",
                )
            )
        if finishing and m.old is not None and m.old.rollout is not None:
            for problem in check_rollout_steps(rule, m.old.rollout, finishing=True, at=at):
                out.append(Violation(name=m.name, label=m.label, rule="rollout", message=problem))
    new_r, old_r = m.new.rollout, m.old.rollout if m.old else None
    if new_r is not None and new_r != old_r:
        if not _has_evidence(project, m.name, new_r.candidate):
            out.append(
                Violation(
                    name=m.name,
                    label=m.label,
                    rule="evidence",
                    message=f"rollout candidate {new_r.candidate} has no committed baseline "
                    "recording a passing verdict",
                )
            )
        if old_r is not None and old_r.candidate == new_r.candidate:
            if new_r.percent < old_r.percent or new_r.salt != old_r.salt:
                out.append(
                    Violation(
                        name=m.name,
                        label=m.label,
                        rule="rollout",
                        message="a rollout only widens with the same salt: keys on the "
                        "candidate must never move back to stable",
                    )
                )
            skipped = next_step_allowed(rule, old_r.percent, new_r.percent)
            if skipped:
                out.append(Violation(name=m.name, label=m.label, rule="rollout", message=skipped))
    return out


def _has_evidence(project: Project, name: str, version: str) -> bool:
    for suite in promotion.suites_of(project, name):
        found = promotion.baseline_evidence(project, suite, version)
        if found is not None and found.passed:
            return True
    return False
