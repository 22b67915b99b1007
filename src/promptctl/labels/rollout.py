"""Rollouts: a candidate version served to a deterministic slice of keys under a label.

The state is the `rollout:` block of the label's entry in labels.yaml (labels/store.py owns the
format), written like any promotion: under the labels lock, atomically, optionally committed.
Which arm a key gets is `bucket()` below, a pure function other languages can reproduce from
docs/rollout.md; its test vectors are asserted by tests/unit/test_rollout.py.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from typing import Any

from promptctl.errors import UsageError
from promptctl.history import gitrepo
from promptctl.labels import policy
from promptctl.labels import promote as promotion
from promptctl.labels import store as labels
from promptctl.project.config import Project

BUCKETS = 10_000  # 0.01 % of traffic per bucket
STABLE = "stable"
CANDIDATE = "candidate"


def bucket(name: str, label: str, salt: str, key: str) -> int:
    """The key's bucket in [0, 10000): the first 8 bytes of SHA-256 over the four fields, each
    UTF-8 encoded and joined by NUL bytes, read as a big-endian unsigned integer, mod 10000.

    NUL cannot occur in a prompt name, label or salt, so no two field tuples share an input.
    """
    data = "\0".join((name, label, salt, key)).encode("utf-8")
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big") % BUCKETS


def threshold(percent: float) -> int:
    """Buckets below this serve the candidate: a higher percent only adds buckets, so raising
    the percent never moves a key from the candidate back to stable."""
    return round(percent * BUCKETS / 100)


def variant_of(bucket_: int, percent: float) -> str:
    return CANDIDATE if bucket_ < threshold(percent) else STABLE


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutChange:
    """What a rollout command did (or refused), for the reporter."""

    name: str
    label: str
    action: str  # start | step | finish | abort
    stable: str  # the version the label serves to everyone outside the slice
    candidate: str
    percent: float
    old_percent: float | None = None
    changed: bool = True
    refused: bool = False
    evidence: promotion.Evidence | None = None
    committed: str | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.refused else 0


def check_percent(percent: float) -> None:
    if not 1 <= percent <= 100:
        raise UsageError(
            f"--percent must be between 1 and 100, not {percent:g}",
            hint="the share of keys that get the candidate, e.g. --percent 5",
        )


def _entry(project: Project, name: str, label: str) -> labels.LabelEntry:
    labels.check_label_name(label)
    held = labels.read(project).get(name, {}).get(label)
    if held is None:
        raise UsageError(
            f"{name!r} has no label {label!r}: a rollout starts from the version a label serves",
            hint=f"promote a stable version first: promptctl promote {name} --to {label}",
        )
    return held


def _current(
    project: Project, name: str, label: str, action: str, percent: float
) -> tuple[labels.LabelEntry, labels.Rollout, RolloutChange]:
    """The label's entry, its rollout in progress, and the change `action` would make."""
    held = _in_progress(project, name, label)
    r = held.rollout
    assert r is not None
    change = RolloutChange(
        name=name,
        label=label,
        action=action,
        stable=held.version,
        candidate=r.candidate,
        percent=percent,
        old_percent=r.percent,
    )
    return held, r, change


def _in_progress(project: Project, name: str, label: str) -> labels.LabelEntry:
    held = _entry(project, name, label)
    if held.rollout is None:
        raise UsageError(
            f"{name} {label} has no rollout in progress",
            hint=f"start one: promptctl rollout start {name} --label {label} --to VERSION "
            "--percent 5",
        )
    return held


def _write(
    project: Project,
    change: RolloutChange,
    expect: labels.LabelEntry,
    new: labels.LabelEntry,
    *,
    commit: bool,
) -> RolloutChange:
    """Replace the label's entry `expect` by `new` under the lock; refuse if another process
    changed the entry since we read it (the decision was made on what we read)."""
    done: dict[str, Any] = {}

    def apply(pointers: labels.Labels) -> labels.Labels:
        if commit:
            promotion._check_commit_possible(project)
        if pointers.get(change.name, {}).get(change.label) != expect:
            raise UsageError(
                f"{change.name} {change.label} changed while this command ran",
                hint="run `promptctl rollout status` and try again",
            )
        pointers[change.name][change.label] = new
        return pointers

    def commit_it() -> None:
        done["sha"] = gitrepo.commit_paths(
            project.root, [project.labels_file], commit_message(change)
        )

    if commit:
        with labels.locked(project):
            promotion._check_commit_possible(project)
    labels.update(project, apply, then=commit_it if commit else None)
    return replace(change, committed=done.get("sha"))


def commit_message(change: RolloutChange) -> str:
    head = {
        "start": f"rollout start {change.name} {change.label}: {change.candidate} at "
        f"{change.percent:g}%",
        "step": f"rollout step {change.name} {change.label}: {change.candidate} "
        f"{(change.old_percent or 0):g}% -> {change.percent:g}%",
        "finish": f"rollout finish {change.name} {change.label}: {change.stable} -> "
        f"{change.candidate}",
        "abort": f"rollout abort {change.name} {change.label}: back to {change.stable}",
    }[change.action]
    evidence = f"\n\nEvidence: {change.evidence.detail}\n" if change.evidence else "\n"
    return head + evidence


def start(
    project: Project,
    name: str,
    label: str,
    to: str,
    percent: float,
    *,
    commit: bool = False,
    eval_now: promotion.EvalNow | None = None,
    salt: str | None = None,
) -> RolloutChange:
    """Serve version `to` (a NAME@REF form is accepted) to `percent` % of keys under `label`."""
    check_percent(percent)
    held = _entry(project, name, label)
    if held.rollout is not None:
        r = held.rollout
        raise UsageError(
            f"{name} {label} already rolls out {r.candidate} at {r.percent:g}%",
            hint="widen it with `rollout step`, or end it with `rollout finish` or `rollout abort`",
        )
    ref = to if "@" in to else f"{name}@{to}"
    prompt, at = promotion._resolve(project, ref)
    if prompt.name != name:
        raise UsageError(f"--to names {prompt.name!r}, but the rollout is of {name!r}")
    base = RolloutChange(
        name=name,
        label=label,
        action="start",
        stable=held.version,
        candidate=prompt.version,
        percent=float(percent),
    )
    if prompt.version == held.version:
        raise UsageError(
            f"{name} {label} already serves {prompt.version}: nothing to roll out",
            hint="roll out a different version with --to",
        )
    skipped = policy.next_step_allowed(project.config.policy.rule(label), 0.0, float(percent))
    if skipped:  # a rollout that skips the first step could never finish
        raise UsageError(skipped, hint="start at the policy's first rollout step")
    evidence = promotion.move_evidence(project, prompt, label, eval_now=eval_now)
    if not evidence.passed:
        return replace(base, refused=True, changed=False, evidence=evidence)
    broken = [
        v.message
        for v in policy.check_move(
            project, project.config.policy, name, label, prompt.version, via="rollout"
        )
        if v.rule in ("from", "min_soak")  # before any traffic; suites are checked at finish
    ]
    if broken:
        return replace(base, refused=True, changed=False, evidence=_policy(broken))
    now = promotion._now()
    rollout = labels.Rollout(
        candidate=prompt.version,
        commit=at[:12],
        percent=float(percent),
        salt=salt or secrets.token_hex(4),
        started_at=now,
        steps=(labels.RolloutStep(percent=float(percent), at=now),),
    )
    change = replace(base, evidence=evidence)
    return _write(project, change, held, replace(held, rollout=rollout), commit=commit)


def step(
    project: Project,
    name: str,
    label: str,
    percent: float,
    *,
    commit: bool = False,
    eval_now: promotion.EvalNow | None = None,
) -> RolloutChange:
    """Widen the slice to `percent` %; the candidate must still have passing evidence."""
    check_percent(percent)
    held, r, base = _current(project, name, label, "step", float(percent))
    if percent < r.percent:
        raise UsageError(
            f"--percent {percent:g} is lower than the current step ({r.percent:g}%): a rollout "
            "only widens, so no key moves back to stable",
            hint=f"to stop serving {r.candidate}: promptctl rollout abort {name} --label {label}",
        )
    if percent == r.percent:
        return replace(base, changed=False)
    rule = project.config.policy.rule(label)
    skipped = policy.next_step_allowed(rule, r.percent, percent)
    if skipped:
        raise UsageError(skipped, hint="each step of the policy's rollout steps in turn")
    evidence = _candidate_evidence(project, name, label, r, eval_now)
    if not evidence.passed:
        return replace(base, refused=True, changed=False, evidence=evidence)
    broken = policy.check_rollout_steps(rule, r, finishing=False, at=policy.now())
    if broken:
        return replace(base, refused=True, changed=False, evidence=_policy(broken))
    new = replace(
        r,
        percent=float(percent),
        steps=(*r.steps, labels.RolloutStep(percent=float(percent), at=promotion._now())),
    )
    change = replace(base, evidence=evidence)
    return _write(project, change, held, replace(held, rollout=new), commit=commit)


def finish(
    project: Project,
    name: str,
    label: str,
    *,
    commit: bool = False,
    eval_now: promotion.EvalNow | None = None,
) -> RolloutChange:
    """Move the label to the candidate (everyone gets it) and end the rollout."""
    held, r, base = _current(project, name, label, "finish", 100.0)
    evidence = _candidate_evidence(project, name, label, r, eval_now)
    if not evidence.passed:
        return replace(base, refused=True, changed=False, evidence=evidence)
    pol = project.config.policy
    broken = [
        v.message for v in policy.check_move(project, pol, name, label, r.candidate, via="rollout")
    ] + policy.check_rollout_steps(pol.rule(label), r, finishing=True, at=policy.now())
    if broken:
        return replace(base, refused=True, changed=False, evidence=_policy(broken))
    new = labels.LabelEntry(
        version=r.candidate,
        commit=r.commit,
        previous=held.version,
        promoted_at=promotion._now(),
    )
    return _write(project, replace(base, evidence=evidence), held, new, commit=commit)


def abort(project: Project, name: str, label: str, *, commit: bool = False) -> RolloutChange:
    """End the rollout: every key gets the stable version again."""
    held, _r, change = _current(project, name, label, "abort", 0.0)
    return _write(project, change, held, replace(held, rollout=None), commit=commit)


def _policy(messages: list[str]) -> promotion.Evidence:
    return promotion.Evidence(kind="policy", passed=False, detail="; ".join(messages))


def _candidate_evidence(
    project: Project,
    name: str,
    label: str,
    r: labels.Rollout,
    eval_now: promotion.EvalNow | None,
) -> promotion.Evidence:
    from promptctl.prompts import loader

    prompt = loader.resolve(f"{name}@{r.candidate}", project)
    return promotion.move_evidence(project, prompt, label, eval_now=eval_now)


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutStatus:
    name: str
    label: str
    stable: str
    rollout: labels.Rollout


def status(project: Project, name: str | None = None) -> list[RolloutStatus]:
    """Every rollout in progress (of `name` only, when given), sorted by prompt and label."""
    out = []
    for prompt, entries in sorted(labels.read(project).items()):
        if name is not None and prompt != name:
            continue
        for label, e in sorted(entries.items()):
            if e.rollout is not None:
                out.append(
                    RolloutStatus(name=prompt, label=label, stable=e.version, rollout=e.rollout)
                )
    return out
