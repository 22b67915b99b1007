"""Lint checks of suite files and the datasets they name (codes PC2xx)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from promptctl.errors import Location, UsageError
from promptctl.evals import datasets, suites
from promptctl.lint.findings import RULES, Finding
from promptctl.lint.prompts import load_yaml
from promptctl.model import ScorerSpec, Suite
from promptctl.project.checks import Checker, did_you_mean
from promptctl.project.config import Project
from promptctl.project.yamlio import YamlMap
from promptctl.prompts import loader, rendering
from promptctl.prompts.prompt import Prompt

MAX_ROW_FINDINGS = 20  # a broken 100k-row file needs the first problems, not all of them


def check(project: Project, path: Path) -> list[Finding]:
    data, findings = load_yaml(project, path, "suite file")
    if data is None:
        return findings
    shown = project.rel(path)
    checker = Checker(shown)
    suite = suites.parse_suite(data, path.stem, path, shown, project, checker)
    prompt = _prompt(project, data, checker)
    if suite is not None:
        check_canary(suite, prompt, data, checker)
        for spec in suite.scorers:
            check_scorer(project, spec, checker)
            if (
                spec.type == "json-schema"
                and spec.value is None
                and prompt is not None
                and not isinstance(prompt.output.schema, Mapping)
            ):
                checker.add(
                    "PC210",
                    f"scorer {spec.id!r}: json-schema has no `value` and prompt "
                    f"{prompt.name!r} declares no output.schema to check against",
                    spec.source,
                    "give the scorer a `value:` schema, or the prompt an output.schema",
                )
        check_cases(project, suite, prompt, checker)
    return checker.findings


def check_scorer(project: Project, spec: ScorerSpec, checker: Checker) -> None:
    """What a scorer needs from the project: a judge model, a python scorer's module."""
    check_judge(project, spec, checker)
    if spec.type == "similar" and not spec.options.get("model"):
        from importlib.util import find_spec

        if find_spec("wordllama") is None:  # found, not imported: lint stays fast
            checker.add(
                "PC215",
                f"scorer {spec.id!r}: similar has no `model:` and the `similar` extra is not "
                "installed",
                spec.source,
                "pip install 'promptctl-cli[similar]' (offline), or set `model:` to an "
                "embeddings model, e.g. openai/text-embedding-3-small",
            )
    if spec.type == "python" and isinstance(spec.value, str) and ":" in spec.value:
        from promptctl.scorers.python import module_path, read_source

        rel = module_path(spec.value.partition(":")[0])
        if read_source(project, rel) is None:
            checker.add(
                "PC214",
                f"scorer {spec.id!r}: {rel} not found",
                spec.source,
                f"write {rel} with `def {spec.value.partition(':')[2]}(output, context)` "
                "(docs/suites.md)",
            )


def check_judge(project: Project, spec: ScorerSpec, checker: Checker) -> None:
    """A judge with no model would stop `eval` (exit 2) at its first case: say so here."""
    judged = spec.type == "llm-judge" or (
        spec.type == "refusal" and ("rubric" in spec.options or "model" in spec.options)
    )
    if not judged or spec.options.get("model") or project.config.defaults.judge_model:
        return
    checker.add(
        "PC213",
        f"scorer {spec.id!r} has no judge model",
        spec.source,
        "set `model:` on the scorer, or `defaults: {judge_model: <provider>/<model>}` in "
        "promptctl.yaml (imported llm-rubric asserts rely on it)",
    )


def check_canary(suite: Suite, prompt: Prompt | None, data: YamlMap, checker: Checker) -> None:
    """A canary must sit in a system message: it is what extraction probes try to pull out."""
    if suite.canary is None or prompt is None:
        return
    pattern = re.compile(r"{{-?\s*" + re.escape(suite.canary) + r"\s*-?}}")
    if any(m.role == "system" and pattern.search(m.content) for m in prompt.messages):
        return
    checker.add(
        "PC212",
        f"canary {suite.canary!r} is not in a system message of prompt {prompt.name!r}",
        data.value_loc("canary"),
        f"add `{suite.canary}: {{type: string}}` under input: and a line with "
        f"{{{{ {suite.canary} }}}} to the system message (docs/safety.md)",
    )


def _prompt(project: Project, data: YamlMap, checker: Checker) -> Prompt | None:
    ref = data.get("prompt")
    if not isinstance(ref, str):
        return None
    where = data.value_loc("prompt")
    name, rev = ref.partition("@")[0], ref.partition("@")[2]
    files = loader.prompt_files(project)
    if name.removesuffix(".yaml") not in files:
        hint = did_you_mean(name, files)
        checker.add(
            "PC201",
            f"unknown prompt {name!r}",
            where,
            (hint + " " if hint else "") + f"known prompts: {', '.join(files) or 'none'}",
        )
        return None
    try:
        current = loader.load_prompt_file(project, files[name.removesuffix(".yaml")])
    except UsageError:
        return None  # the prompt's own problems are reported on the prompt file
    if not rev:
        return current
    try:
        return loader.resolve(ref, project)
    except UsageError as e:
        from promptctl.history import gitrepo

        if not gitrepo.is_repo(project.root):
            return None  # outside git (a tarball) `eval` says what needs git; lint stays quiet
        # the file is fine in the working tree: what is wrong is the @REF this suite names
        checker.add("PC201", e.message, where, e.hint)
        return None


def check_cases(project: Project, suite: Suite, prompt: Prompt | None, checker: Checker) -> None:
    seen: dict[str, object] = {}
    count = 0
    row_findings = 0
    more: dict[str, int] = {}  # code -> findings past the cap, so the report says how many
    ignored = project.config.lint_ignore
    declared = set(prompt.input) if prompt is not None else set()
    required = set(prompt.required_vars) if prompt is not None else set()
    pname = prompt.name if prompt is not None else ""
    suite_ids = {s.id for s in suite.scorers}
    try:
        for case in datasets.iter_cases(project, suite):
            count += 1
            found: list[tuple[str, str, Location | None, str | None]] = []
            if case.id in seen:
                first = seen[case.id]
                found.append(
                    (
                        "PC205",
                        f"duplicate case id {case.id!r} (first at {first})",
                        case.source,
                        "case ids must be unique within a suite",
                    )
                )
            else:
                seen[case.id] = case.source
            for spec in case.asserts:
                check_scorer(project, spec, checker)
                if spec.id in suite_ids:
                    checker.add(
                        "PC208",
                        f"case {case.id}: assert id {spec.id!r} is also a scorer of the suite",
                        case.source,
                        "give the row's scorer its own `id:` (the gate pairs results by id)",
                    )
            missing = sorted(required - set(case.vars) - {suite.canary})
            if missing:
                found.append(
                    (
                        "PC204",
                        f"case {case.id} lacks variable(s) {', '.join(missing)} "
                        f"required by prompt {pname!r}",
                        case.source,
                        "add them under the case's vars",
                    )
                )
            if prompt is not None and not missing:
                # the types the prompt's input declares: what eval's plan would stop on (exit 2)
                given = {**case.vars, **({suite.canary: "CANARY"} if suite.canary else {})}
                try:
                    rendering.check_case_variables(prompt, rendering.apply_defaults(prompt, given))
                except UsageError as e:
                    found.append(
                        (
                            "PC216",
                            f"case {case.id}: {e.message}",
                            case.source,
                            f"give it the type declared at {prompt.input_source or prompt.source}",
                        )
                    )
            unknown = sorted(set(case.vars) - declared) if prompt is not None and declared else []
            if unknown:
                found.append(
                    (
                        "PC211",
                        f"case {case.id} sets {', '.join(unknown)}, which prompt "
                        f"{pname!r} does not declare",
                        case.source,
                        did_you_mean(unknown[0], declared) or "a typo, or declare it under input:",
                    )
                )
            # an ignored code must not use up the cap and hide the findings after it
            found = [f for f in found if f[0] not in ignored]
            if row_findings >= MAX_ROW_FINDINGS:
                for code, *_ in found:
                    more[code] = more.get(code, 0) + 1
                continue
            for finding in found:
                checker.add(*finding)
            row_findings += len(found)
    except UsageError as e:
        checker.add("PC207", e.message, e.where, e.hint)
        return
    for code, n in sorted(more.items()):
        checker.add(
            code,
            f"suite {suite.name!r}: {n} more case(s) with {code} [{RULES[code].name}] "
            f"(the first {MAX_ROW_FINDINGS} findings of its cases are shown)",
            suite.source,
            "fix those shown and lint again; `lint: {ignore: [" + code + "]}` in "
            "promptctl.yaml silences a code",
        )
    if count == 0:
        checker.add(
            "PC209",
            f"suite {suite.name!r} has no cases",
            suite.source,
            "add cases to the dataset or an inline `cases:` list",
        )


def check_baseline(project: Project, path: Path) -> list[Finding]:
    """A baseline must parse and have the shape the gate reads (PC501), else `eval` exits 2."""
    from promptctl.gate import baseline
    from promptctl.lint.findings import Severity

    try:
        parsed = baseline.parse(path.read_bytes(), project.rel(path), path.stem)
    except UsageError as e:
        return [Finding("PC501", Severity.ERROR, e.message, e.where, e.hint)]
    except OSError as e:
        return [
            Finding(
                "PC501",
                Severity.ERROR,
                f"cannot read the baseline: {e.strerror}",
                Location(project.rel(path)),
                baseline.regenerate_hint(path.stem),
            )
        ]
    return _unknown_version(project, path, parsed.prompt, parsed.prompt_version)


def _unknown_version(project: Project, path: Path, name: str, version: str) -> list[Finding]:
    """PC404: the baseline's version is neither the prompt's now nor any commit's (e.g. written
    before partials counted in the version): promotion can never find evidence in it."""
    from promptctl.history import gitrepo
    from promptctl.lint.findings import Severity
    from promptctl.prompts import loader

    files = loader.prompt_files(project)
    if name not in files or not gitrepo.is_repo(project.root):
        return []
    try:
        if loader.load_prompt_file(project, files[name]).version == version:
            return []
    except UsageError:
        return []  # the prompt's own findings say why
    if gitrepo.head_commit(project.root) is None or loader.find_version(project, name, version):
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    line = next(
        (i for i, t in enumerate(text.splitlines(), 1) if t.startswith('"prompt_version"')), None
    )
    suite = path.stem
    return [
        Finding(
            "PC404",
            Severity.WARNING,
            f"baseline records version {version} of {name!r}, which no commit of the prompt "
            "produces (versions cover partials and used prompts)",
            Location(project.rel(path), line, 1 if line else None),
            f"re-record it: promptctl eval {suite} && promptctl baseline update {suite}",
        )
    ]
