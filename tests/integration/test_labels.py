"""labels.yaml: deterministic text, atomic writes, validation with file:line, lint codes."""

from __future__ import annotations

import os

import pytest

from promptctl.errors import UsageError
from promptctl.labels import store as labels
from promptctl.labels.store import LabelEntry
from promptctl.project import config, files
from promptctl.project.checks import Checker
from tests.integration.test_git_history import PROMPT, seed, version_of


def test_dumps_is_deterministic_sorted_one_line_per_label_and_round_trips() -> None:
    pointers = {
        "support/triage": {"staging": LabelEntry(version="0123456789ab", commit="abcdef012345")},
        "summarize": {
            "staging": LabelEntry(version="123456789012", commit="9d8e7f6a5b4c"),
            "production": LabelEntry(
                version="8c1e2f0a9b7d",
                commit="3f2a1c9d8e7f",
                previous="1a2b3c4d5e6f",
                promoted_at="2026-11-25T12:00:00Z",
                reason='hotfix: "quotes", #hash and: colon',
            ),
        },
    }
    text = labels.dumps(pointers)
    assert text == labels.HEADER + (
        "summarize:\n"
        "  production: {version: 8c1e2f0a9b7d, commit: 3f2a1c9d8e7f, previous: 1a2b3c4d5e6f, "
        'promoted_at: "2026-11-25T12:00:00Z", reason: "hotfix: \\"quotes\\", #hash and: colon"}\n'
        '  staging: {version: "123456789012", commit: 9d8e7f6a5b4c}\n'
        "support/triage:\n"
        "  staging: {version: 0123456789ab, commit: abcdef012345}\n"
    )
    assert labels.loads(text, "labels.yaml") == pointers
    assert labels.dumps(labels.loads(text, "labels.yaml")) == text


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("summarize:\n  production: [1\n", "labels.yaml:3:1", "YAML syntax error"),
        (
            "summarize:\n  Production: {version: 8c1e2f0a9b7d}\n",
            "labels.yaml:2:3",
            "not a valid label name",
        ),
        (
            "summarize:\n  production: {version: nothex}\n",
            "labels.yaml:2:25",
            "version must be 12 hex digits",
        ),
        (
            # the typo first, with its did-you-mean, not the missing key it explains
            "summarize:\n  production: {versoin: 8c1e2f0a9b7d}\n",
            "labels.yaml:2:16",
            "unknown key 'versoin'",
        ),
        ("- a\n", "labels.yaml:1:1", "must be a mapping"),
    ],
)
def test_malformed_labels_yaml_is_exit_2_with_file_line(git_project, text, where, words) -> None:
    p = git_project
    seed(p)
    p.write("labels.yaml", text, dedent=False)
    before = (p.root / "labels.yaml").read_bytes()
    for argv in (
        ["promote", "summarize", "--to", "production", "--force", "--reason", "r"],
        ["list"],
        ["render", "summarize@production", "--var", "ticket=x"],
    ):
        r = p.run(*argv)
        assert r.code == 2, (argv, r.err)
        assert r.err.startswith(f"{where}: error: "), r.err
        assert words in r.err
    assert (p.root / "labels.yaml").read_bytes() == before


def test_lint_reports_unknown_prompt_bad_label_and_unknown_version(git_project) -> None:
    p = git_project
    seed(p)
    v = version_of(p)
    p.write(
        "labels.yaml",
        (
            "summarize:\n"
            f"  production: {{version: {v}}}\n"
            "  staging: {version: 0000000000aa}\n"
            "  Bad: {version: 0000000000aa}\n"
            "ghost:\n"
            "  production: {version: 0000000000aa}\n"
        ),
        dedent=False,
    )
    r = p.run("lint", "--format", "json")
    assert r.code == 1
    found = {
        (f["code"], f["line"])
        for f in __import__("json").loads(r.out)
        if f["path"] == "labels.yaml"
    }
    assert found == {("PC403", 3), ("PC402", 4), ("PC401", 5)}


def test_update_writes_atomically_and_none_leaves_the_file_untouched(project) -> None:
    proj = config.load_project()
    files.write_atomic(
        proj.labels_file, "# hand-written\nsummarize:\n  production: {version: 8c1e2f0a9b7d}\n"
    )
    before = proj.labels_file.read_bytes()
    stat = os.stat(proj.labels_file)
    assert labels.update(proj, lambda current: None) is None
    assert proj.labels_file.read_bytes() == before
    assert os.stat(proj.labels_file).st_mtime_ns == stat.st_mtime_ns

    def add(current: labels.Labels) -> labels.Labels:
        current["summarize"]["staging"] = LabelEntry(version="1a2b3c4d5e6f")
        return current

    labels.update(proj, add)
    assert labels.read(proj)["summarize"]["staging"].version == "1a2b3c4d5e6f"
    assert labels.read(proj)["summarize"]["production"].version == "8c1e2f0a9b7d"
    leftovers = [n for n in os.listdir(project.root) if n.endswith(".tmp")]
    assert leftovers == []
    assert (project.root / ".promptctl" / ".gitignore").read_text() == "*\n"


def test_parse_collects_every_problem_for_lint() -> None:
    from promptctl.project import yamlio

    checker = Checker("labels.yaml")
    data = yamlio.loads(
        "a:\n  X: {version: 1}\n  ok: {version: 0123456789ab, extra: 1}\n", "labels.yaml"
    )
    labels.parse(data, checker)
    assert [f.code for f in checker.findings] == ["PC402", "PC003"]


def test_invalid_label_name_on_promote_is_exit_2(git_project) -> None:
    seed(git_project)
    r = git_project.run("promote", "summarize", "--to", "Prod!", "--force", "--reason", "r")
    assert r.code == 2 and "'Prod!' is not a valid label name" in r.err
    assert not (git_project.root / "labels.yaml").exists()


def test_prompt_file_unchanged_here(git_project) -> None:
    # Reading labels never rewrites them: list and render leave labels.yaml byte-identical.
    p = git_project
    seed(p)
    p.write(
        "labels.yaml",
        f"summarize:   # hand formatted\n  production:\n    version: {version_of(p)}\n",
        dedent=False,
    )
    before = (p.root / "labels.yaml").read_bytes()
    assert p.run("list").code == 0
    assert p.run("render", "summarize@production", "--var", "ticket=x").code == 0
    assert (p.root / "labels.yaml").read_bytes() == before
    assert PROMPT  # the shared prompt is what version_of measured


def test_reading_an_invalid_labels_file_raises_usage_error(project) -> None:
    project.write("labels.yaml", "a: [\n", dedent=False)
    with pytest.raises(UsageError) as info:
        labels.read(config.load_project())
    assert str(info.value.where) == "labels.yaml:2:1"


def test_check_config_reports_every_problem_with_locations(project) -> None:
    from promptctl.lint.project import check_config
    from promptctl.project.config import Config, Project

    proj = Project(root=project.root, config=Config())
    path = project.write(
        "promptctl.yaml",
        "provders: {}\nproviders:\n  local: {type: openai, api_key_env: GITHUB_TOKEN}\n",
        dedent=False,
    )
    found = [(f.code, str(f.where)) for f in check_config(proj, path)]
    assert found == [("PC003", "promptctl.yaml:1:1"), ("PC302", "promptctl.yaml:3:38")]
    project.write("promptctl.yaml", "providers: [\n", dedent=False)
    assert [(f.code, str(f.where)) for f in check_config(proj, path)] == [
        ("PC001", "promptctl.yaml:2:1")
    ]
