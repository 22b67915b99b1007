"""No API key in any output, log, exception, cache row, run file, baseline or report (issue 9),
across a whole workflow on both wire formats, errors and --debug included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FAKE_KEY
from tests.fakes.llm_server import FakeLLMServer, Scripted, write_config
from tests.secrets_scan import assert_no_secret, assert_no_secret_in_dir

PROMPT = "model: {model}\ninput:\n  text: {{type: string}}\ntemplate: 'say {{{{ text }}}}'\n"


@pytest.fixture
def keyed(git_project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", FAKE_KEY)
    llm_server.require_key = FAKE_KEY  # a request without the key gets 401: it was sent
    write_config(git_project.root, llm_server, max_retries=1)
    for name, model in (("oa", "fake/m"), ("an", "fake-anthropic/m")):
        git_project.write(f"prompts/{name}.yaml", PROMPT.format(model=model))
        git_project.write(
            f"evals/{name}.yaml",
            f"prompt: {name}\ndataset: data/d.jsonl\n"
            "scorers: [{id: ok, type: contains, value: say}]\n",
        )
    git_project.write(
        "evals/data/d.jsonl",
        "".join(json.dumps({"id": f"c{i}", "vars": {"text": f"x{i}"}}) + "\n" for i in range(3)),
    )
    git_project.commit("prompts and suites")
    return git_project


def test_a_whole_workflow_leaves_the_key_nowhere(
    keyed: Any, llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    outputs: list[str] = []

    def run(*argv: str, code: int = 0) -> None:
        r = keyed.run(*argv)
        outputs.extend([r.out, r.err])
        assert r.code == code, (argv, r.out, r.err)

    reports = keyed.root / "reports"
    reports.mkdir()
    run("eval", "--junit", str(reports / "j.xml"), "--markdown", str(reports / "m.md"))
    run("eval", "--format", "json", "--fresh")
    run("baseline", "update")
    run("run", "oa", "--var", "text=hi", "--format", "json")
    run("run", "an", "--var", "text=hi", "--no-cache")
    run("cache", "stats")
    # the key was really sent, in its own header and nowhere else in the request
    sent = {r.path: r.headers for r in llm_server.requests}
    assert sent["/v1/chat/completions"]["authorization"] == f"Bearer {FAKE_KEY}"
    assert sent["/v1/messages"]["x-api-key"] == FAKE_KEY
    for r in llm_server.requests:
        assert FAKE_KEY not in json.dumps(r.body) and FAKE_KEY not in r.path
    # failures, with --debug: a revoked key, an error body echoing the key, an outage
    llm_server.enqueue(Scripted.error(401, body={"error": {"message": f"bad key {FAKE_KEY}"}}))
    run("run", "oa", "--var", "text=fresh-1", "--debug", code=3)
    llm_server.enqueue(
        Scripted.error(500, body=f"upstream said: Authorization: Bearer {FAKE_KEY}"),
        Scripted.error(500, body=f"x-api-key: {FAKE_KEY}"),
    )
    run("run", "an", "--var", "text=fresh-2", "--debug", code=3)
    llm_server.default = Scripted.error(503)
    run("eval", "--fresh", "--debug", code=3)
    llm_server.default = None
    assert any("***" in o for o in outputs)  # the echoed key reached the output, masked
    assert_no_secret(*outputs)
    assert_no_secret_in_dir(keyed.root)
    assert_no_secret_in_dir(tmp_path)
