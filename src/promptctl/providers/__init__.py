"""Provider plug-ins by type name: built-ins and `promptctl.providers` entry points alike.

The table and the registry live in promptctl/registry.py (project/config checks `type:` against
it and sits below this package); a built-in provider is one module here plus one line there.
"""

from __future__ import annotations

from promptctl.registry import PROVIDERS as BUILTIN
from promptctl.registry import providers

__all__ = ["BUILTIN", "providers"]
