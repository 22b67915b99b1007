"""The effective version covers every partial a prompt loads; NAME@label renders the labelled
commit's bytes everywhere (issue 14 §1, §2, §7)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import promptctl
from promptctl.model import canonical_json
from promptctl.project import config
from promptctl.prompts import loader

REPO = Path(__file__).resolve().parents[2]

GREET = (
    "model: mock/echo\n"
    "messages:\n"
    "  - {role: system, content: \"{% include 'outer.j2' %}\"}\n"
    "  - {role: user, content: '{{ who }}'}\n"
    "input: {who: {type: string}}\n"
)
DIRECT = "model: mock/echo\ntemplate: \"{% include 'inner.j2' %} {{ who }}\"\ninput: {who: {}}\n"
PLAIN = "model: mock/echo\ntemplate: 'hello {{ who }}'\ninput: {who: {}}\n"


def _seed(p) -> None:  # type: ignore[no-untyped-def]
    p.write("prompts/greet.yaml", GREET, dedent=False)
    p.write("prompts/direct.yaml", DIRECT, dedent=False)
    p.write("prompts/plain.yaml", PLAIN, dedent=False)
    p.write("prompts/partials/outer.j2", "Signed: {% include 'inner.j2' %}", dedent=False)
    p.write("prompts/partials/inner.j2", "the team", dedent=False)


def _versions(root: Path) -> dict[str, str]:
    project = config.load_project(root)
    return {p.name: p.version for p in loader.load_all(project)}


def test_a_prompt_without_partials_keeps_the_version_of_its_content_alone() -> None:
    project = config.load_project(REPO)
    prompt = loader.load_prompt_file(project, project.prompts_dir / "classify.yaml")
    content = hashlib.sha256(canonical_json(loader.canonical_form(prompt)).encode()).hexdigest()
    assert prompt.partials == {}
    assert prompt.version == content[:12] == "caaf92515be6"  # as its committed baseline records
    baseline = json.loads((REPO / "evals/baselines/classify.json").read_text())
    assert baseline["prompt_version"] == prompt.version


def test_editing_a_partial_changes_every_prompt_that_includes_it_transitively(project) -> None:
    _seed(project)
    before = _versions(project.root)
    project.write("prompts/partials/inner.j2", "the whole team", dedent=False)
    after = _versions(project.root)
    assert after["greet"] != before["greet"]  # through outer.j2
    assert after["direct"] != before["direct"]
    assert after["plain"] == before["plain"]
    project.write("prompts/partials/inner.j2", "the team", dedent=False)
    assert _versions(project.root) == before  # same rendering inputs, same version


def test_the_snapshot_holds_each_partial_read_from_the_prompts_revision(git_project) -> None:
    p = git_project
    _seed(p)
    first = p.commit("seed")
    p.write("prompts/partials/inner.j2", "nobody", dedent=False)
    project = config.load_project(p.root)
    then = loader.resolve(f"greet@{first}", project)
    assert dict(then.partials) == {
        "inner.j2": "the team",
        "outer.j2": "Signed: {% include 'inner.j2' %}",
    }
    assert then.render(who="x")[0]["content"] == "Signed: the team"
    assert loader.resolve("greet", project).render(who="x")[0]["content"] == "Signed: nobody"


def test_load_render_export_and_bundle_agree_byte_for_byte_on_a_label(
    git_project, tmp_path, monkeypatch
) -> None:
    p = git_project
    _seed(p)
    p.commit("seed")
    labelled = _versions(p.root)["greet"]
    assert p.run("promote", "greet", "--to", "production", "--force", "--reason", "r").code == 0
    p.commit("label")
    p.write("prompts/partials/inner.j2", "SOMEONE ELSE", dedent=False)  # the working tree moves

    via_load = promptctl.load("greet", label="production", root=p.root)
    assert via_load.version == labelled
    r = p.run("render", "greet@production", "--var", "who=Ann", "--format", "json")
    assert r.code == 0, r.err
    via_render = json.loads(r.out)
    bundle = tmp_path / "bundle.json"
    assert p.run("export", "--label", "production", "-o", str(bundle)).code == 0
    assert json.loads(bundle.read_text())["prompts"]["greet"]["version"] == labelled
    monkeypatch.setenv("PROMPTCTL_BUNDLE", str(bundle))
    via_bundle = promptctl.load("greet", label="production")
    monkeypatch.delenv("PROMPTCTL_BUNDLE")

    expected = [
        {"role": "system", "content": "Signed: the team"},
        {"role": "user", "content": "Ann"},
    ]
    assert via_load.render(who="Ann") == expected
    assert via_bundle.render(who="Ann") == expected
    assert via_bundle.version == labelled
    messages = via_render["messages"] if isinstance(via_render, dict) else via_render
    assert [{"role": m["role"], "content": m["content"]} for m in messages] == expected
    # the working tree renders its own bytes, under another version
    assert promptctl.load("greet", root=p.root).render(who="Ann")[0]["content"] == (
        "Signed: SOMEONE ELSE"
    )
    assert promptctl.load("greet", root=p.root).version != labelled


def test_a_committed_partial_edit_is_a_new_version_that_needs_evidence(git_project) -> None:
    p = git_project
    _seed(p)
    p.commit("seed")
    assert p.run("promote", "greet", "--to", "production", "--force", "--reason", "r").code == 0
    p.commit("label")
    old = _versions(p.root)["greet"]
    p.write("prompts/partials/inner.j2", "a stranger", dedent=False)
    p.commit("partial only")
    r = p.run("promote", "greet", "--to", "production")
    assert r.code == 1, r.out + r.err
    assert "nothing to do" not in r.out + r.err
    assert promptctl.load("greet", label="production", root=p.root).version == old
    assert (
        promptctl.load("greet", label="production", root=p.root).render(who="x")[0]["content"]
        == "Signed: the team"
    )


def test_log_lists_the_commit_that_changed_only_a_partial(git_project) -> None:
    p = git_project
    _seed(p)
    p.commit("seed")
    p.write("prompts/plain.yaml", PLAIN.replace("hello", "hi"), dedent=False)
    p.commit("another prompt only")
    p.write("prompts/partials/inner.j2", "a stranger", dedent=False)
    p.commit("partial only")
    r = p.run("log", "greet", "--format", "json")
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    rows = rows["versions"]
    assert [row["changed"] for row in rows] == [["partial:inner.j2"], ["added"]]
    assert rows[0]["version"] == _versions(p.root)["greet"]


def test_a_partial_missing_at_the_revision_is_an_error_at_the_template_line(git_project) -> None:
    p = git_project
    p.write("prompts/greet.yaml", DIRECT, dedent=False)
    rev = p.commit("no partial committed")
    p.write("prompts/partials/inner.j2", "the team", dedent=False)
    assert p.run("render", "greet", "--var", "who=x").code == 0
    r = p.run("render", f"greet@{rev[:7]}", "--var", "who=x")
    assert r.code == 2
    assert f"prompts/greet.yaml@{rev[:7]}:2:" in r.err
    assert "partial 'inner.j2' not found" in r.err
    assert "Traceback" not in r.err


@pytest.mark.parametrize("kind", ["baseline", "label"])
def test_lint_warns_when_a_recorded_version_can_no_longer_be_produced(git_project, kind) -> None:
    p = git_project
    _seed(p)
    p.commit("seed")
    stale = "e320c0197d14"  # e.g. written before partials counted in the version
    if kind == "label":
        p.write("labels.yaml", f"greet:\n  production: {{version: {stale}}}\n", dedent=False)
        code, where, fix = "PC403", "labels.yaml", "promptctl promote greet --to production"
    else:
        p.write(
            "evals/greet.yaml",
            "prompt: greet\ncases: [{id: a, vars: {who: x}}]\n"
            "scorers: [{id: s, type: contains, value: x}]\n",
            dedent=False,
        )
        assert p.run("eval", "greet").code == 0
        assert p.run("baseline", "update", "greet").code == 0
        path = p.root / "evals/baselines/greet.json"
        data = path.read_text()
        current = _versions(p.root)["greet"]
        path.write_text(data.replace(current, stale))
        code, where, fix = (
            "PC404",
            "evals/baselines/greet.json",
            ("promptctl eval greet && promptctl baseline update greet"),
        )
    p.commit("recorded")
    r = p.run("lint", "--format", "json")
    findings = json.loads(r.out)
    findings = findings["findings"] if isinstance(findings, dict) else findings
    mine = [f for f in findings if f["code"] == code]
    assert len(mine) == 1, r.out
    text = json.dumps(mine[0])
    assert stale in mine[0]["message"] and fix in mine[0]["hint"], text
    assert mine[0]["path"] == where and mine[0]["line"] >= 2
