"""Provider settings: a provider name from a model id -> its ProviderSettings, and its API key."""

from __future__ import annotations

import os
import re

from promptctl.errors import MissingKeyError, UsageError
from promptctl.project.config import Project, url_problem
from promptctl.providers import providers
from promptctl.providers.base import ProviderSettings


def resolve_provider(project: Project, name: str) -> ProviderSettings:
    """A provider name from a model id -> its settings (promptctl.yaml, then built in)."""
    entry = project.config.providers.get(name)
    if entry is None and name not in providers:
        # Scanning installed entry points costs ~40 ms: only on this error path.
        known = sorted(set(project.provider_names()) | set(providers.names()))
        raise UsageError(
            f"unknown provider {name!r}",
            hint=f"known: {', '.join(known)}; declare others under providers: in promptctl.yaml",
        )
    ptype = entry.type if entry is not None else name
    cls = providers.get(ptype)
    builtin = entry is None or name == ptype
    key_env = entry.api_key_env if entry is not None else None
    if key_env is None and builtin:
        key_env = getattr(cls, "key_env", None)
    base_url = entry.base_url if entry is not None else None
    env_base = getattr(cls, "base_url_env", None)
    if base_url is None and builtin and env_base and os.environ.get(env_base):
        base_url = os.environ[env_base].strip()
        problem = url_problem(base_url)
        if problem is not None:
            raise UsageError(
                f"{env_base} {problem}",
                hint=f"set {env_base} to the server's address, e.g. https://api.example.com/v1",
            )
    replies = None
    if entry is not None and entry.replies:
        # not resolved: the mock reads it through project.paths, which refuses a way out
        replies = project.root / entry.replies
    ca_bundle = None
    if entry is not None and entry.ca_bundle:
        ca_bundle = (project.root / entry.ca_bundle).resolve()
    return ProviderSettings(
        name=name,
        type=ptype,
        base_url=base_url,
        api_key_env=key_env,
        headers=dict(entry.headers) if entry is not None else {},
        concurrency=entry.concurrency if entry is not None else None,
        timeout_s=entry.timeout_s if entry is not None else None,
        max_retries=entry.max_retries if entry is not None else None,
        replies=replies,
        root=project.root,
        ca_bundle=ca_bundle,
        batch=entry.batch if entry is not None else False,
        batch_max_requests=entry.batch_max_requests if entry is not None else None,
        rpm=entry.rpm if entry is not None else None,
        tpm=entry.tpm if entry is not None else None,
    )


def api_key(settings: ProviderSettings) -> str | None:
    """The provider's key from its environment variable; None when it needs none."""
    env = settings.api_key_env
    if env is None:
        return None
    value = os.environ.get(env, "").strip()
    if not value:
        raise MissingKeyError(
            f"provider {settings.name!r} needs an API key: {env} is not set",
            hint=f"export {env}=... (keys are read from the environment only)",
        )
    problem = _key_problem(value)
    if problem is not None:
        # h11 quoted the header, key and all, in an internal error (issue 20): stop here
        raise MissingKeyError(
            f"{env} {problem}",
            hint=f"set {env} to the key alone (a pasted key can carry a line break)",
        )
    return value


# one regex search instead of a Python loop over the key's characters: this runs once per call
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _key_problem(value: str) -> str | None:
    """Why a key cannot travel in an HTTP header (its value never appears in the answer)."""
    if "\n" in value or "\r" in value:
        return "contains a line break"
    if _CONTROL.search(value):
        return "contains a control character"
    if not value.isascii():
        return "contains a non-ASCII character"
    return None
