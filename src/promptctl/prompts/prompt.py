"""The Prompt: a validated prompt file, and the library's `.render(**vars)`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promptctl.errors import Location
from promptctl.model import Message, OutputSpec, Use


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompt:
    """A validated prompt file. `version` is set by the loader from the canonical form."""

    name: str
    version: str
    model: str  # "<provider>/<model id>", split at the first "/"
    messages: tuple[Message, ...]
    params: Mapping[str, Any]
    input: Mapping[str, Mapping[str, Any]]
    output: OutputSpec
    description: str = ""
    tags: tuple[str, ...] = ()
    source: Location
    input_source: Location | None = None  # where `input:` is declared, for missing variables
    uses_template: bool = False  # written as `template:` rather than `messages:`
    partials_dir: str | None = None  # absolute path of prompts/partials/ (lint reads it)
    commit: str | None = None  # set when loaded from a git revision
    # Every partial the templates load, transitively, as read from the same revision as the
    # prompt itself: rendering reads these, never the disk, so NAME@label renders the bytes that
    # were labelled (issue 14). Part of the effective version.
    partials: Mapping[str, str] = field(default_factory=dict)
    # Set by load(label=..., key=...): the label served, the rollout arm and the key's bucket.
    label: str | None = None
    variant: str | None = None  # "stable" | "candidate"
    bucket: int | None = None  # 0..9999, docs/rollout.md
    uses: tuple[Use, ...] = ()
    # alias -> the upstream Prompt, resolved by the loader from the same revision as this one
    upstreams: Mapping[str, Prompt] = field(default_factory=dict)

    @property
    def provider(self) -> str:
        return self.model.split("/", 1)[0]

    @property
    def model_id(self) -> str:
        return self.model.split("/", 1)[1]

    @property
    def required_vars(self) -> tuple[str, ...]:
        return tuple(k for k, v in self.input.items() if "default" not in v)

    def trace_attributes(self) -> dict[str, str]:
        """OpenTelemetry span attributes naming this prompt (GenAI names; the semconv package
        has no constants for them yet), plus the label and rollout arm it was served as."""
        attrs = {"gen_ai.prompt.name": self.name, "gen_ai.prompt.version": self.version}
        if self.label is not None:
            attrs["promptctl.label"] = self.label
        if self.variant is not None:
            attrs["promptctl.variant"] = self.variant
        return attrs

    def render(self, **variables: Any) -> list[dict[str, str]]:
        """Render the messages with `variables` (input defaults fill the gaps)."""
        from promptctl.prompts import rendering

        return rendering.render_prompt(self, variables)
