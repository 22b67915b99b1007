"""promptctl: git-native prompts and eval gates.

`promptctl.load(name, label=None, ref=None)` returns a Prompt with `.render(**vars)`,
`.model`, `.params` and `.version`. Importing this package loads neither typer nor rich.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from promptctl._version import __version__

if TYPE_CHECKING:
    from promptctl.api import load
    from promptctl.prompts.prompt import Prompt

__all__ = ["Prompt", "__version__", "load"]


def __getattr__(name: str) -> Any:
    # PEP 562: the API (and yaml) load on first use, so `import promptctl` stays cheap.
    if name == "load":
        from promptctl.api import load

        return load
    if name == "Prompt":
        from promptctl.prompts.prompt import Prompt

        return Prompt
    raise AttributeError(f"module 'promptctl' has no attribute {name!r}")
