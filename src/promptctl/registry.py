"""Registry[T]: plug-ins by name -> "module:attr", imported on first use; entry points after."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Generic, TypeVar

from promptctl.errors import UsageError
from promptctl.project.checks import did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, builtin: Mapping[str, str], *, group: str) -> None:
        self.kind = kind
        self.builtin = dict(builtin)
        self.group = group
        self._loaded: dict[str, T] = {}
        self._eps: dict[str, str] | None = None

    def _entry_points(self) -> dict[str, str]:
        # Scanning installed distributions costs ~40 ms: once per process, and only when a
        # name is not built in.
        if self._eps is None:
            from importlib.metadata import entry_points

            self._eps = {ep.name: ep.value for ep in entry_points(group=self.group)}
        return self._eps

    def names(self) -> list[str]:
        return sorted(set(self.builtin) | set(self._entry_points()))

    def __contains__(self, name: str) -> bool:
        return name in self.builtin or name in self._entry_points()

    def get(self, name: str) -> T:
        if name in self._loaded:
            return self._loaded[name]
        target = self.builtin.get(name) or self._entry_points().get(name)
        if target is None:
            names = self.names()
            close = did_you_mean(name, names)
            raise UsageError(
                f"unknown {self.kind} {name!r}",
                hint=(close + " " if close else "") + f"known: {', '.join(names)}",
            )
        module, _, attr = target.partition(":")
        obj = getattr(importlib.import_module(module), attr)
        self._loaded[name] = obj
        return obj
