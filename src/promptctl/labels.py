"""labels.yaml: label -> version pointers (read here; written by promote/rollback)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from promptctl import yamlio
from promptctl.checks import Checker
from promptctl.config import Project

LABEL_NAME = re.compile(r"^[a-z0-9_.-]{1,36}$")


@dataclass(frozen=True, slots=True)
class LabelEntry:
    version: str
    commit: str | None = None
    reason: str | None = None


def parse(data: yamlio.YamlMap | None, checker: Checker) -> dict[str, dict[str, LabelEntry]]:
    out: dict[str, dict[str, LabelEntry]] = {}
    if data is None:
        return out
    for name, labels in data.items():
        if not isinstance(labels, yamlio.YamlMap):
            checker.add("PC004", f"labels of {name!r} must be a mapping", data.value_loc(name))
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
            checker.keys(
                entry,
                ("version", "commit", "reason", "previous", "promoted_at", "promoted_by"),
                f"{name}.{label}",
                required=("version",),
            )
            version = checker.typed(entry, "version", str, what=f"{name}.{label}")
            if version is not None and not re.match(r"^[0-9a-f]{12}$", version):
                checker.add(
                    "PC004",
                    f"{name}.{label}: version must be 12 hex digits",
                    entry.value_loc("version"),
                )
                continue
            commit = checker.typed(entry, "commit", str, what=f"{name}.{label}")
            reason = checker.typed(entry, "reason", str, what=f"{name}.{label}")
            if version is not None:
                out.setdefault(str(name), {})[label] = LabelEntry(version, commit, reason)
    return out


def read(project: Project) -> dict[str, dict[str, LabelEntry]]:
    path = project.labels_file
    if not path.exists():
        return {}
    shown = project.rel(path)
    data = yamlio.load_file(path, shown)
    if data is not None:
        data = yamlio.expect_mapping(data, shown, what="labels.yaml")
    checker = Checker(shown)
    result = parse(data, checker)
    checker.raise_first()
    return result
