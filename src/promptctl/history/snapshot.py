"""A project's files at a git revision (or in the working tree), and its suites there, parsed by
the one suite parser (evals/suites.py) and the one dataset parser (evals/datasets.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from promptctl.errors import UsageError
from promptctl.history import gitrepo
from promptctl.model import Suite
from promptctl.project.config import Project


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A project's files at a git revision, or in the working tree (`rev` None)."""

    root: Path
    rev: str | None
    sha: str | None = None

    @property
    def shown(self) -> str:
        return "working tree" if self.rev is None else f"{self.rev} ({(self.sha or '')[:7]})"

    def read(self, path: Path) -> bytes | None:
        if self.rev is None:
            try:
                return path.read_bytes()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return None
        return gitrepo.read_file(self.root, self.sha or self.rev, path)

    def exists(self, path: Path) -> bool:
        if self.rev is None:
            return path.is_file()
        return self.read(path) is not None

    def files(self, under: Path) -> list[Path]:
        if self.rev is None:
            return sorted(p for p in under.rglob("*") if p.is_file()) if under.is_dir() else []
        top = gitrepo.toplevel(self.root)
        return [top / p for p in gitrepo.list_files(self.root, self.sha or self.rev, under)]

    def text(self, path: Path) -> str | None:
        data = self.read(path)
        return None if data is None else data.decode("utf-8", errors="replace")

    def label(self, shown: str) -> str:
        """A project-relative path as errors name it: `evals/x.yaml@HEAD~1` at a revision."""
        return shown if self.rev is None else f"{shown}@{self.rev}"


def snapshot(project: Project, rev: str | None) -> Snapshot:
    if rev is None:
        return Snapshot(project.root, None)
    return Snapshot(project.root, rev, gitrepo.resolve_commit(project.root, rev))


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteAt:
    """A suite file at a revision: the Suite the one parser builds, or why it does not parse."""

    name: str
    text: str  # the file as committed: tells whether it changed between revisions
    suite: Suite | None = None
    error: UsageError | None = None  # reported, never guessed around
    cases: Mapping[str, bool] = field(default_factory=dict)  # case id -> critical

    @property
    def prompt(self) -> str | None:
        """The name of the prompt the suite evaluates (its @REF dropped)."""
        if self.suite is None:
            return None
        return self.suite.prompt_ref.partition("@")[0].removesuffix(".yaml")

    @property
    def scorers(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.suite.scorers) if self.suite else ()


def suites_at(snap: Snapshot, project: Project, *, with_cases: bool = True) -> dict[str, SuiteAt]:
    """Every suite of the project at `snap`, by name. A suite (or its dataset) that does not
    parse there carries the UsageError of the parser instead of a guess."""
    from promptctl.evals import datasets, suites

    out: dict[str, SuiteAt] = {}
    for name, path in suites.suite_paths(project, snap.files(project.evals_dir)).items():
        raw = snap.read(path) or b""
        text = raw.decode("utf-8", errors="replace")
        shown = snap.label(project.rel(path))
        try:
            suite, checker = suites.parse_suite_bytes(
                project, path, raw, shown=shown, exists=snap.exists
            )
            checker.raise_first()
            assert suite is not None
            cases: dict[str, bool] = {}
            if with_cases:
                if suite.dataset is None:
                    found = iter(suite.cases)
                else:
                    dataset = Path(suite.dataset)
                    found = datasets.iter_bytes(
                        snap.read(dataset) or b"", dataset.suffix, snap.label(project.rel(dataset))
                    )
                cases = {case.id: case.critical for case in found}
        except UsageError as e:
            out[name] = SuiteAt(name=name, text=text, error=e)
            continue
        out[name] = SuiteAt(name=name, text=text, suite=suite, cases=cases)
    return out


def suites_of(project: Project, prompt: str) -> list[Suite]:
    """The working tree's suites whose `prompt:` names `prompt`, by name. A suite that does not
    load is raised as its error: which prompt it gates cannot be known, so nothing (a
    promotion, an export) is decided around it."""
    found = suites_at(snapshot(project, None), project, with_cases=False)
    for at in found.values():
        if at.error is not None:
            raise at.error
    return [at.suite for at in found.values() if at.suite is not None and at.prompt == prompt]
