"""A label served to an application: the arm of each key, resolved once per process.

`promptctl.load(name, label=..., key=...)` runs on every request of a service, so the labelled
prompts (stable and, during a rollout, candidate) are resolved once and kept; a call after the
first costs one SHA-256 and a few dict look-ups (issue 15: < 5 µs). A change made through
promptctl in this process is seen at once (labels/store.py counts its writes); a change by another
process or a `git pull` is seen within RECHECK_S, when labels.yaml (or the bundle) is stat'ed again.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from promptctl.errors import UsageError
from promptctl.labels import store
from promptctl.labels.rollout import BUCKETS, CANDIDATE, STABLE, bucket, threshold
from promptctl.prompts.prompt import Prompt

Stamp = tuple[int, int, int] | None
RECHECK_S = 1.0  # a stat per request would double the cost of a call (~1-3 µs)


@dataclass(slots=True, kw_only=True)
class _Served:
    path: str  # labels.yaml or the bundle: its change means "resolve again"
    stamp: Stamp
    writes: int  # store.writes() when resolved
    checked_at: float = 0.0  # time.monotonic() of the last stat
    name: str
    label: str
    stable: Prompt
    candidate: Prompt | None = None
    salt: str = ""
    limit: int = 0  # buckets below this get the candidate
    arms: dict[int | None, Prompt] = field(default_factory=dict)


_CACHE: dict[tuple[str, str, str, str], _Served] = {}


def _stamp(path: str) -> Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def serve(
    name: str, label: str, key: object = None, *, root: str | Path | None, bundle: str | None
) -> Prompt:
    """The prompt `label` serves to `key` (no key: the stable arm), with `.label`, `.variant`
    and `.bucket` set."""
    if key is not None and not isinstance(key, str):
        raise UsageError(
            f"key must be a string, not {type(key).__name__}",
            hint="pass a stable id of the user or session as text, e.g. key=str(user_id)",
        )
    cache_key = (bundle or "", os.fspath(root) if root else os.getcwd(), name, label)
    served = _CACHE.get(cache_key)
    if served is None or not _fresh(served):
        served = _resolve_bundle(bundle, name, label) if bundle else _resolve(root, name, label)
        _CACHE[cache_key] = served
    b = None if key is None or served.candidate is None else bucket(name, label, served.salt, key)
    arm = served.arms.get(b)
    if arm is None:
        arm = _arm(served, b)
        if len(served.arms) <= BUCKETS:
            served.arms[b] = arm
    return arm


def _fresh(served: _Served) -> bool:
    if served.writes != store.writes():
        return False
    now = time.monotonic()
    if now - served.checked_at < RECHECK_S:
        return True
    served.checked_at = now
    return _stamp(served.path) == served.stamp


def _arm(served: _Served, b: int | None) -> Prompt:
    if b is not None and served.candidate is not None and b < served.limit:
        return replace(served.candidate, label=served.label, variant=CANDIDATE, bucket=b)
    return replace(served.stable, label=served.label, variant=STABLE, bucket=b)


def _start(path: str, writes: int, stamp: Stamp, name: str, label: str, stable: Prompt) -> _Served:
    return _Served(
        path=path,
        stamp=stamp,
        writes=writes,
        checked_at=time.monotonic(),
        name=name,
        label=label,
        stable=stable,
    )


def _resolve(root: str | Path | None, name: str, label: str) -> _Served:
    from promptctl.project import config
    from promptctl.prompts import loader

    project = config.load_project(Path(root) if root else None)
    path = os.fspath(project.labels_file)
    # Stamps before reading: a change while we read is seen on the next check.
    writes, stamp = store.writes(), _stamp(path)
    entry = store.read(project).get(name, {}).get(label)
    served = _start(path, writes, stamp, name, label, loader.resolve(f"{name}@{label}", project))
    if entry is not None and entry.rollout is not None:
        r = entry.rollout
        served.candidate = loader.load_labelled(project, name, label, r.candidate, r.commit)
        served.salt, served.limit = r.salt, threshold(r.percent)
    return served


def _resolve_bundle(bundle: str, name: str, label: str) -> _Served:
    from promptctl.labels import export

    writes, stamp = store.writes(), _stamp(bundle)
    data = export._read(Path(bundle))
    stable = export.prompt_from_bundle(data, name, Path(bundle), label=label)
    served = _start(bundle, writes, stamp, name, label, stable)
    found = export.rollout_from_bundle(data, name, Path(bundle))
    if found is not None:
        r, served.candidate = found
        served.salt, served.limit = r.salt, threshold(r.percent)
    return served


def clear() -> None:
    """Forget every resolved label (tests; a service never needs it)."""
    _CACHE.clear()
