"""Provider plug-ins by type name; third-party ones register under `promptctl.providers`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from promptctl.registry import Registry

if TYPE_CHECKING:
    from promptctl.providers.base import Provider

BUILTIN = {
    "openai": "promptctl.providers.openai:OpenAI",
    "anthropic": "promptctl.providers.anthropic:Anthropic",
    "mock": "promptctl.providers.mock:Mock",
}
providers: Registry[type[Provider]] = Registry("provider", BUILTIN, group="promptctl.providers")
