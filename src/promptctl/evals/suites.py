"""Suite files (evals/<suite>.yaml) -> Suite objects, validated with file:line:col."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from promptctl.errors import Location, UsageError
from promptctl.evals.scorer_config import SCORER_KEYS
from promptctl.model import FAMILIES, GATE_KEYS, METRICS, Case, Gate, ScorerSpec, Suite
from promptctl.project import paths, yamlio
from promptctl.project.checks import Checker, did_you_mean
from promptctl.project.config import Project

SUITE_KEYS = (
    "description",
    "prompt",
    "dataset",
    "cases",
    "repeat",
    "scorers",
    "gate",
    "record_outputs",
    "canary",
)
DATASET_SUFFIXES = (".jsonl", ".yaml", ".yml", ".csv")

Exists = Callable[[Path], bool]  # is there a file at this path (working tree or a revision)?


def suite_files(project: Project) -> dict[str, Path]:
    """name (file stem) -> path for every suite under evals/ (datasets and baselines excluded)."""
    root = project.evals_dir
    if not root.is_dir():
        return {}
    return suite_paths(project, [*root.glob("*.yaml"), *root.glob("*.yml")])


def foreign_file(name: str) -> bool:
    """Another tool's file that teams keep beside their evals (issue 21): a promptfoo config or
    a GitHub Models prompt is imported with `promptctl import`, never read as a suite."""
    lower = name.lower()
    return lower.startswith("promptfooconfig") or lower.endswith(".prompt.yml")


def suite_paths(project: Project, candidates: Iterable[Path]) -> dict[str, Path]:
    """Which of `candidates` (files in the working tree or at a git revision) are suite files:
    YAML directly under evals/, not in data/ or the baselines directory; by name."""
    skip = (project.evals_dir / "data", project.baselines_dir)
    found: dict[str, Path] = {}
    for path in sorted(candidates):
        if path.suffix not in (".yaml", ".yml") or path.parent != project.evals_dir:
            continue
        if foreign_file(path.name):
            continue
        if path.parent in skip:
            continue
        found.setdefault(path.stem, path)
    return dict(sorted(found.items()))


def confined(project: Project, base: Path, rel: str) -> Path | None:
    """`rel` resolved against `base`, or None when it leaves the project (`..`, symlink)."""
    candidate = Path(rel)
    if candidate.is_absolute() or "\0" in rel:  # a NUL byte names no file (resolve() raises)
        return None
    resolved = (base / candidate).resolve()
    return resolved if paths.is_inside(project.root, resolved) else None


def parse_suite(
    data: yamlio.YamlMap,
    name: str,
    path: Path,
    shown: str,
    project: Project,
    checker: Checker,
    *,
    exists: Exists = Path.is_file,
) -> Suite | None:
    """Validate a loaded suite file; every problem goes to `checker`. None if unusable.

    `exists` says whether a file the suite names (dataset, judge template) is there: the
    working tree by default, or the files of a git revision (history/snapshot.py).
    """
    checker.keys(data, SUITE_KEYS, "suite file", required=("prompt", "scorers"))
    prompt_ref = checker.typed(data, "prompt", str, what="suite file")
    dataset = _dataset(data, path, project, checker, exists)
    inline = _inline_cases(data, shown, checker)
    if dataset is not None and inline is not None:
        checker.add("PC004", "use either `dataset` or `cases`, not both", data.key_loc("cases"))
    if "dataset" not in data and "cases" not in data:
        checker.add(
            "PC005",
            "suite file needs `dataset` or `cases`",
            data.loc,
            "add `dataset: data/<file>.jsonl` or an inline `cases:` list",
        )
    repeat = checker.number(data, "repeat", "suite file", low=1, high=100, integer=True)
    scorers = _scorers(data, path, project, checker, exists)
    gate = _gate(data, checker, scorers or [])
    checker.typed(data, "description", str, what="suite file")
    record_outputs = checker.typed(data, "record_outputs", bool, what="suite file")
    canary = checker.typed(data, "canary", str, what="suite file")
    if canary is not None and not canary.isidentifier():
        checker.add(
            "PC004",
            f"canary {canary!r} must be a variable name",
            data.value_loc("canary"),
            "name the prompt variable that carries the token, e.g. `canary: canary`",
        )
    if checker.errors or prompt_ref is None or scorers is None:
        return None
    if repeat is None:
        repeat = project.config.defaults.repeat or 1
    judge_templates = [s.options.get("template") for s in scorers if s.options.get("template")]
    return Suite(
        name=name,
        path=str(path),
        prompt_ref=prompt_ref,
        dataset=str(dataset) if dataset is not None else None,
        cases=tuple(inline or ()),
        repeat=int(repeat),
        scorers=tuple(scorers),
        gate=gate,
        judge_template=judge_templates[0] if judge_templates else None,
        record_outputs=record_outputs is not False,
        canary=canary,
        source=Location(shown, 1, 1),
    )


def _dataset(
    data: yamlio.YamlMap, path: Path, project: Project, checker: Checker, exists: Exists
) -> Path | None:
    rel = checker.typed(data, "dataset", str, what="suite file")
    if rel is None:
        return None
    where = data.value_loc("dataset")
    resolved = confined(project, path.parent, rel)
    if resolved is None:
        checker.add(
            "PC004",
            f"dataset {rel!r} leaves the project",
            where,
            "datasets must live inside the project (no absolute paths, `..` or symlinks "
            "pointing outside)",
        )
        return None
    if resolved.suffix.lower() not in DATASET_SUFFIXES:
        checker.add("PC004", f"dataset {rel!r} must be .jsonl, .yaml or .csv", where)
        return None
    if not exists(resolved):
        checker.add(
            "PC202",
            f"dataset {rel!r} not found",
            where,
            f"paths are relative to the suite file ({project.rel(path.parent)}/)",
        )
        return None
    return resolved


def _inline_cases(data: yamlio.YamlMap, shown: str, checker: Checker) -> list[Case] | None:
    if "cases" not in data:
        return None
    raw = checker.typed(data, "cases", list, what="suite file")
    if raw is None:
        return None
    from promptctl.evals import datasets

    cases: list[Case] = []
    for i, item in enumerate(raw):
        try:
            cases.append(datasets.case_from_mapping(item, raw.item_loc(i) or Location(shown)))
        except UsageError as e:
            checker.add("PC207", e.message, e.where, e.hint)
    return cases


def _scorers(
    data: yamlio.YamlMap, path: Path, project: Project, checker: Checker, exists: Exists
) -> list[ScorerSpec] | None:
    raw = checker.typed(data, "scorers", list, what="suite file")
    if raw is None:
        return None
    if not raw:
        checker.add(
            "PC004", "scorers is empty", data.value_loc("scorers"), "add at least one scorer"
        )
        return None
    from promptctl import scorers as registry

    specs: list[ScorerSpec] = []
    seen: dict[str, Location | None] = {}
    for i, item in enumerate(raw):
        what = f"scorers[{i}]"
        if not isinstance(item, yamlio.YamlMap):
            checker.add("PC004", f"{what} must be a mapping with id and type", raw.item_loc(i))
            continue
        checker.keys(item, SCORER_KEYS, what, required=("type",))
        type_name = checker.typed(item, "type", str, what=what)
        if type_name is None:
            continue
        try:
            base, negate = registry.resolve_type(type_name)
        except UsageError as e:
            checker.add("PC206", e.message, item.value_loc("type"), e.hint)
            continue
        sid = checker.typed(item, "id", str, what=what) or type_name
        if sid in seen:
            first = seen[sid]
            checker.add(
                "PC208",
                f"scorer id {sid!r} is used twice (first at line {first.line if first else '?'})",
                item.key_loc("id") or item.loc,
                "give each scorer a distinct `id:`",
            )
            continue
        seen[sid] = item.key_loc("id") or item.loc
        options = {k: yamlio.plain(v) for k, v in item.items() if k not in ("id", "type", "value")}
        if "template" in options and isinstance(options["template"], str):
            tpl = confined(project, path.parent, options["template"])
            if tpl is None or not exists(tpl):
                checker.add(
                    "PC004",
                    f"{what}: judge template {options['template']!r} not found inside the project",
                    item.value_loc("template"),
                    "paths are relative to the suite file",
                )
                continue
            options["template"] = str(tpl)
        spec = ScorerSpec(
            id=sid,
            type=base,
            negate=negate,
            value=yamlio.plain(item.get("value")),
            options=options,
            source=item.loc,
        )
        value = spec.value
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            from promptctl.prompts import rendering

            try:  # a broken `value` template would otherwise fail every case at run time
                rendering.compile_message(item.value_loc("value"), value, None)
            except UsageError as e:
                checker.add(
                    "PC101", f"scorer {sid!r}: {e.message}", item.value_loc("value"), e.hint
                )
        for code, message, key in registry.check_spec(spec):
            where = item.value_loc(key) if key in item else item.loc
            checker.add(code, f"scorer {sid!r}: {message}", where)
        specs.append(spec)
    return specs


def _gate(data: yamlio.YamlMap, checker: Checker, scorers: list[ScorerSpec]) -> Gate:
    raw = checker.typed(data, "gate", dict, what="suite file")
    if raw is None:
        return Gate()
    checker.keys(raw, GATE_KEYS, "gate")
    family = raw.get("family", "eval")
    if family not in FAMILIES:
        checker.add(
            "PC004",
            f"gate: family must be one of {', '.join(FAMILIES)}, not {family!r}",
            raw.value_loc("family"),
            "eval (the default) keeps the false-alarm rate of the whole eval at alpha; "
            "suite corrects this suite's scorers among themselves only",
        )
        family = "eval"
    on_inc = checker.typed(raw, "on_inconclusive", str, what="gate") or "warn"
    if on_inc not in ("warn", "fail"):
        checker.add(
            "PC004", "gate: on_inconclusive must be warn or fail", raw.value_loc("on_inconclusive")
        )
    max_drop = checker.number(raw, "max_drop", "gate", low=0, high=1)
    advisory = checker.typed(raw, "advisory", list, what="gate") or []
    if any(not isinstance(a, str) for a in advisory):
        checker.add(
            "PC004", "gate: advisory must be a list of scorer ids", raw.value_loc("advisory")
        )
        advisory = []
    alpha = checker.number(raw, "alpha", "gate", low=0, high=1)
    return Gate.from_fields(
        {
            "min_pass_rate": checker.number(raw, "min_pass_rate", "gate", low=0, high=1),
            "max_drop": None if max_drop is None else float(max_drop),
            "alpha": None if alpha is None else float(alpha),
            "max_cost_usd": checker.number(raw, "max_cost_usd", "gate", low=0),
            "on_inconclusive": on_inc,
            "advisory": [str(a) for a in advisory],
            "family": str(family),
            "metric": dict(_metrics(raw, checker, scorers)),
        }
    )


def _metrics(
    raw: yamlio.YamlMap, checker: Checker, scorers: list[ScorerSpec]
) -> tuple[tuple[str, str], ...]:
    """gate.metric: one metric for every scorer, or scorer id -> metric (issue 17 §2)."""
    if "metric" not in raw:
        return ()
    value = raw["metric"]
    wanted: dict[str, tuple[str, Location | None]] = {}
    if isinstance(value, str):
        wanted = {s.id: (value, raw.value_loc("metric")) for s in scorers}
    elif isinstance(value, yamlio.YamlMap):
        for sid, metric in value.items():
            where = value.value_loc(sid)
            if not any(s.id == sid for s in scorers):
                checker.add(
                    "PC004",
                    f"gate: metric names the unknown scorer {sid!r}",
                    value.key_loc(sid) or where,
                    did_you_mean(str(sid), [s.id for s in scorers]) or None,
                )
                continue
            wanted[str(sid)] = (metric, where)
    else:
        checker.add(
            "PC004",
            "gate: metric must be pass_rate, mean_score, or a mapping of scorer id to one",
            raw.value_loc("metric"),
        )
        return ()
    from promptctl import scorers as registry

    out: list[tuple[str, str]] = []
    for spec in scorers:
        if spec.id not in wanted:
            continue
        metric, where = wanted[spec.id]
        if metric not in METRICS:
            checker.add(
                "PC004",
                f"gate: metric of {spec.id!r} must be pass_rate or mean_score, not {metric!r}",
                where,
            )
        elif metric == "mean_score" and not registry.is_graded(spec.type):
            checker.add(
                "PC004",
                f"gate: metric mean_score needs a graded score, but scorer {spec.id!r} "
                f"({spec.type}) only passes or fails",
                where,
                "mean_score suits graded scorers (llm-judge, latency, cost, levenshtein, "
                "word-count, length); pass_rate the rest",
            )
        elif metric == "mean_score":
            out.append((spec.id, metric))
    return tuple(sorted(out))


def check_suite_file(project: Project, path: Path) -> tuple[Suite | None, Checker]:
    """Parse one suite file, returning what could be built and every finding."""
    shown = project.rel(path)
    checker = Checker(shown)
    data = yamlio.load_mapping(path, shown, what="suite file", root=project.root)
    return parse_suite(data, path.stem, path, shown, project, checker), checker


def parse_suite_bytes(
    project: Project, path: Path, raw: bytes, *, shown: str, exists: Exists
) -> tuple[Suite | None, Checker]:
    """The same parser over a suite file's bytes, e.g. as committed at a git revision."""
    checker = Checker(shown)
    data = yamlio.loads(yamlio.decode(raw, shown), shown)
    mapping = yamlio.expect_mapping(data, shown, what="suite file")
    suite = parse_suite(mapping, path.stem, path, shown, project, checker, exists=exists)
    return suite, checker


def load_suite(project: Project, path: Path) -> Suite:
    suite, checker = check_suite_file(project, path)
    checker.raise_first()
    assert suite is not None
    return suite


def select(project: Project, names: list[str] | None = None) -> list[Suite]:
    """The suites named (by stem, or a path to a suite file), or every suite when none are."""
    files = suite_files(project)
    if not names:
        if not files:
            raise UsageError(
                f"no suites under {project.rel(project.evals_dir)}/",
                hint="add evals/<suite>.yaml (see docs/suites.md) or run `promptctl init`",
            )
        return [load_suite(project, p) for p in files.values()]
    out: list[Suite] = []
    for name in names:
        path = _by_name(project, files, name)
        out.append(load_suite(project, path))
    return out


def _by_name(project: Project, files: dict[str, Path], name: str) -> Path:
    if name in files:
        return files[name]
    as_path = Path(name)
    if as_path.suffix in (".yaml", ".yml") and as_path.is_file():
        return as_path.resolve()
    hint = did_you_mean(name, files)
    listing = ", ".join(files) or f"none under {project.rel(project.evals_dir)}/"
    raise UsageError(
        f"unknown suite {name!r}", hint=(hint + " " if hint else "") + f"known suites: {listing}"
    )
