"""The project: where its root is, and promptctl.yaml (paths, providers, prices, defaults)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from promptctl import registry
from promptctl.errors import Location
from promptctl.model import MODEL_ID_PATTERN
from promptctl.project import yamlio
from promptctl.project.checks import Checker, did_you_mean
from promptctl.project.policy import Policy, parse_policy

CONFIG_FILE = "promptctl.yaml"
# A changed promptctl.yaml in a PR must not be able to point a secret somewhere new (issue 9).
_KEY_VAR = re.compile(r"^[A-Z][A-Z0-9_]*(_API_KEY|_KEY)$")
# CI runners hold other *_KEY secrets (cloud, signing, deploy keys): none is an LLM API key.
_FORBIDDEN_KEY_VARS = re.compile(
    r"^(GITHUB_TOKEN|ACTIONS_.*|GITHUB_.*|RUNNER_.*"
    r"|AWS_.*|.*_SECRET_.*|.*PRIVATE_KEY|SSH_.*|GPG_.*|.*SIGNING_KEY|.*DEPLOY_KEY)$"
)

_TOP = ("paths", "providers", "prices", "defaults", "lint", "policy")
_PATHS = ("prompts", "partials", "evals", "baselines", "labels", "state")
_PROVIDER = (
    "type",
    "base_url",
    "api_key_env",
    "concurrency",
    "timeout_s",
    "max_retries",
    "headers",
    "replies",
    "ca_bundle",
    "batch",
    "batch_max_requests",
    "rpm",
    "tpm",
)
_DEFAULTS = ("concurrency", "judge_model", "timeout_s", "max_retries", "repeat")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderConfig:
    name: str
    type: str
    base_url: str | None = None
    api_key_env: str | None = None
    concurrency: int | None = None
    timeout_s: float | None = None
    max_retries: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    replies: str | None = None  # mock only: a YAML file of {match: regex, reply: text} rules
    # A PEM file (relative to the project root) of the CAs to trust for this provider's server
    ca_bundle: str | None = None
    batch: bool = False  # an OpenAI-compatible server with the Batch API (eval --batch)
    batch_max_requests: int | None = None  # fewer lines per batch than the provider's limit
    rpm: int | None = None  # requests per minute, for servers that send no rate-limit headers
    tpm: int | None = None  # tokens per minute, likewise
    source: Location | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Defaults:
    concurrency: int | None = None  # None: the engine's measured default
    judge_model: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 4
    repeat: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    paths: Mapping[str, str] = field(default_factory=dict)
    providers: Mapping[str, ProviderConfig] = field(default_factory=dict)
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    defaults: Defaults = field(default_factory=Defaults)
    lint_ignore: frozenset[str] = frozenset()  # `lint: {ignore: [PC211]}`: codes never reported
    policy: Policy = field(default_factory=Policy)  # which label moves are allowed
    source: Location | None = None


_DEFAULT_PATHS = {
    "prompts": "prompts",
    "partials": "prompts/partials",
    "evals": "evals",
    "baselines": "evals/baselines",
    "labels": "labels.yaml",
    "state": ".promptctl",
}


@dataclass(frozen=True, slots=True)
class Project:
    """A project root and its configuration; every path helper is absolute."""

    root: Path
    config: Config
    # Set when providers, prices and the judge model come from promptctl.yaml at this git
    # revision rather than the working tree (`--trusted-config-ref`, issue 9).
    trusted_ref: str | None = None

    def path(self, kind: str) -> Path:
        # Not resolved: a symlinked `.promptctl` or `labels.yaml` must stay visible as one, so
        # that paths.writable can refuse it by name (issue 19).
        rel = self.config.paths.get(kind, _DEFAULT_PATHS[kind])
        return Path(os.path.normpath(self.root / rel))

    @property
    def prompts_dir(self) -> Path:
        return self.path("prompts")

    @property
    def partials_dir(self) -> Path:
        return self.path("partials")

    @property
    def evals_dir(self) -> Path:
        return self.path("evals")

    @property
    def baselines_dir(self) -> Path:
        return self.path("baselines")

    @property
    def labels_file(self) -> Path:
        return self.path("labels")

    @property
    def state_dir(self) -> Path:
        return self.path("state")

    @property
    def runs_dir(self) -> Path:
        return self.state_dir / "runs"

    def rel(self, path: Path | str) -> str:
        """A path as users see it: relative to the project root when inside it."""
        p = Path(path)
        try:
            return p.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(p)

    def provider_names(self) -> list[str]:
        # built-ins and configured names; installed plug-in types are listed by the registry
        # only on an error path (its entry-point scan costs ~40 ms)
        return sorted(set(registry.PROVIDERS) | set(self.config.providers))


def find_root(start: Path | None = None) -> Path:
    """The nearest directory holding promptctl.yaml, else prompts/ or .git, else `start`."""
    here = (start or Path.cwd()).resolve()
    for marker in (CONFIG_FILE, "prompts", ".git"):
        for d in (here, *here.parents):
            if (d / marker).exists():
                return d
    return here


TRUSTED_REF_ENV = "PROMPTCTL_TRUSTED_CONFIG_REF"


def load_project(
    start: Path | None = None, *, root: Path | None = None, trusted_ref: str | None = None
) -> Project:
    """The project at (or above) `start`.

    With `trusted_ref` (or $PROMPTCTL_TRUSTED_CONFIG_REF), every setting that decides a verdict,
    where an API key is sent, or where evidence is read from (TRUSTED_KEYS: paths.*, providers,
    prices, defaults) comes from promptctl.yaml as committed at that revision, e.g. the PR's
    base branch (SPEC §6, issues 9 and 19). A pull request that edits promptctl.yaml can then
    neither point `base_url` at its own server, `api_key_env` at another secret of the CI job,
    nor `paths.baselines` or `paths.state` at files of its choosing; the settings it changed are
    named in one warning ("ignored under --trusted-config-ref main: paths.baselines").
    """
    root = (root or find_root(start)).resolve()
    checker = Checker(CONFIG_FILE)
    config = read_config(root, checker)
    checker.raise_first()
    if trusted_ref is None:
        trusted_ref = os.environ.get(TRUSTED_REF_ENV, "").strip() or None
    if trusted_ref is None:
        return Project(root=root, config=config)
    trusted = read_trusted(root, trusted_ref)
    ignored = changed_settings(trusted, config)
    if ignored:
        import warnings

        from promptctl.errors import PromptctlWarning

        warnings.warn(
            PromptctlWarning(
                f"ignored under --trusted-config-ref {trusted_ref}: {', '.join(ignored)} "
                f"(the values committed at {trusted_ref} apply)"
            ),
            stacklevel=2,
        )
    return Project(root=root, config=with_trusted(config, trusted), trusted_ref=trusted_ref)


def read_trusted(root: Path, ref: str) -> Config:
    """promptctl.yaml as committed at `ref`; an empty Config when it has none then (only the
    built-in providers, with their own key variables, are usable)."""
    from promptctl.history import gitrepo

    data = gitrepo.read_file(root, ref, root / CONFIG_FILE)
    if data is None:
        return Config()
    shown = f"{CONFIG_FILE}@{ref}"
    checker = Checker(shown)
    text = yamlio.decode(data, shown)
    config = parse_config(
        yamlio.expect_mapping(yamlio.loads(text, shown), shown, what="promptctl.yaml"), checker
    )
    checker.raise_first()
    return config


# Every top-level key of promptctl.yaml that decides a verdict, where a key is sent or where
# evidence is read from. Under a trusted ref all of them come from that revision. A new key of
# that kind (`policy:`, a `python` scorer's modules) is added here, and its value read from the
# Config that `with_trusted` returns; a file it names (a scorer's module) is read with
# `trusted_bytes`, never from the working tree.
# `lint_ignore` too: a change that silenced the lint codes it trips would pass the lint gate.
TRUSTED_KEYS = ("paths", "providers", "prices", "defaults", "policy", "lint_ignore")


def with_trusted(working: Config, trusted: Config) -> Config:
    """`working` with every TRUSTED_KEYS field replaced by `trusted`'s."""
    return replace(working, **{key: getattr(trusted, key) for key in TRUSTED_KEYS})


def verdict_settings(config: Config) -> dict[str, str]:
    """Every TRUSTED_KEYS setting, flattened (`paths.baselines`, `providers.fake`,
    `prices.openai/gpt-4o`, `defaults.judge_model`, `policy.production`) to a comparable text;
    paths with defaults filled in. One owner for "which settings decide the verdict": trusted
    mode and `diff`."""
    out = {f"paths.{k}": config.paths.get(k, v) for k, v in _DEFAULT_PATHS.items()}
    for name, p in config.providers.items():
        fields = {f: getattr(p, f) for f in _PROVIDER}
        fields["headers"] = dict(p.headers)
        out[f"providers.{name}"] = repr(sorted(fields.items()))
    for model, price in config.prices.items():
        out[f"prices.{model}"] = repr(sorted(price.items()))
    for f in _DEFAULTS:
        out[f"defaults.{f}"] = repr(getattr(config.defaults, f))
    for label, rule in config.policy.labels.items():
        out[f"policy.{label}"] = repr(replace(rule, source=None))
    if config.lint_ignore:
        out["lint.ignore"] = repr(sorted(config.lint_ignore))
    return out


def changed_settings(a: Config, b: Config) -> list[str]:
    """The verdict settings that differ between `a` and `b`, sorted."""
    sa, sb = verdict_settings(a), verdict_settings(b)
    return sorted(k for k in set(sa) | set(sb) if sa.get(k) != sb.get(k))


def trusted_bytes(project: Project, rel: str) -> bytes | None:
    """A project file that decides a verdict (e.g. a `python` scorer's module), as committed at
    the trusted ref when there is one, else from the working tree (confined); None if absent."""
    path = project.root / rel
    if project.trusted_ref is not None:
        from promptctl.history import gitrepo

        return gitrepo.read_file(project.root, project.trusted_ref, path)
    if not path.exists():
        return None
    from promptctl.project import paths

    return paths.read_bytes(project.root, path)


def read_config(root: Path, checker: Checker, text: str | None = None) -> Config:
    """Parse promptctl.yaml (or `text`, e.g. from another revision); problems go to checker."""
    path = root / CONFIG_FILE
    if text is None and not path.exists():
        return Config()
    data = (
        yamlio.expect_mapping(yamlio.loads(text, CONFIG_FILE), CONFIG_FILE, what="promptctl.yaml")
        if text is not None
        else yamlio.load_mapping(path, CONFIG_FILE, what="promptctl.yaml")
    )
    return parse_config(data, checker)


def parse_config(data: yamlio.YamlMap, checker: Checker) -> Config:
    checker.keys(data, _TOP, "promptctl.yaml")
    paths: dict[str, str] = {}
    raw_paths = checker.typed(data, "paths", dict, what="promptctl.yaml")
    if raw_paths is not None:
        checker.keys(raw_paths, _PATHS, "paths")
        for key in _PATHS:
            value = checker.typed(raw_paths, key, str, what="paths")
            if value is not None:
                if Path(value).is_absolute() or ".." in Path(value).parts:
                    checker.add(
                        "PC004",
                        f"paths: {key!r} must stay inside the project",
                        raw_paths.value_loc(key),
                    )
                else:
                    paths[key] = value

    providers: dict[str, ProviderConfig] = {}
    raw_providers = checker.typed(data, "providers", dict, what="promptctl.yaml")
    for name, entry in (raw_providers or {}).items():
        where = raw_providers.key_loc(name)
        if not isinstance(entry, yamlio.YamlMap):
            checker.add("PC301", f"provider {name!r} must be a mapping", where)
            continue
        what = f"provider {name!r}"
        checker.keys(entry, _PROVIDER, what, required=("type",))
        ptype = checker.typed(entry, "type", str, what=what)
        if ptype is not None and ptype not in registry.providers:
            # a plug-in type is valid once its distribution is installed (registry.py)
            checker.add(
                "PC301",
                f"{what}: unknown type {ptype!r}",
                entry.value_loc("type"),
                f"use one of: {', '.join(registry.providers.names())}, or install the "
                "distribution that provides it",
            )
        key_env = checker.typed(entry, "api_key_env", str, what=what)
        if key_env is not None and (
            not _KEY_VAR.match(key_env) or _FORBIDDEN_KEY_VARS.match(key_env)
        ):
            checker.add(
                "PC302",
                f"{what}: api_key_env {key_env!r} is not an API key variable",
                entry.value_loc("api_key_env"),
                "name a variable ending in _API_KEY or _KEY (never GITHUB_TOKEN or ACTIONS_*)",
            )
            key_env = None
        base_url = checker.typed(entry, "base_url", str, what=what)
        problem = url_problem(base_url) if base_url is not None else None
        if problem is not None:
            checker.add(
                "PC301",
                f"{what}: base_url {problem}",
                entry.value_loc("base_url"),
                "e.g. https://api.example.com/v1 (percent-encode anything else)",
            )
        headers = checker.typed(entry, "headers", dict, what=what) or {}
        for hname, hvalue in headers.items():
            # scalars become their text (`yes` is True in YAML); a mapping or list cannot
            if isinstance(hvalue, dict | list) or _HEADER_ILLEGAL.search(f"{hname}{hvalue}"):
                checker.add(
                    "PC301",
                    f"{what}: header {hname!r} must be text without line breaks or control "
                    "characters",
                    headers.value_loc(hname),
                )
        replies = checker.typed(entry, "replies", str, what=what)
        if replies is not None and ptype != "mock":
            checker.add(
                "PC301", f"{what}: replies is only for type: mock", entry.key_loc("replies")
            )
        if replies is not None and (Path(replies).is_absolute() or ".." in Path(replies).parts):
            # what the mock would refuse at run time (project.paths): lint says so first
            checker.add(
                "PC301",
                f"{what}: replies must be a file inside the project",
                entry.value_loc("replies"),
                "name it relative to the project root, without `..`",
            )
        ca_bundle = checker.typed(entry, "ca_bundle", str, what=what)
        if ca_bundle is not None and (
            not ca_bundle or Path(ca_bundle).is_absolute() or ".." in Path(ca_bundle).parts
        ):
            # committed config is shared: a machine's own CA file goes in SSL_CERT_FILE
            checker.add(
                "PC301",
                f"{what}: ca_bundle must be a file inside the project",
                entry.value_loc("ca_bundle"),
                "commit the CA's PEM file and name it relative to the project root, or set "
                "SSL_CERT_FILE for a CA file elsewhere on this machine",
            )
            ca_bundle = None
        providers[name] = ProviderConfig(
            name=name,
            type=ptype or "openai",
            base_url=base_url,
            api_key_env=key_env,
            concurrency=checker.number(entry, "concurrency", what, low=1, integer=True),
            timeout_s=checker.number(entry, "timeout_s", what, low=0.001),
            max_retries=checker.number(entry, "max_retries", what, low=0, high=20, integer=True),
            headers={str(k): str(v) for k, v in headers.items()},
            replies=replies,
            ca_bundle=ca_bundle or None,
            batch=bool(checker.typed(entry, "batch", bool, what=what)),
            batch_max_requests=checker.number(
                entry, "batch_max_requests", what, low=1, integer=True
            ),
            rpm=checker.number(entry, "rpm", what, low=1, integer=True),
            tpm=checker.number(entry, "tpm", what, low=1, integer=True),
            source=where,
        )

    prices: dict[str, dict[str, float]] = {}
    raw_prices = checker.typed(data, "prices", dict, what="promptctl.yaml")
    for model, entry in (raw_prices or {}).items():
        if not isinstance(entry, yamlio.YamlMap):
            checker.add("PC004", f"prices: {model!r} must be a mapping", raw_prices.key_loc(model))
            continue
        checker.keys(
            entry,
            ("input", "output", "batch_input", "batch_output"),
            f"prices of {model!r}",
            required=("input", "output"),
        )
        inp = checker.number(entry, "input", f"prices of {model!r}", low=0)
        out = checker.number(entry, "output", f"prices of {model!r}", low=0)
        if inp is not None and out is not None:
            prices[str(model)] = {"input": float(inp), "output": float(out)}
            for key in ("batch_input", "batch_output"):  # default: half the live price
                rate = checker.number(entry, key, f"prices of {model!r}", low=0)
                if rate is not None:
                    prices[str(model)][key] = float(rate)

    defaults = Defaults()
    raw_defaults = checker.typed(data, "defaults", dict, what="promptctl.yaml")
    if raw_defaults is not None:
        checker.keys(raw_defaults, _DEFAULTS, "defaults")
        judge = checker.typed(raw_defaults, "judge_model", str, what="defaults")
        if judge is not None and not re.match(MODEL_ID_PATTERN, judge):
            # else every judged score of every eval errors, and the eval still passes its floors
            checker.add(
                "PC004",
                f"defaults.judge_model {judge!r} must be <provider>/<model id>",
                raw_defaults.value_loc("judge_model"),
                "e.g. openai/gpt-4o-mini or mock/judge",
            )
            judge = None
        defaults = Defaults(
            concurrency=checker.number(
                raw_defaults, "concurrency", "defaults", low=1, integer=True
            ),
            judge_model=judge,
            timeout_s=checker.number(raw_defaults, "timeout_s", "defaults", low=0.001) or 60.0,
            max_retries=_int_or(
                checker.number(
                    raw_defaults, "max_retries", "defaults", low=0, high=20, integer=True
                ),
                4,
            ),
            repeat=checker.number(raw_defaults, "repeat", "defaults", low=1, integer=True),
        )
    return Config(
        paths=paths,
        providers=providers,
        prices=prices,
        defaults=defaults,
        lint_ignore=_lint_ignore(data, checker),
        policy=_policy(data, checker),
        source=data.loc,
    )


def _policy(data: yamlio.YamlMap, checker: Checker) -> Policy:
    raw = checker.typed(data, "policy", dict, what="promptctl.yaml")
    return Policy() if raw is None else parse_policy(raw, checker)


def _lint_ignore(data: yamlio.YamlMap, checker: Checker) -> frozenset[str]:
    raw = checker.typed(data, "lint", dict, what="promptctl.yaml")
    if raw is None:
        return frozenset()
    checker.keys(raw, ("ignore",), "lint")
    codes = checker.typed(raw, "ignore", list, what="lint")
    if codes is None:
        return frozenset()
    from promptctl.lint.findings import RULES

    out = set()
    for i, code in enumerate(codes):
        if code in RULES:
            out.add(code)
            continue
        hint = did_you_mean(str(code), RULES)
        checker.add(
            "PC004",
            f"lint.ignore: {code!r} is no lint code",
            codes.item_loc(i),
            (hint + " " if hint else "") + "codes are listed in docs/lint.md",
        )
    return frozenset(out)


# HTTP/1.1 field values: visible ASCII, spaces and tabs (RFC 9110 §5.5); names are tokens
_HEADER_ILLEGAL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]")
_URL_ILLEGAL = re.compile(r"[\x00-\x20\x7f]")


def url_problem(url: str) -> str | None:
    """What makes `url` unusable as a provider base URL, else None: the one check for
    promptctl.yaml's base_url and the providers' BASE_URL variables (h11 refused a space in
    the path with an internal error, issue 20)."""
    from urllib.parse import urlsplit

    if _URL_ILLEGAL.search(url):
        return "contains a space, line break or control character"
    if not re.match(r"^https?://", url):
        return "must start with http:// or https://"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        return "is not a valid URL (check the host and port)"
    if not parts.hostname:
        return "has no host"
    if parts.username or parts.password:
        return "holds credentials (keys go in api_key_env)"
    if not (parts.path + parts.query).isascii():
        return "has non-ASCII characters in its path (percent-encode them)"
    return None


def _int_or(value: Any, default: int) -> int:
    return default if value is None else int(value)
