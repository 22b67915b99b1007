"""The library API: load a prompt by name, label or git revision (or from a deploy bundle)."""

from __future__ import annotations

import os
from pathlib import Path

from promptctl.errors import UsageError
from promptctl.labels import serving
from promptctl.project import config
from promptctl.prompts import loader
from promptctl.prompts.prompt import Prompt


def load(
    name: str,
    label: str | None = None,
    ref: str | None = None,
    *,
    key: str | None = None,
    span: bool = False,
    root: str | Path | None = None,
) -> Prompt:
    """Load prompt `name` from the project around `root` (default: the current directory).

    Args:
        name: the prompt's name (its path under prompts/ without .yaml); may carry `@REF`.
        label: a label from labels.yaml, e.g. "production": that exact version is returned,
            read from the commit the label records, even if the working tree has moved on.
        ref: a version (12 hex digits) or a git revision.
        key: with `label`, a stable id of the user or session: during a rollout the prompt of
            the arm this key falls in (`.variant` "stable" or "candidate", `.bucket`); the same
            key always gets the same arm (docs/rollout.md). Without a key: the stable arm.
        span: set `Prompt.trace_attributes()` on the current OpenTelemetry span (needs the
            `otel` extra).
        root: the project directory; `PROMPTCTL_BUNDLE` (an export bundle) is read instead
            when set.

    Raises:
        UsageError: unknown prompt, label or revision.
    """
    if label and ref:
        raise UsageError("pass either label= or ref=, not both")
    if key is not None and label is None:
        raise UsageError("key= picks a rollout arm of a label: pass label= too")
    bundle = os.environ.get("PROMPTCTL_BUNDLE")
    if label is not None and "@" not in name:
        prompt = serving.serve(name, label, key, root=root, bundle=bundle or None)
        if span:
            _set_span(prompt)
        return prompt
    if bundle:
        from promptctl.labels import export as bundles

        prompt = bundles.load_from_bundle(Path(bundle), name, label=label, ref=ref)
    else:
        project = config.load_project(Path(root) if root else None)
        target = name if (label is None and ref is None) else f"{name}@{label or ref}"
        prompt = loader.resolve(target, project)
    if span:
        _set_span(prompt)
    return prompt


def _set_span(prompt: Prompt) -> None:
    try:
        from opentelemetry import trace
    except ImportError:
        raise UsageError(
            "span=True needs OpenTelemetry",
            hint="pip install 'promptctl-cli[otel]'",
        ) from None
    trace.get_current_span().set_attributes(prompt.trace_attributes())
