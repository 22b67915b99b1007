"""Real promptfoo example configs (tests/data/interop/corpus, MIT) imported and evaluated on the
mock provider: at least 80% of declared tests land as cases of suites that run, with no internal
error and no file path imported as the text of a prompt."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

CORPUS = Path(__file__).resolve().parents[1] / "data" / "interop" / "corpus"
CONFIGS = sorted(CORPUS.glob("*/promptfooconfig*.yaml"))
# openai/... and anthropic/... answer from the mock; judges too (mock/judge by default).
ROUTING = (
    "providers:\n  openai: {type: mock}\n  anthropic: {type: mock}\n"
    "defaults: {judge_model: mock/judge}\n"
)
PATHLIKE = re.compile(r"^\s*(?:file://)?[\w./*-]+\.(?:txt|json|jsonl|ya?ml|csv|md|j2|py|js)\s*$")


def declared_tests(config: Path) -> int:
    """How many tests promptfoo would run per prompt and provider, counted from the files."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw = data.get("tests") or []
    items = [raw] if isinstance(raw, str) else raw
    count = 0
    for item in items:
        if isinstance(item, str):
            path = config.parent / item.removeprefix("file://")
            if path.suffix == ".csv" and path.is_file():
                rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
                count += sum(1 for r in rows[1:] if any(c.strip() for c in r))
            elif path.is_file():
                count += len(yaml.safe_load(path.read_text(encoding="utf-8")) or [])
        else:
            arrays = [v for v in (item.get("vars") or {}).values() if isinstance(v, list)]
            n = 1
            for values in arrays:
                n *= len(values)
            count += n
    return count


def import_and_run(project: Any, config: Path) -> tuple[int, list[str]]:
    """(cases that ran in some suite, problems) for one config in a fresh project.

    The `similar` extra is made absent, so every machine counts the same: a suite whose
    scorer needs it stops with exit 2 (it does not run; not an internal error).
    """
    from promptctl.scorers import similar

    similar.offline_model.cache_clear()
    problems: list[str] = []
    src = project.root / "pf"
    shutil.copytree(config.parent, src)
    project.write("promptctl.yaml", ROUTING)
    r = project.run("import", f"pf/{config.name}")
    if r.code == 2 and "nothing importable" in r.err:
        return 0, problems
    if r.code != 0:
        return 0, [f"import exit {r.code}: {r.err[-300:]}"]
    for prompt in (project.root / "prompts").glob("*.yaml"):
        doc = yaml.safe_load(prompt.read_text(encoding="utf-8"))
        texts = [doc.get("template") or ""] + [m["content"] for m in doc.get("messages") or []]
        problems += [
            f"{prompt.name}: path imported as text: {t!r}" for t in texts if PATHLIKE.match(t)
        ]
    ran: set[str] = set()
    for suite in sorted((project.root / "evals").glob("*.yaml")):
        r = project.run("eval", suite.stem, "--offline", "--format", "json")
        if r.code == 2 and "internal error" not in r.err:
            continue  # a suite that cannot run as imported (e.g. needs an extra): not counted
        if r.code not in (0, 1):
            problems.append(f"eval {suite.stem}: exit {r.code}: {r.err[-300:]}")
            continue
        for result in json.loads(r.out)["suites"]:
            run = Path(result["run_dir"]) / "results.jsonl"
            ran |= {json.loads(line)["case_id"] for line in run.read_text().splitlines()}
    return len(ran), problems


@pytest.fixture(autouse=True)
def _no_similar_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "wordllama", None)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.parent.name)
def test_each_config_imports_and_runs_without_an_internal_error(project: Any, config: Path) -> None:
    landed, problems = import_and_run(project, config)
    assert problems == []
    assert landed <= declared_tests(config)


def test_at_least_80_percent_of_declared_tests_land_in_suites_that_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import Project

    assert len(CONFIGS) >= 20
    declared = landed = 0
    per: dict[str, tuple[int, int]] = {}
    for config in CONFIGS:
        root = tmp_path / config.parent.name
        root.mkdir()
        monkeypatch.chdir(root)
        got, problems = import_and_run(Project(root=root, capsys=capsys), config)
        assert problems == [], config
        per[config.parent.name] = (got, declared_tests(config))
        declared += per[config.parent.name][1]
        landed += got
    share = landed / declared
    print(f"corpus: {landed}/{declared} declared tests landed ({share:.0%}): {per}")
    assert share >= 0.8, per
