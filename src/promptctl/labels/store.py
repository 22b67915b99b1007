"""labels.yaml: label -> version pointers, read and validated here; written only through `update`,
under a file lock, by the one atomic writer (project/files.py)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields

from promptctl.errors import UsageError
from promptctl.project import files, paths, yamlio
from promptctl.project.checks import Checker
from promptctl.project.config import Project

LABEL_NAME = re.compile(r"^[a-z0-9_.-]{1,36}$")
VERSION = re.compile(r"^[0-9a-f]{12}$")
ENTRY_KEYS = ("version", "commit", "previous", "promoted_at", "promoted_by", "reason", "rollout")
_TEXT_KEYS = ENTRY_KEYS[1:-1]
ROLLOUT_KEYS = ("candidate", "commit", "percent", "salt", "started_at", "steps")
STEP_KEYS = ("percent", "at")
HEADER = (
    "# Label -> version pointers, written by `promptctl promote` and `promptctl rollback`.\n"
    "# Its git history is the audit trail; `promptctl lint` checks hand edits.\n"
)
LOCK_TIMEOUT_S = 60.0  # a promote holds the lock for milliseconds; a minute means a stuck process

Labels = dict[str, dict[str, "LabelEntry"]]
_writes = 0  # labels.yaml writes by this process: served labels (labels/serving.py) watch it


def writes() -> int:
    return _writes


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutStep:
    percent: float
    at: str  # ISO 8601, UTC: when the slice was widened to `percent`


@dataclass(frozen=True, slots=True, kw_only=True)
class Rollout:
    """A candidate version served to `percent` % of keys under a label (docs/rollout.md)."""

    candidate: str  # the candidate's version
    commit: str | None = None  # a commit that holds exactly that version
    percent: float  # 0 < percent <= 100; keys whose bucket < percent * 100 get the candidate
    salt: str  # mixed into every key's bucket: each rollout draws its own slice
    started_at: str | None = None
    steps: tuple[RolloutStep, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelEntry:
    version: str
    commit: str | None = None
    previous: str | None = None  # the version the label held before this promotion
    promoted_at: str | None = None  # ISO 8601, UTC
    promoted_by: str | None = None
    reason: str | None = None  # why a forced promotion or a rollback was made
    rollout: Rollout | None = None  # a rollout in progress: some keys get a candidate version


def check_label_name(label: str) -> None:
    if not LABEL_NAME.match(label):
        raise UsageError(
            f"{label!r} is not a valid label name",
            hint="use 1-36 lowercase letters, digits, '_', '.' or '-' (e.g. production, staging)",
        )


def parse(data: yamlio.YamlMap | None, checker: Checker) -> Labels:
    """Validate a loaded labels.yaml; every problem goes to `checker`."""
    out: Labels = {}
    if data is None:
        return out
    for name, labels in data.items():
        if not isinstance(labels, yamlio.YamlMap):
            checker.add(
                "PC004",
                f"labels of {name!r} must be a mapping of label: {{version, commit}}}}",
                data.value_loc(name),
            )
            continue
        for label, entry in labels.items():
            where = labels.key_loc(label)
            if not isinstance(label, str) or not LABEL_NAME.match(label):
                checker.add(
                    "PC402",
                    f"label {label!r} of {name!r} is not a valid label name",
                    where,
                    "use lowercase letters, digits, '_', '.', '-' (at most 36)",
                )
                continue
            if not isinstance(entry, yamlio.YamlMap):
                checker.add(
                    "PC004",
                    f"{name}.{label} must be a mapping with version and commit",
                    labels.value_loc(label),
                )
                continue
            what = f"{name}.{label}"
            checker.keys(entry, ENTRY_KEYS, what, required=("version",))
            version = checker.typed(entry, "version", str, what=what)
            if version is not None and not VERSION.match(version):
                checker.add(
                    "PC004",
                    f"{what}: version must be 12 hex digits, not {version!r}",
                    entry.value_loc("version"),
                    "quote it if it is all digits",
                )
                continue
            values = {}
            for k in _TEXT_KEYS:
                raw_value = entry.get(k)
                if isinstance(raw_value, int) and not isinstance(raw_value, bool):
                    # an abbreviated hash of digits only: YAML read it as a number
                    checker.add(
                        "PC004",
                        f"{what}: {k} must be a string; YAML read it as the number {raw_value}",
                        entry.value_loc(k),
                        f"quote it if it is all digits: {k}: '0123456789ab'",
                    )
                    values[k] = None
                else:
                    values[k] = checker.typed(entry, k, str, what=what)
            rollout = _parse_rollout(entry, checker, what)
            if version is not None:
                out.setdefault(str(name), {})[label] = LabelEntry(
                    version=version, rollout=rollout, **values
                )
    return out


def _parse_rollout(entry: yamlio.YamlMap, checker: Checker, what: str) -> Rollout | None:
    """The `rollout:` block of a label, or None (absent or invalid: findings say which)."""
    raw = checker.typed(entry, "rollout", dict, what=what)
    if not isinstance(raw, yamlio.YamlMap):
        return None
    what = f"{what}.rollout"
    before = len(checker.errors)
    checker.keys(raw, ROLLOUT_KEYS, what, required=("candidate", "percent", "salt"))
    candidate = checker.typed(raw, "candidate", str, what=what)
    if candidate is not None and not VERSION.match(candidate):
        checker.add(
            "PC004",
            f"{what}: candidate must be 12 hex digits, not {candidate!r}",
            raw.value_loc("candidate"),
        )
    percent = checker.typed(raw, "percent", int, float, what=what)
    if percent is not None and not 0 < percent <= 100:
        checker.add(
            "PC004", f"{what}: percent must be in (0, 100], not {percent}", raw.value_loc("percent")
        )
    salt = checker.typed(raw, "salt", str, what=what)
    strings = {k: checker.typed(raw, k, str, what=what) for k in ("commit", "started_at")}
    steps: list[RolloutStep] = []
    for i, item in enumerate(checker.typed(raw, "steps", list, what=what) or ()):
        where = f"{what}.steps[{i}]"
        if not isinstance(item, yamlio.YamlMap):
            checker.add(
                "PC004", f"{where} must be a mapping {{percent, at}}", raw.value_loc("steps")
            )
            continue
        checker.keys(item, STEP_KEYS, where, required=STEP_KEYS)
        p, at = (
            checker.typed(item, "percent", int, float, what=where),
            checker.typed(item, "at", str, what=where),
        )
        if p is not None and at is not None:
            steps.append(RolloutStep(percent=float(p), at=at))
    if len(checker.errors) > before or candidate is None or percent is None or salt is None:
        return None
    return Rollout(
        candidate=candidate, percent=float(percent), salt=salt, steps=tuple(steps), **strings
    )


def loads(text: str, shown: str) -> Labels:
    """Parse labels.yaml text (e.g. from a git revision); a problem is a UsageError at file:line."""
    data = yamlio.loads(text, shown)
    if data is not None:
        data = yamlio.expect_mapping(data, shown, what="labels.yaml")
    checker = Checker(shown)
    result = parse(data, checker)
    checker.raise_first()
    return result


def read(project: Project) -> Labels:
    path = project.labels_file
    if not path.exists() and not path.is_symlink():
        return {}
    shown = project.rel(path)
    data = paths.read_bytes(project.root, path)
    return loads(yamlio.decode(data, shown), shown)


def entry(project: Project, name: str, label: str) -> LabelEntry | None:
    return read(project).get(name, {}).get(label)


# ----------------------------------------------------------------------------- writing


def _scalar(value: str, safe: str = r"[A-Za-z0-9_.-]+") -> str:
    """A plain YAML scalar when it reads back as the same string, else a JSON string (valid YAML).

    An all-digit version would read back as an int and a timestamp as a datetime: quote them.
    """
    import yaml

    if re.fullmatch(safe, value) and yaml.safe_load(value) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


def _key(value: str) -> str:
    return _scalar(value, r"[A-Za-z0-9_./-]+")  # prompt names may be paths: support/triage


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _flow(value: object) -> str:
    """A dataclass, tuple, number or string as YAML flow text (None fields are left out)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number(value)
    if isinstance(value, str):
        return _scalar(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    parts = [
        f"{f.name}: {_flow(getattr(value, f.name))}"
        for f in fields(value)  # type: ignore[arg-type]
        if getattr(value, f.name) is not None
    ]
    return "{" + ", ".join(parts) + "}"


def dumps(labels: Mapping[str, Mapping[str, LabelEntry]]) -> str:
    """Deterministic text: prompts and labels sorted, one flow mapping per label (SPEC §labels.yaml)
    so every promotion is a one-line git diff."""
    lines = [HEADER.rstrip("\n")]
    for name in sorted(labels):
        if not labels[name]:
            continue
        lines.append(f"{_key(name)}:")
        for label in sorted(labels[name]):
            lines.append(f"  {label}: {_flow(labels[name][label])}")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def locked(project: Project) -> Iterator[None]:
    """Hold the labels lock: read-modify-write of labels.yaml happens only inside it."""
    from filelock import FileLock, Timeout

    lock_dir = paths.writable(project.root, project.state_dir, directory=True)
    paths.writable(project.root, project.labels_file)  # refused before the lock is taken
    lock_dir.mkdir(parents=True, exist_ok=True)
    ignore = lock_dir / ".gitignore"
    if not ignore.exists():  # local state never belongs in a commit, whatever the repo ignores
        with contextlib.suppress(OSError):
            ignore.write_text("*\n", encoding="utf-8")
    lock = FileLock(str(lock_dir / "labels.lock"), timeout=LOCK_TIMEOUT_S)
    try:
        with lock:
            yield
    except Timeout:
        raise UsageError(
            f"another promptctl process holds {project.rel(lock_dir / 'labels.lock')}",
            hint="wait for it to finish; if none is running, delete the lock file",
        ) from None


def update(
    project: Project,
    change: Callable[[Labels], Labels | None],
    *,
    then: Callable[[], None] | None = None,
) -> Labels | None:
    """Apply `change` to the labels as they are on disk now, under the lock, and write the result.

    `change` gets a fresh copy read inside the lock (so concurrent promotes of other labels are
    kept) and returns the new labels, or None to leave the file untouched (byte for byte); it may
    raise to abort. `then` runs after the write, still under the lock (e.g. `git commit`, so two
    committing promotes cannot interleave write and commit). Returns the written labels, or None
    when nothing was written.
    """
    with locked(project):
        current = read(project)
        copy = {name: dict(entries) for name, entries in current.items()}
        new = change(copy)
        if new is None:
            return None
        paths.writable(project.root, project.labels_file)  # never through a symlink
        files.write_atomic(project.labels_file, dumps(new))
        global _writes
        _writes += 1
        if then is not None:
            then()
        return new
