"""`promptctl init`: the files of a new project, written without overwriting anything."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from promptctl.errors import UsageError
from promptctl.project.files import write_atomic

# target path in the project -> template file in promptctl/templates/init/
FILES = {
    "promptctl.yaml": "promptctl.yaml",
    "prompts/summarize.yaml": "summarize.prompt.yaml",
    "evals/summarize.yaml": "summarize.suite.yaml",
    "evals/data/summarize.jsonl": "summarize.data.jsonl",
}
# --ci KIND -> (target, template). The sharded variant runs a matrix of `eval --shard` jobs and
# a `merge` job (docs/ci.md).
CI_KINDS = {
    "github": (".github/workflows/promptctl.yml", "github-workflow.yml"),
    "github-sharded": (".github/workflows/promptctl.yml", "github-workflow-sharded.yml"),
}
# Written with either --ci kind: the daily drift check, off until the repository enables it.
CI_DRIFT = (".github/workflows/promptctl-drift.yml", "github-drift.yml")
VERSION_MARK = "__PROMPTCTL_VERSION__"  # workflow templates pin the promptctl that wrote them
# The refresh job runs on pushes to the default branch; a `master` repository with `[main]`
# never ran it (issue 20): init writes the branch the repository has.
BRANCH_MARK = "__PROMPTCTL_DEFAULT_BRANCH__"
_PLAIN_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
GITIGNORE_LINE = ".promptctl/"


@dataclass(frozen=True, slots=True)
class Written:
    path: Path
    action: str  # created | overwritten | kept | updated


def template(name: str) -> str:
    return resources.files("promptctl").joinpath("templates", "init", name).read_text("utf-8")


def render_template(
    name: str, *, default_branch: str = "main", paths: Mapping[str, str] | None = None
) -> str:
    """A template as written into a project: workflows get the current version pinned, the
    repository's default branch, and the project's `paths:` (prompts, evals, baselines) where
    they name them: a cache key and a baseline refresh that watched `evals/` would miss a
    project that keeps its evals elsewhere."""
    from promptctl._version import __version__

    branch = (
        default_branch if _PLAIN_BRANCH.fullmatch(default_branch) else json.dumps(default_branch)
    )
    text = template(name).replace(VERSION_MARK, __version__).replace(BRANCH_MARK, branch)
    if paths:
        prompts, evals = paths.get("prompts", "prompts"), paths.get("evals", "evals")
        baselines = paths.get("baselines", "evals/baselines")
        text = text.replace(
            "hashFiles('prompts/**', 'evals/**')", f"hashFiles('{prompts}/**', '{evals}/**')"
        )
        for command in ("git status --porcelain -- ", "git add -- "):
            text = text.replace(command + "evals/baselines", command + baselines)
    return text


def _configured_paths(root: Path) -> dict[str, str]:
    """The `paths:` of the project's promptctl.yaml (none, or unreadable: the defaults)."""
    from promptctl.errors import PromptctlError
    from promptctl.project import config

    if not (root / "promptctl.yaml").is_file():
        return {}
    try:
        found = config.load_project(root=root).config.paths
    except PromptctlError:
        return {}
    # Written into a shell command and a YAML expression: only plain path characters (a path
    # with a quote or `$(...)` keeps the default, which lint then shows not to match).
    return {
        k: v.strip("/")
        for k, v in found.items()
        if isinstance(v, str) and _PLAIN_PATH.fullmatch(v.strip("/"))
    }


_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


def is_project(root: Path) -> bool:
    """A promptctl project is already here: a promptctl.yaml, or prompt files."""
    prompts = root / "prompts"
    return (root / "promptctl.yaml").is_file() or (prompts.is_dir() and any(prompts.glob("*.yaml")))


def scaffold(
    root: Path, *, force: bool = False, ci: str | None = "github", editor: bool = True
) -> list[Written]:
    """Write the scaffold into `root`; existing files are kept unless `force`."""
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} exists and is not a directory")
    files = dict(FILES)
    if ci in CI_KINDS:
        target, name = CI_KINDS[ci]
        files[target] = name
        files[CI_DRIFT[0]] = CI_DRIFT[1]
    elif ci not in (None, "none"):
        raise UsageError(
            f"--ci {ci!r} is not supported",
            hint="use --ci github, --ci github-sharded or --ci none",
        )
    from promptctl.history import gitrepo

    branch = gitrepo.default_branch(root) if root.is_dir() else "main"
    paths = _configured_paths(root) if root.is_dir() else {}
    ci_only = is_project(root) and not force and ci not in (None, "none")
    if ci_only:
        # `init --ci github` in a project that has its prompts: the samples would run in
        # `eval` beside them; only the CI files are new here.
        files = {rel: name for rel, name in files.items() if rel.startswith(".github/")}
    results: list[Written] = []
    for rel, name in files.items():
        path = root / rel
        if path.exists() and not force:
            results.append(Written(path, "kept"))
            continue
        action = "overwritten" if path.exists() else "created"
        write_atomic(path, render_template(name, default_branch=branch, paths=paths))
        results.append(Written(path, action))
    if ci_only:
        return results
    (root / "evals" / "baselines").mkdir(parents=True, exist_ok=True)
    (root / "prompts" / "partials").mkdir(parents=True, exist_ok=True)
    results.append(_gitignore(root))
    if editor:
        from promptctl.project import schemas as editor_schemas

        vscode = root / ".vscode"
        before = {p for p in vscode.rglob("*") if p.is_file()} if vscode.is_dir() else set()
        results.extend(
            Written(p, "updated" if p in before else "created")
            for p in editor_schemas.write_vscode_settings(root)
        )
    return results


def _gitignore(root: Path) -> Written:
    path = root / ".gitignore"
    if path.exists():
        lines = path.read_text(encoding="utf-8").splitlines()
        if any(line.strip().rstrip("/") == GITIGNORE_LINE.rstrip("/") for line in lines):
            return Written(path, "kept")
        text = path.read_text(encoding="utf-8")
        sep = "" if text.endswith("\n") or not text else "\n"
        write_atomic(path, text + sep + template("gitignore.txt"))
        return Written(path, "updated")
    write_atomic(path, template("gitignore.txt"))
    return Written(path, "created")
