"""The library API: load a prompt by name, label or git revision (or from a deploy bundle)."""

from __future__ import annotations

import os
from pathlib import Path

from promptctl.errors import UsageError
from promptctl.model import Prompt
from promptctl.project import config
from promptctl.prompts import loader


def load(
    name: str, label: str | None = None, ref: str | None = None, *, root: str | Path | None = None
) -> Prompt:
    """Load prompt `name` from the project around `root` (default: the current directory).

    Args:
        name: the prompt's name (its path under prompts/ without .yaml); may carry `@REF`.
        label: a label from labels.yaml, e.g. "production": that exact version is returned,
            read from the commit the label records, even if the working tree has moved on.
        ref: a version (12 hex digits) or a git revision.
        root: the project directory; `PROMPTCTL_BUNDLE` (an export bundle) is read instead
            when set.

    Raises:
        UsageError: unknown prompt, label or revision.
    """
    if label and ref:
        raise UsageError("pass either label= or ref=, not both")
    bundle = os.environ.get("PROMPTCTL_BUNDLE")
    if bundle:
        from promptctl.labels import export as bundles

        return bundles.load_from_bundle(Path(bundle), name, label=label, ref=ref)
    project = config.load_project(Path(root) if root else None)
    target = name if (label is None and ref is None) else f"{name}@{label or ref}"
    return loader.resolve(target, project)
