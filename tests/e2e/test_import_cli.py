"""`promptctl import` and `promptctl schema` end to end: files on disk, exit codes, and the
imported project linting clean and running `promptctl eval` against the mock provider."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parents[1] / "data" / "interop"
GH = DATA / "ghmodels"


def copy(project, src: Path, dest: str) -> str:
    target = project.root / dest
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)
    return dest


def test_prompt_yml_import_writes_a_project_that_lints_and_renders(project) -> None:
    # github/similarity becomes a judge rubric: graded by the project's default judge.
    project.write("promptctl.yaml", "defaults: {judge_model: mock/judge}\n")
    src = copy(project, GH / "ticket-triage.prompt.yml", "src/ticket-triage.prompt.yml")
    r = project.run("import", src)
    assert r.code == 0, r.err
    assert r.out == (
        "wrote prompts/ticket-triage.yaml\n"
        "wrote evals/data/ticket-triage.jsonl\n"
        "wrote evals/ticket-triage.yaml\n"
    )
    assert "NOT imported" not in r.err
    assert (
        "note: src/ticket-triage.prompt.yml:68:5: evaluator 'Similar to expected': became an "
        "llm-judge rubric graded by defaults.judge_model" in r.err
    )
    snapshot = DATA / "expected" / "ticket-triage" / "prompts" / "ticket-triage.yaml"
    written = project.read("prompts/ticket-triage.yaml")
    assert written.split("\n", 1)[1] == snapshot.read_text(encoding="utf-8").split("\n", 1)[1]

    lint = project.run("lint")
    assert lint.code == 0, lint.out + lint.err
    listed = project.run("list", "--format", "json")
    assert [p["name"] for p in json.loads(listed.out)] == ["ticket-triage"]
    rendered = project.run(
        "render", "ticket-triage", "--var", "product=Acme", "--var", "ticket=Help"
    )
    assert rendered.code == 0 and "You triage support tickets for Acme." in rendered.out


def test_dry_run_prints_and_writes_nothing(project) -> None:
    src = copy(project, GH / "text-summarizer.prompt.yml", "text-summarizer.prompt.yml")
    r = project.run("import", src, "--dry-run")
    assert r.code == 0, r.err
    assert "--- prompts/text-summarizer.yaml ---\n# Imported by promptctl" in r.out
    assert "--- evals/text-summarizer.yaml ---" in r.out
    assert "would import 1 prompt(s), 1 suite(s), 1 dataset(s)" in r.err
    assert sorted(p.name for p in project.root.iterdir()) == ["text-summarizer.prompt.yml"]


def test_existing_files_are_not_overwritten_without_force(project) -> None:
    src = copy(project, GH / "text-summarizer.prompt.yml", "text-summarizer.prompt.yml")
    project.write("prompts/text-summarizer.yaml", "model: mock/echo\ntemplate: mine\n")
    r = project.run("import", src)
    assert r.code == 2
    assert "error: refusing to overwrite prompts/text-summarizer.yaml" in r.err
    assert "--force" in r.err
    assert project.read("prompts/text-summarizer.yaml") == "model: mock/echo\ntemplate: mine\n"
    assert not (project.root / "evals").exists()  # nothing half-written
    r = project.run("import", src, "--force")
    assert r.code == 0, r.err
    assert "{{input}}" in project.read("prompts/text-summarizer.yaml")


def test_into_writes_to_another_directory(project) -> None:
    src = copy(project, GH / "json-mode.prompt.yml", "json-mode.prompt.yml")
    r = project.run("import", src, "--into", "elsewhere")
    assert r.code == 0, r.err
    assert (project.root / "elsewhere" / "prompts" / "extract-entities.yaml").is_file()
    assert not (project.root / "prompts").exists()


def test_neither_format_exits_2_with_location(project) -> None:
    src = copy(project, GH / "neither.yaml", "neither.yaml")
    r = project.run("import", src)
    assert r.code == 2
    assert r.err.startswith(
        "neither.yaml:1:1: error: neither a GitHub Models .prompt.yml nor a promptfoo config"
    )
    assert "Traceback" not in r.err and r.out == ""


def test_malformed_yaml_exits_2_with_location(project) -> None:
    src = copy(project, GH / "malformed.prompt.yml", "malformed.prompt.yml")
    r = project.run("import", src)
    assert r.code == 2
    assert r.err.startswith("malformed.prompt.yml:5:1: error: YAML syntax error")
    assert "Traceback" not in r.err


def test_missing_file_exits_2(project) -> None:
    r = project.run("import", "nope.prompt.yml")
    assert r.code == 2 and "nope.prompt.yml: error: file not found" in r.err


def test_nothing_importable_exits_2_and_lists_why(project) -> None:
    project.write(
        "promptfooconfig.yaml",
        """\
        prompts: ['Hi {{ name }}']
        providers:
          - bedrock:anthropic.claude-3-haiku
          - id: file://provider.js
        tests:
          - vars: {name: Bo}
            assert: [{type: javascript, value: 'output.length > 0'}]
        """,
    )
    r = project.run("import", "promptfooconfig.yaml")
    assert r.code == 2
    assert "promptfooconfig.yaml:3:5: provider bedrock:anthropic.claude-3-haiku" in r.err
    assert "promptfooconfig.yaml:4:5: provider file://provider.js" in r.err
    assert "promptfooconfig.yaml:7:14: assert javascript" in r.err
    assert "error: nothing importable in promptfooconfig.yaml" in r.err
    assert not (project.root / "prompts").exists()


def test_promptfoo_import_lints_clean(project) -> None:
    for rel in ("promptfooconfig.yaml", "prompts/reply.txt", "prompts/chat.json", "tests.csv"):
        copy(project, DATA / "promptfoo" / rel, f"pf/{rel}")
    r = project.run("import", "pf/promptfooconfig.yaml")
    assert r.code == 0, r.err
    assert "warning: 5 item(s) NOT imported" in r.err
    assert "pf/promptfooconfig.yaml:59:9: assert javascript" in r.err
    assert "sk-ant-not-a-real-key" not in r.out + r.err
    assert "imported 4 prompt(s), 4 suite(s), 1 dataset(s)" in r.err
    lint = project.run("lint")
    assert lint.code == 0, lint.out + lint.err


def test_promptfoo_echo_import_evals_against_the_mock(project) -> None:
    copy(project, DATA / "promptfoo-echo" / "promptfooconfig.yaml", "promptfooconfig.yaml")
    assert project.run("import", "promptfooconfig.yaml").code == 0
    r = project.run("eval", "echo-smoke-test")
    assert r.code == 0, r.out + r.err
    summary = next((project.root / ".promptctl" / "runs").glob("*/summary.json"))
    text = summary.read_text(encoding="utf-8")
    assert "echo-smoke-test" in text
    results = next((project.root / ".promptctl" / "runs").glob("*/results.jsonl"))
    lines = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert {line["case_id"] for line in lines} == {"test-001", "test-002"}


def test_prompt_yml_import_evals_with_openai_routed_to_the_mock(project) -> None:
    # A test-only promptctl.yaml sends `openai/...` to the mock: no network, no key.
    project.write("promptctl.yaml", "providers:\n  openai: {type: mock}\n")
    src = copy(project, GH / "text-summarizer.prompt.yml", "text-summarizer.prompt.yml")
    assert project.run("import", src).code == 0
    assert project.run("lint").code == 0
    r = project.run("eval", "text-summarizer")
    assert r.code == 0, r.out + r.err
    assert "text-summarizer" in r.out


def test_schema_prints_each_kind(project) -> None:
    for kind in ("prompt", "suite", "config", "labels"):
        r = project.run("schema", kind)
        assert r.code == 0
        assert json.loads(r.out)["$id"] == f"urn:promptctl:schema:{kind}"
    r = project.run("schema", "sutie")
    assert r.code == 2
    assert "error: unknown schema 'sutie'" in r.err and "did you mean 'suite'" in r.err


def test_round_trip_through_promote_and_export(git_project) -> None:
    original = (GH / "ticket-triage.prompt.yml").read_text(encoding="utf-8")
    git_project.write("promptctl.yaml", "providers:\n  openai: {type: mock}\n")
    src = copy(git_project, GH / "ticket-triage.prompt.yml", "ticket-triage.prompt.yml")
    assert git_project.run("import", src).code == 0
    git_project.commit("import")
    r = git_project.run("promote", "ticket-triage", "--to", "staging", "--force", "--reason", "t")
    assert r.code == 0, r.err
    r = git_project.run("export", "--label", "staging", "--format", "prompt-yml", "-o", "out.yml")
    assert r.code == 0, r.err
    before, after = yaml.safe_load(original), yaml.safe_load(git_project.read("out.yml"))
    for key in (
        "description",
        "model",
        "modelParameters",
        "responseFormat",
        "messages",
        "testData",
    ):
        assert after[key] == before[key], key
    assert json.loads(after["jsonSchema"]) == json.loads(before["jsonSchema"])
    assert [e.get("string") or e.get("llm") or e.get("uses") for e in after["evaluators"]] == [
        e.get("string") or e.get("llm") or e.get("uses") for e in before["evaluators"]
    ]
