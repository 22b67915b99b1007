"""write_vscode_settings: schemas copied, yaml.schemas wired, existing settings never destroyed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptctl.errors import UsageError
from promptctl.project.schemas import schema_text, write_vscode_settings

MAPPING = {
    "./.vscode/promptctl/prompt.schema.json": ["prompts/**/*.yaml", "prompts/**/*.yml"],
    "./.vscode/promptctl/suite.schema.json": ["evals/*.yaml", "evals/*.yml"],
    "./.vscode/promptctl/config.schema.json": ["promptctl.yaml"],
    "./.vscode/promptctl/labels.schema.json": ["labels.yaml"],
}


def settings(root: Path) -> str:
    return (root / ".vscode" / "settings.json").read_text(encoding="utf-8")


def test_fresh_project_gets_schemas_and_settings(tmp_path: Path) -> None:
    written = write_vscode_settings(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        ".vscode/promptctl/config.schema.json",
        ".vscode/promptctl/labels.schema.json",
        ".vscode/promptctl/prompt.schema.json",
        ".vscode/promptctl/suite.schema.json",
        ".vscode/settings.json",
    ]
    for kind in ("prompt", "suite", "config", "labels"):
        copied = tmp_path / ".vscode" / "promptctl" / f"{kind}.schema.json"
        assert copied.read_text(encoding="utf-8") == schema_text(kind)
    assert json.loads(settings(tmp_path)) == {"yaml.schemas": MAPPING}


def test_second_run_writes_nothing(tmp_path: Path) -> None:
    write_vscode_settings(tmp_path)
    before = settings(tmp_path)
    assert write_vscode_settings(tmp_path) == []
    assert settings(tmp_path) == before


def test_existing_settings_and_schemas_are_kept(tmp_path: Path) -> None:
    (tmp_path / ".vscode").mkdir()
    (tmp_path / ".vscode" / "settings.json").write_text(
        json.dumps({"editor.tabSize": 2, "yaml.schemas": {"other.json": ["x.yaml"]}}),
        encoding="utf-8",
    )
    write_vscode_settings(tmp_path)
    data = json.loads(settings(tmp_path))
    assert data["editor.tabSize"] == 2
    assert data["yaml.schemas"] == {"other.json": ["x.yaml"], **MAPPING}
    assert list(data) == ["editor.tabSize", "yaml.schemas"]


def test_settings_with_comments_keep_their_comments(tmp_path: Path) -> None:
    (tmp_path / ".vscode").mkdir()
    original = '// my settings {\n{\n  "editor.tabSize": 2, // two\n  /* block */ "a": "//x",\n}\n'
    (tmp_path / ".vscode" / "settings.json").write_text(original, encoding="utf-8")
    write_vscode_settings(tmp_path)
    text = settings(tmp_path)
    for kept in ("// my settings {", "// two", "/* block */", '"a": "//x"'):
        assert kept in text
    from promptctl.project.schemas import _strip_jsonc

    data = json.loads(_strip_jsonc(text))
    assert data["yaml.schemas"] == MAPPING and data["editor.tabSize"] == 2
    assert write_vscode_settings(tmp_path) == []  # already wired: left alone


def test_commented_settings_with_their_own_yaml_schemas_are_refused(tmp_path: Path) -> None:
    (tmp_path / ".vscode").mkdir()
    original = '{\n  // mine\n  "yaml.schemas": {"a.json": "b.yaml"}\n}\n'
    (tmp_path / ".vscode" / "settings.json").write_text(original, encoding="utf-8")
    with pytest.raises(UsageError, match="merging would lose them") as err:
        write_vscode_settings(tmp_path)
    assert "prompt.schema.json" in (err.value.hint or "")
    assert settings(tmp_path) == original


def test_broken_settings_are_reported_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / ".vscode").mkdir()
    (tmp_path / ".vscode" / "settings.json").write_text('{"a": }\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"settings\.json is not valid JSON") as err:
        write_vscode_settings(tmp_path)
    assert str(err.value.where) == ".vscode/settings.json:1:7"
    assert settings(tmp_path) == '{"a": }\n'


def test_globs_follow_configured_paths(tmp_path: Path) -> None:
    (tmp_path / "promptctl.yaml").write_text(
        "paths: {prompts: ai/prompts, evals: ai/evals, labels: ai/labels.yaml}\n", encoding="utf-8"
    )
    write_vscode_settings(tmp_path)
    mapping = json.loads(settings(tmp_path))["yaml.schemas"]
    assert mapping["./.vscode/promptctl/prompt.schema.json"][0] == "ai/prompts/**/*.yaml"
    assert mapping["./.vscode/promptctl/suite.schema.json"][0] == "ai/evals/*.yaml"
    assert mapping["./.vscode/promptctl/labels.schema.json"] == ["ai/labels.yaml"]
