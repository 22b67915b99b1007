"""Deploy bundles: every prompt holding a label, resolved to plain data, loadable without git.

`promptctl export --label production -o bundle.json` writes one; `promptctl.load()` reads it when
`PROMPTCTL_BUNDLE` names it. A bundle entry carries its version, and loading recomputes it: an
edited bundle is refused rather than served.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from promptctl.errors import Location, UsageError
from promptctl.labels import store as labels
from promptctl.model import Message, OutputSpec, Use
from promptctl.project import files
from promptctl.project.config import Project
from promptctl.prompts import loader
from promptctl.prompts.prompt import Prompt

FORMAT = "promptctl-bundle"
FORMAT_VERSION = 1


def build(project: Project, label: str) -> dict[str, Any]:
    """The bundle for `label`: each prompt at exactly the version the label records."""
    labels.check_label_name(label)
    pointers = labels.read(project)
    names = sorted(name for name, entries in pointers.items() if label in entries)
    if not names:
        known = sorted({lbl for entries in pointers.values() for lbl in entries})
        raise UsageError(
            f"no prompt has the label {label!r}",
            where=Location(project.rel(project.labels_file)),
            hint=f"labels in use: {', '.join(known)}"
            if known
            else "promote one first: promptctl promote NAME --to " + label,
        )
    prompts: dict[str, Any] = {}
    for name in names:
        e = pointers[name][label]
        prompt = loader.resolve_rev(project, name, label, in_tree=True)
        prompts[name] = _entry(project, prompt, e.commit)
        if e.rollout is not None:
            r = e.rollout
            candidate = loader.load_labelled(project, name, label, r.candidate, r.commit)
            prompts[name]["rollout"] = {
                "percent": r.percent,
                "salt": r.salt,
                "prompt": _entry(project, candidate, r.commit),
            }
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "label": label, "prompts": prompts}


def _entry(project: Project, prompt: Prompt, commit: str | None) -> dict[str, Any]:
    """One prompt as bundle data, with the partials it renders (read at its revision)."""
    return {
        "version": prompt.version,
        "commit": prompt.commit or commit,
        "model": prompt.model,
        "messages": [{"role": m.role, "content": m.content} for m in prompt.messages],
        "uses_template": prompt.uses_template,
        "params": dict(prompt.params),
        "input": {k: dict(v) for k, v in prompt.input.items()},
        "output": {"format": prompt.output.format, "schema": prompt.output.schema},
        "description": prompt.description,
        "tags": list(prompt.tags),
        "partials": dict(prompt.partials),
        # a chain: each upstream as served with it, nested, so the bundle renders it alone
        "uses": {
            u.alias: {
                "ref": u.ref,
                "prompt": _entry(project, prompt.upstreams[u.alias], None)
                | {"name": prompt.upstreams[u.alias].name},
            }
            for u in prompt.uses
        },
    }


def rollout_from_bundle(
    data: dict[str, Any], name: str, path: Path
) -> tuple[labels.Rollout, Prompt] | None:
    """The rollout in progress under the bundle's label for `name`, with its candidate."""
    raw = data["prompts"].get(name, {}).get("rollout")
    if raw is None:
        return None
    try:
        candidate = _prompt(path, name, raw["prompt"])
        percent, salt = raw["percent"], raw["salt"]
        # what labels.yaml refuses, a bundle may not serve: 500% sends every key to the
        # candidate, -5% none
        if isinstance(percent, bool) or not 0 < float(percent) <= 100:
            raise ValueError("percent out of (0, 100]")
        if not isinstance(salt, str) or not salt:
            raise TypeError("salt")
        rollout = labels.Rollout(candidate=candidate.version, percent=float(percent), salt=salt)
    except (KeyError, TypeError, ValueError) as e:
        raise UsageError(
            f"bundle entry {name!r} has a malformed rollout ({type(e).__name__}: {e})",
            where=Location(str(path)),
            hint="export the bundle again",
        ) from None
    return rollout, candidate


def dumps(bundle: dict[str, Any]) -> str:
    return json.dumps(bundle, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(project: Project, label: str, path: Path) -> dict[str, Any]:
    bundle = build(project, label)
    files.write_atomic(path, dumps(bundle))
    return bundle


def write_prompt_yml(project: Project, label: str, output: Path) -> list[Path]:
    """Each prompt with `label` as a GitHub Models `.prompt.yml` (with its suite's cases when
    exactly one suite evaluates it): to `output`, or into `output` when it is a directory."""
    import importlib

    try:
        module = importlib.import_module("promptctl.interop.prompt_yml")
    except ModuleNotFoundError:
        module = None
    export_prompt = getattr(module, "export_prompt", None)
    if export_prompt is None:
        raise UsageError(
            "--format prompt-yml is not available in this build", hint="use --format bundle"
        )
    bundle = build(project, label)
    prompts = [prompt_from_bundle(bundle, name, output) for name in sorted(bundle["prompts"])]
    if len(prompts) > 1 and not output.is_dir():
        raise UsageError(
            f"{len(prompts)} prompts have the label {label!r}; a .prompt.yml holds one",
            hint="pass an existing directory as -o: each prompt becomes NAME.prompt.yml",
        )
    # Every prompt is converted before any file is written: one that cannot be (a partial, a
    # filter) must not leave the directory half exported (issue 20).
    texts: list[tuple[Path, str]] = []
    for prompt in prompts:
        rel = project.rel(project.prompts_dir / f"{prompt.name}.yaml")
        object.__setattr__(prompt, "source", Location(f"{rel}@{(prompt.commit or '')[:12]}"))
        suite = _only_suite(project, prompt.name)
        path = output / f"{prompt.name.replace('/', '-')}.prompt.yml" if output.is_dir() else output
        texts.append((path, export_prompt(project, prompt, suite)))
    for path, text in texts:
        files.write_atomic(path, text)
    return [path for path, _ in texts]


def _only_suite(project: Project, name: str) -> Any:
    from promptctl.history.snapshot import suites_of

    mine = suites_of(project, name)
    return mine[0] if len(mine) == 1 else None


def _read(path: Path) -> dict[str, Any]:
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(
            "bundle not found",
            where=Location(shown),
            hint="check PROMPTCTL_BUNDLE; `promptctl export` writes one",
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read bundle: {e}", where=Location(shown)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(
            f"bundle is not valid JSON: {e.msg}",
            where=Location(shown, e.lineno, e.colno),
            hint="export it again: promptctl export --label LABEL -o FILE",
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(
            "not a promptctl bundle",
            where=Location(shown),
            hint="export one: promptctl export --label LABEL -o FILE",
        )
    if data.get("format_version") != FORMAT_VERSION:
        raise UsageError(
            f"bundle format {data.get('format_version')!r} is not supported "
            f"(this promptctl reads {FORMAT_VERSION})",
            where=Location(shown),
            hint="export it again with this promptctl version",
        )
    if not isinstance(data.get("prompts"), dict):
        raise UsageError("bundle has no prompts mapping", where=Location(shown))
    return data


def _prompt(path: Path, name: str, raw: Any) -> Prompt:
    shown = f"{path}#{name}"
    try:
        prompt = Prompt(
            name=name,
            version="",
            model=str(raw["model"]),
            messages=tuple(
                Message(role=str(m["role"]), content=str(m["content"])) for m in raw["messages"]
            ),
            params=dict(raw["params"]),
            input={str(k): dict(v) for k, v in raw["input"].items()},
            output=OutputSpec(
                format=str(raw["output"]["format"]), schema=raw["output"].get("schema")
            ),
            description=str(raw.get("description", "")),
            tags=tuple(raw.get("tags", ())),
            source=Location(shown),
            uses_template=bool(raw.get("uses_template", False)),
            partials={str(k): str(v) for k, v in dict(raw.get("partials", {})).items()},
            commit=raw.get("commit"),
        )
        upstreams = {
            str(alias): _prompt(path, str(use["prompt"]["name"]), use["prompt"])
            for alias, use in dict(raw.get("uses", {})).items()
        }
        object.__setattr__(prompt, "upstreams", upstreams)
        object.__setattr__(
            prompt,
            "uses",
            tuple(
                Use(alias=alias, ref=str(raw["uses"][alias]["ref"]), version=up.version)
                for alias, up in upstreams.items()
            ),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise UsageError(
            f"bundle entry {name!r} is malformed ({type(e).__name__}: {e})",
            where=Location(str(path)),
            hint="export the bundle again",
        ) from None
    version = loader.version_of(prompt)
    if version != raw.get("version"):
        raise UsageError(
            f"bundle entry {name!r} says version {raw.get('version')!r} but its content hashes "
            f"to {version}: the bundle was edited",
            where=Location(str(path)),
            hint="export the bundle again; never edit it by hand",
        )
    object.__setattr__(prompt, "version", version)
    return prompt


def load_from_bundle(
    path: Path, name: str, *, label: str | None = None, ref: str | None = None
) -> Prompt:
    """The prompt `name` (optionally `name@label` or `name@version`) from the bundle at `path`."""
    data = _read(path)
    return prompt_from_bundle(data, name, path, label=label, ref=ref)


def prompt_from_bundle(
    data: dict[str, Any],
    name: str,
    path: Path,
    *,
    label: str | None = None,
    ref: str | None = None,
) -> Prompt:
    """The prompt `name` from loaded bundle `data` (read from `path`, named in errors)."""
    name, at = loader.split_ref(name)
    if at is not None:
        if label or ref:
            raise UsageError(f"{name}@{at}: pass the label or ref once")
        if at == data.get("label"):
            label = at
        else:
            ref = at
    if label is not None and label != data.get("label"):
        raise UsageError(
            f"this bundle holds the label {data.get('label')!r}, not {label!r}",
            where=Location(str(path)),
            hint=f"export a bundle of {label!r}: promptctl export --label {label} -o FILE",
        )
    raw = data["prompts"].get(name)
    if raw is None:
        names = ", ".join(sorted(data["prompts"])) or "none"
        raise UsageError(
            f"unknown prompt {name!r} in the bundle",
            where=Location(str(path)),
            hint=f"the bundle holds: {names}",
        )
    prompt = _prompt(path, name, raw)
    if ref is not None and ref != prompt.version and not str(prompt.commit or "").startswith(ref):
        raise UsageError(
            f"the bundle holds {name}@{prompt.version}, not {ref!r}",
            where=Location(str(path)),
            hint="a bundle holds one version per prompt: the labelled one",
        )
    return prompt
