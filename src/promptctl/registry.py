"""Registry[T]: plug-ins of one kind by name -> "module:attr", imported on first use; the
provider table (here, not in providers/, so promptctl.yaml's `type:` is checked without an upward
import: project/config sits below the providers package).

Built-ins register exactly as installed plug-ins do: a name and a "module:attr" target, nothing
imported until `get`. Entry points of the registry's group (installed distributions) are read
on the first name that is not registered: the scan costs ~40 ms, so a run that names only
built-ins never pays it. A plug-in cannot shadow a built-in name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Generic, TypeVar

from promptctl.errors import UsageError, did_you_mean

if TYPE_CHECKING:
    from promptctl.providers.base import Provider

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, *, group: str) -> None:
        self.kind = kind
        self.group = group
        self._targets: dict[str, str] = {}
        self._plugins: dict[str, str] = {}  # name -> the distribution it came from
        self._loaded: dict[str, T] = {}
        self._scanned = False

    def register(self, name: str, target: str, *, distribution: str | None = None) -> None:
        """Make `name` resolve to `target` ("module:attr"); the first registration wins.

        Built-ins register at import of their package, before any scan; entry points register
        here too, with the name of the distribution that declared them.
        """
        if name in self._targets:
            return
        self._targets[name] = target
        if distribution is not None:
            self._plugins[name] = distribution

    def _scan(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.group):
            dist = getattr(ep, "dist", None)
            self.register(ep.name, ep.value, distribution=dist.name if dist else "?")

    def names(self) -> list[str]:
        """Every registered name, installed plug-ins included."""
        self._scan()
        return sorted(self._targets)

    def __contains__(self, name: str) -> bool:
        if name not in self._targets:
            self._scan()
        return name in self._targets

    def get(self, name: str) -> T:
        if name in self._loaded:
            return self._loaded[name]
        if name not in self:
            names = self.names()
            close = did_you_mean(name, names)
            raise UsageError(
                f"unknown {self.kind} {name!r}",
                hint=(close + " " if close else "")
                + f"known: {', '.join(names)}; a plug-in registers under the entry-point group "
                f"{self.group!r}",
            )
        target = self._targets[name]
        module, _, attr = target.partition(":")
        try:
            obj = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            if name not in self._plugins:
                raise  # a built-in that does not import is our bug, not the user's
            raise UsageError(
                f"{self.kind} {name!r} ({target}, from the installed distribution "
                f"{self._plugins[name]!r}) could not be loaded: {type(e).__name__}: {e}",
                hint="reinstall or upgrade that distribution, or stop naming this type",
            ) from None
        self._loaded[name] = obj
        return obj


PROVIDERS = {
    "openai": "promptctl.providers.openai:OpenAI",
    "anthropic": "promptctl.providers.anthropic:Anthropic",
    "mock": "promptctl.providers.mock:Mock",
}
providers: Registry[type[Provider]] = Registry("provider", group="promptctl.providers")
for _name, _target in PROVIDERS.items():
    providers.register(_name, _target)
