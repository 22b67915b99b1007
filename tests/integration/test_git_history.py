"""log, diff and NAME@label in real temporary git repositories."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

import promptctl
from promptctl.errors import UsageError

PROMPT = """\
model: mock/echo
params: {temperature: 0.2, max_tokens: 300}
input:
  ticket: {type: string}
template: "Summarize: {{ ticket }}"
"""

SUITE = """\
prompt: summarize
cases:
  - {id: a, vars: {ticket: printer on fire}, critical: true}
  - {id: b, vars: {ticket: mouse missing}}
scorers:
  - {id: has, type: contains, value: "Summarize"}
  - {id: starts, type: starts-with, value: "Summarize"}
gate: {min_pass_rate: 0.9, max_drop: 0.05}
"""


# The same prompt fails this suite: mock/echo replies "Summarize: ...", never "Summary:".
FAILING_SUITE = """\
prompt: summarize
cases:
  - {id: a, vars: {ticket: printer on fire}}
  - {id: b, vars: {ticket: mouse missing}}
scorers:
  - {id: summary, type: starts-with, value: "Summary:"}
gate: {min_pass_rate: 0.9}
"""


def seed(p, prompt: str = PROMPT, suite: str = SUITE) -> str:
    """A committed project: one prompt, one suite; returns the commit."""
    p.write("prompts/summarize.yaml", prompt, dedent=False)
    p.write("evals/summarize.yaml", suite, dedent=False)
    return p.commit("add summarize")


def version_of(p, name: str = "summarize") -> str:
    r = p.run("list", "--format", "json")
    assert r.code == 0, r.err
    return next(row["version"] for row in json.loads(r.out) if row["name"] == name)


def test_log_lists_each_commit_with_version_changes_and_labels(git_project) -> None:
    p = git_project
    c1 = seed(p)
    v1 = version_of(p)
    p.write("prompts/summarize.yaml", PROMPT.replace("mock/echo", "mock/other"), dedent=False)
    c2 = p.commit("switch model")
    v2 = version_of(p)
    p.write(
        "prompts/summarize.yaml",
        "description: Summaries.\n" + PROMPT.replace("mock/echo", "mock/other"),
        dedent=False,
    )
    c3 = p.commit("describe it")
    p.write(
        "prompts/summarize.yaml",
        "description: Summaries.\n"
        + PROMPT.replace("mock/echo", "mock/other").replace("0.2", "0.7"),
        dedent=False,
    )
    c4 = p.commit("warmer")
    v4 = version_of(p)
    assert (
        p.run(
            "promote",
            f"summarize@{c1}",
            "--to",
            "production",
            "--force",
            "--reason",
            "first release",
        ).code
        == 0
    )
    assert p.run("promote", "summarize", "--to", "staging", "--force", "--reason", "try").code == 0

    r = p.run("log", "summarize", "--format", "json")
    assert r.code == 0, r.err
    rows = json.loads(r.out)["versions"]
    assert [row["commit"] for row in rows] == [c4, c3, c2, c1]
    assert [row["version"] for row in rows] == [v4, v2, v2, v1]
    assert [row["changed"] for row in rows] == [["params"], ["metadata"], ["model"], ["added"]]
    assert [row["labels"] for row in rows] == [["staging"], [], [], ["production"]]
    assert rows[0]["author"] == "Test User" and rows[0]["subject"] == "warmer"

    text = p.run("log", "summarize")
    assert text.code == 0
    lines = text.out.splitlines()
    assert lines[0].split() == [
        "COMMIT",
        "DATE",
        "AUTHOR",
        "VERSION",
        "CHANGED",
        "LABELS",
        "SUBJECT",
    ]
    assert v4 in lines[2] and "staging" in lines[2] and c4[:12] in lines[2]
    assert re.search(rf"{v1}\s+added\s+production", lines[5])


def test_log_shows_uncommitted_changes_first(git_project) -> None:
    p = git_project
    seed(p)
    p.write("prompts/summarize.yaml", PROMPT.replace("Summarize", "Sum up"), dedent=False)
    rows = json.loads(p.run("log", "summarize", "--format", "json").out)["versions"]
    assert rows[0]["commit"] is None and rows[0]["changed"] == ["text"]
    assert rows[0]["version"] == version_of(p)
    assert len(rows) == 2


def test_log_of_unknown_prompt_is_exit_2(git_project) -> None:
    seed(git_project)
    r = git_project.run("log", "sumarize")
    assert r.code == 2
    assert "unknown prompt 'sumarize'" in r.err and "did you mean 'summarize'" in r.err


RENAMED = """\
model: mock/echo
params: {temperature: 0.2, max_completion_tokens: 300}
input:
  ticket: {type: string}
  tone: {type: string, default: neutral}
template: "Summarize briefly: {{ ticket }}"
"""

LOOSER = """\
prompt: summarize
cases:
  - {id: a, vars: {ticket: printer on fire}}
scorers:
  - {id: has, type: contains, value: "Summarize"}
gate: {min_pass_rate: 0.5, max_drop: 0.2, alpha: 0.1}
"""


def test_diff_markdown_shows_renamed_params_and_loosened_gates(git_project) -> None:
    p = git_project
    sha = seed(p)
    v1 = version_of(p)
    p.write("prompts/summarize.yaml", RENAMED, dedent=False)
    p.write("evals/summarize.yaml", LOOSER, dedent=False)
    v2 = version_of(p)
    r = p.run("diff", "--format", "markdown")
    assert r.code == 0, r.err
    head = f"HEAD ({sha[:7]})"
    assert (
        r.out
        == f"""\
## promptctl diff: `{head}` -> `working tree`

> [!WARNING]
> **Gates loosened** by this change:
> - `summarize`: floor-lowered: min_pass_rate 0.9 -> 0.5
> - `summarize`: max-drop-raised: max_drop 0.05 -> 0.2
> - `summarize`: alpha-raised: alpha 0.05 -> 0.1
> - `summarize`: scorer-removed: scorer removed: starts
> - `summarize`: cases-removed: 1 case(s) removed: b
> - `summarize`: critical-removed: no longer critical: a

### `summarize` `{v1}` -> `{v2}`

- params: max_tokens renamed to max_completion_tokens (300)
- input: variable 'tone' added: {{"default": "neutral", "type": "string"}}
- suites affected: summarize

<details><summary>text diff</summary>

```diff
--- summarize ({head})
+++ summarize (working tree)
@@ -1 +1 @@
-Summarize: {{{{ ticket }}}}
+Summarize briefly: {{{{ ticket }}}}
```

</details>

Suites changed: `summarize`
"""
    )
    assert p.run("diff", "--fail-on-loosened").code == 1


def test_diff_between_two_commits_text_and_json(git_project) -> None:
    p = git_project
    a = seed(p)
    p.write(
        "prompts/summarize.yaml",
        PROMPT.replace("mock/echo", "mock/other").replace("0.2", "0.5"),
        dedent=False,
    )
    p.write("prompts/extra.yaml", "model: mock/echo\ntemplate: hi\n", dedent=False)
    b = p.commit("change")
    p.write("prompts/summarize.yaml", "model: mock/echo\ntemplate: later\n", dedent=False)

    r = p.run("diff", a, b, "--format", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    by_name = {c["name"]: c for c in data["prompts"]}
    assert by_name["extra"]["status"] == "added"
    s = by_name["summarize"]
    assert s["model"] == ["mock/echo", "mock/other"]
    assert s["params"] == [
        {"kind": "changed", "key": "temperature", "old": 0.2, "new": 0.5, "new_key": None}
    ]
    assert s["text_diff"] == "" and s["suites"] == ["summarize"]
    assert data["loosened"] == [] and data["loosened_gate"] is False

    text = p.run("diff", a, b)
    assert "summarize: " in text.out and "model: mock/echo -> mock/other" in text.out
    assert "extra: added at" in text.out
    assert p.run("diff", b, b).out.endswith("no prompt, suite or config changes\n")


def test_diff_flags_provider_endpoint_and_key_changes_as_security(git_project) -> None:
    p = git_project
    p.write(
        "promptctl.yaml",
        "providers:\n  local: {type: openai, base_url: "
        "'http://localhost:11434/v1', api_key_env: OLLAMA_KEY}\n",
        dedent=False,
    )
    seed(p)
    p.write(
        "promptctl.yaml",
        "providers:\n  local: {type: openai, base_url: "
        "'https://collector.example.invalid/v1', api_key_env: OPENAI_API_KEY}\n",
        dedent=False,
    )
    data = json.loads(p.run("diff", "--format", "json").out)
    kinds = {(f["subject"], f["kind"]) for f in data["security"]}
    assert kinds == {("local", "provider-base-url"), ("local", "provider-api-key-env")}
    text = p.run("diff").out
    assert "SECURITY" in text and "collector.example.invalid" in text


def test_diff_flags_baseline_edits_and_deleted_suites(git_project) -> None:
    p = git_project
    seed(p)
    p.write("evals/baselines/summarize.json", '{"format": 1}\n', dedent=False)
    p.write("evals/other.yaml", SUITE, dedent=False)
    p.commit("baseline")
    p.write("evals/baselines/summarize.json", '{"format": 1, "edited": true}\n', dedent=False)
    (p.root / "evals/other.yaml").unlink()
    data = json.loads(p.run("diff", "--format", "json").out)
    assert {(f["subject"], f["kind"]) for f in data["loosened"]} == {
        ("summarize", "baseline-edited"),
        ("other", "suite-removed"),
    }


def baseline_text(
    version: str, passes: dict[str, list[float]], verdict: str | None = "passed"
) -> str:
    """A baseline file in baseline.py's layout (format 1), as `baseline update` writes one
    (`verdict` None: as a promptctl from before verdicts were recorded wrote it)."""
    ids = sorted({i for rates in passes.values() for i in range(len(rates))})
    cases = [
        json.dumps(
            {
                "id": f"c{i}",
                "hash": "h",
                "scores": {
                    s: {"errors": 0, "mean": r[i], "pass": r[i], "repeats": 1}
                    for s, r in passes.items()
                },
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        for i in ids
    ]
    header = {
        "cost_usd": 0.0,
        "format": 1,
        "gate": {"max_drop": 0.05},
        "gate_hash": "g",
        "model": "mock/echo",
        "params": {},
        "prompt": "summarize",
        "prompt_version": version,
        "run_id": None,
        "scorers": dict.fromkeys(passes, "s"),
        "suite": "summarize",
    }
    if verdict is not None:
        header["evidence"] = {"floors": {}, "verdict": verdict}
    lines = ['"cases": [', ",\n".join(cases), "],"]
    lines += [f"{json.dumps(k)}: {json.dumps(v, sort_keys=True)}," for k, v in header.items()]
    lines[-1] = lines[-1].rstrip(",")
    return "{\n" + "\n".join(lines) + "\n}\n"


def test_diff_shows_eval_deltas_when_both_versions_have_baselines(git_project) -> None:
    p = git_project
    a = seed(p)
    v1 = version_of(p)
    p.write(
        "evals/baselines/summarize.json", baseline_text(v1, {"has": [1, 1, 1, 1]}), dedent=False
    )
    p.commit("baseline v1")
    p.write("prompts/summarize.yaml", PROMPT.replace("Summarize", "Sum"), dedent=False)
    v2 = version_of(p)
    p.write(
        "evals/baselines/summarize.json", baseline_text(v2, {"has": [1, 0, 0, 1]}), dedent=False
    )
    b = p.commit("worse")
    data = json.loads(p.run("diff", a + "~0", b, "--format", "json").out)
    assert data["deltas"] == []  # no baseline at a: nothing to compare
    data = json.loads(p.run("diff", "HEAD~1", "HEAD", "--format", "json").out)
    [delta] = data["deltas"]
    assert (delta["suite"], delta["scorer"], delta["old_version"], delta["new_version"]) == (
        "summarize",
        "has",
        v1,
        v2,
    )
    assert (delta["old_rate"], delta["new_rate"], delta["delta"]) == (1.0, 0.5, -0.5)
    assert "summarize/has: 100.0% -> 50.0% (-50.0 pts" in p.run("diff", "HEAD~1", "HEAD").out


def test_load_by_label_returns_the_labelled_version_after_the_tree_moved_on(git_project) -> None:
    p = git_project
    seed(p)
    v1 = version_of(p)
    assert (
        p.run("promote", "summarize", "--to", "production", "--force", "--reason", "launch").code
        == 0
    )
    p.write("prompts/summarize.yaml", PROMPT.replace("Summarize", "Second"), dedent=False)
    p.commit("second")
    p.write("prompts/summarize.yaml", PROMPT.replace("Summarize", "Third"), dedent=False)

    prompt = promptctl.load("summarize", label="production")
    assert prompt.version == v1
    assert prompt.render(ticket="x") == [{"role": "user", "content": "Summarize: x"}]
    assert promptctl.load("summarize").render(ticket="x")[0]["content"] == "Third: x"
    r = p.run("render", "summarize@production", "--var", "ticket=x")
    assert r.code == 0 and "Summarize: x" in r.out
    with pytest.raises(UsageError, match="'staging' is no label, version or git revision"):
        promptctl.load("summarize", label="staging")


def test_commands_that_need_git_say_so_and_render_lint_still_work(project) -> None:
    project.write("prompts/summarize.yaml", PROMPT, dedent=False)
    for argv in (
        ["log", "summarize"],
        ["diff"],
        ["promote", "summarize", "--to", "production"],
        ["rollback", "summarize", "--label", "production"],
    ):
        r = project.run(*argv)
        assert r.code == 2, argv
        assert "is not inside a git repository, which " in r.err, argv
        # a tarball is not fixed by `git init`: the hint says what works without git
        assert "git init" not in r.err and "work without git" in r.err, argv
        assert "Traceback" not in r.err
    assert project.run("render", "summarize", "--var", "ticket=x").code == 0
    assert project.run("lint").code == 0
    project.write("evals/summarize.yaml", SUITE, dedent=False)
    assert project.run("eval").code == 0
    assert project.run("list").code == 0


def test_shallow_clone_says_to_fetch_history(git_project, tmp_path: Path, monkeypatch) -> None:
    p = git_project
    seed(p)
    assert (
        p.run(
            "promote", "summarize", "--to", "production", "--force", "--reason", "r", "--commit"
        ).code
        == 0
    )
    for i in range(2):
        p.write("prompts/summarize.yaml", PROMPT.replace("Summarize", f"V{i}"), dedent=False)
        p.commit(f"v{i}")
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{p.root}", str(clone)], check=True
    )
    monkeypatch.chdir(clone)
    r = p.run("log", "summarize")
    assert r.code == 2
    assert "shallow" in r.err and "git fetch --unshallow" in r.err and "fetch-depth: 0" in r.err
    r = p.run("render", "summarize@production", "--var", "ticket=x")
    assert r.code == 2
    assert "shallow clone does not have" in r.err and "git fetch --unshallow" in r.err
    assert p.run("render", "summarize", "--var", "ticket=x").code == 0


def test_diff_markdown_cannot_be_driven_by_repository_text(git_project) -> None:
    p = git_project
    hostile = PROMPT.replace(
        'template: "Summarize: {{ ticket }}"',
        'template: "```\\n<img src=x onerror=alert(1)> @org/team"',
    )
    seed(p, prompt=hostile)
    p.write(
        "evals/summarize.yaml",
        SUITE.replace("id: b,", "id: '<img src=x> @org/admins',"),
        dedent=False,
    )
    p.commit("hostile")
    p.write("prompts/summarize.yaml", hostile.replace("x onerror", "y onerror"), dedent=False)
    p.write(
        "evals/summarize.yaml",
        SUITE.replace("  - {id: b, vars: {ticket: mouse missing}}\n", ""),
        dedent=False,
    )
    out = p.run("diff", "--format", "markdown").out
    fence = out.index("````diff")  # longer than the ``` inside the prompt
    assert "\n````\n" in out[fence:]
    outside = out[:fence]
    assert "<img" not in outside and "@org" not in outside
    assert "cases-removed: 1 case(s) removed: &lt;img src=x> &#64;org/admins" in outside


def test_diff_shows_an_edited_partial_and_the_prompts_that_include_it(git_project) -> None:
    p = git_project
    seed(p)
    p.write("prompts/partials/rules.j2", "Be brief.\n", dedent=False)
    p.write(
        "prompts/uses.yaml",
        "model: mock/echo\ntemplate: \"{% include 'rules.j2' %}\"\n",
        dedent=False,
    )
    p.commit("partial")
    p.write("prompts/partials/rules.j2", "Be thorough.\n", dedent=False)
    data = json.loads(p.run("diff", "--format", "json").out)
    [prompt] = data["prompts"]  # the partial is part of the version of every includer...
    assert (prompt["name"], prompt["status"]) == ("uses", "modified")
    assert prompt["old_version"] != prompt["new_version"]
    [partial] = data["partials"]  # ...and the diff shows the edit itself
    assert (partial["name"], partial["status"], partial["prompts"]) == (
        "rules.j2",
        "modified",
        ["uses"],
    )
    assert "-Be brief.\n+Be thorough.\n" in partial["text_diff"]
    text = p.run("diff").out
    # said as it is: the partial is part of the version of each prompt that includes it
    assert "partial rules.j2: modified (included by uses: a new version of each)" in text
    md = p.run("diff", "--format", "markdown").out
    assert "a version covers its partials" in md and "not part of any version" not in md


CSV_SUITE = """\
prompt: summarize
dataset: data/tickets.csv
scorers:
  - {id: has, type: contains, value: "Summarize"}
"""


def test_diff_sees_removed_and_no_longer_critical_rows_of_a_csv_without_ids(git_project) -> None:
    """Issue 13: rows of a CSV without an `id` column are ids by their vars (columns), as
    eval reads them; `critical: yes` is critical in diff as it is in eval."""
    p = git_project
    seed(p, suite=CSV_SUITE)
    p.write(
        "evals/data/tickets.csv",
        "ticket,critical\nprinter on fire,yes\nmouse missing,no\nscreen dark,no\n",
        dedent=False,
    )
    p.commit("csv dataset")
    p.write(
        "evals/data/tickets.csv",
        "ticket,critical\nprinter on fire,no\nmouse missing,no\n",
        dedent=False,
    )
    from promptctl.evals import datasets

    ids = {
        c.vars["ticket"]: c.id
        for c in datasets.iter_file(p.root / "evals/data/tickets.csv", "tickets.csv")
    }
    data = json.loads(p.run("diff", "--format", "json").out)
    flags = {f["kind"]: f["detail"] for f in data["loosened"]}
    assert flags == {
        "cases-removed": "1 case(s) removed: " + datasets.case_id_for({"ticket": "screen dark"}),
        "critical-removed": f"no longer critical: {ids['printer on fire']}",
    }


def test_diff_reports_a_suite_that_does_not_load_instead_of_guessing(git_project) -> None:
    p = git_project
    seed(p)
    p.write("evals/summarize.yaml", SUITE.replace("type: contains", "type: containz"), dedent=False)
    r = p.run("diff", "--format", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert [(f["subject"], f["kind"]) for f in data["loosened"]] == [("summarize", "suite-invalid")]
    [problem] = data["problems"]
    assert problem["subject"] == "summarize"
    assert problem["detail"].startswith("does not load at working tree: evals/summarize.yaml:")
    assert "containz" in problem["detail"]
    text = p.run("diff").out
    assert "suites that do not load (not compared):\n  summarize: does not load at" in text
    # and at an old revision: the broken side is named with its revision, nothing is compared
    p.commit("broken suite")
    p.write("evals/summarize.yaml", SUITE, dedent=False)
    data = json.loads(p.run("diff", "--format", "json").out)
    assert data["loosened"] == []
    [problem] = data["problems"]
    assert "evals/summarize.yaml@HEAD:" in problem["detail"]
