"""`promptctl run` in-process: mock and fake providers, output shape, exit codes, secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promptctl.engine import retry
from tests.conftest import FAKE_KEY
from tests.fakes.llm_server import FakeLLMServer, Scripted, write_config

REPO = Path(__file__).parents[2]
PROMPT = """\
    model: fake/gpt-test
    params: {temperature: 0}
    input:
      ticket: {type: string}
    messages:
      - {role: system, content: "Summarise."}
      - {role: user, content: "Ticket: {{ ticket }}"}
    """


@pytest.fixture
def fake(project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", FAKE_KEY)
    monkeypatch.setattr(retry, "BACKOFF_BASE_S", 0.01)
    write_config(project.root, llm_server, max_retries=2)
    project.write("prompts/sum.yaml", PROMPT)
    return project


def test_repository_example_runs_on_the_mock(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    from promptctl.cli import main

    monkeypatch.chdir(REPO)
    assert main(["run", "classify", "--var", "ticket=I was charged twice"]) == 0
    out, err = capsys.readouterr()
    assert out == "billing\n"
    assert "tokens" in err and "$0.000000" in err


def test_run_mock_echo_text_and_json(project: Any):
    project.write("prompts/hi.yaml", "model: mock/echo\ntemplate: 'Hello {{ who }}'\n")
    r = project.run("run", "hi", "--var", "who=world")
    assert (r.code, r.out) == (0, "Hello world\n")
    assert r.err.startswith("tokens 6 in / 3 out · ") and "$0.000000" in r.err
    j = project.run("run", "hi", "--var", "who=world", "--format", "json")
    data = json.loads(j.out)
    assert j.code == 0 and j.err == ""
    assert data["text"] == "Hello world" and data["model"] == "mock/echo"
    assert data["cost_usd"] == 0.0 and data["cached"] is False and data["retries"] == 0
    assert set(data) == {
        "name",
        "version",
        "model",
        "text",
        "input_tokens",
        "output_tokens",
        "latency_s",
        "cost_usd",
        "cached",
        "retries",
        "finish_reason",
    }


def test_run_strips_control_characters_from_the_reply(project: Any):
    project.write("prompts/p.yaml", "model: mock/echo\ntemplate: '{{ x }}'\n")
    r = project.run("run", "p", "--var", "x=a\x1b]0;pwned\x07b")
    assert r.code == 0 and r.out == "a]0;pwnedb\n"


def test_run_against_the_fake_then_cached(fake: Any, llm_server: FakeLLMServer):
    r = fake.run("run", "sum", "--var", "ticket=printer on fire")
    assert (r.code, r.out) == (0, "Ticket: printer on fire\n")
    assert "cost unknown" in r.err and "cached" not in r.err
    again = fake.run("run", "sum", "--var", "ticket=printer on fire")
    assert again.out == r.out and again.err.endswith("cached\n")
    assert llm_server.total == 1
    forced = fake.run("run", "sum", "--var", "ticket=printer on fire", "--no-cache")
    assert forced.code == 0 and "cached" not in forced.err and llm_server.total == 2


def test_run_model_override_to_anthropic(fake: Any, llm_server: FakeLLMServer):
    r = fake.run(
        "run",
        "sum",
        "--var",
        "ticket=x",
        "--model",
        "fake-anthropic/claude-test",
        "--format",
        "json",
    )
    assert r.code == 0 and json.loads(r.out)["text"] == "Ticket: x"
    sent = llm_server.requests[0]
    assert sent.path == "/v1/messages" and sent.body["system"] == "Summarise."


def test_run_prices_from_config(fake: Any, llm_server: FakeLLMServer):
    with open(fake.root / "promptctl.yaml", "a", encoding="utf-8") as f:
        f.write("prices:\n  fake/gpt-test: {input: 1.0, output: 2.0}\n")
    llm_server.enqueue(Scripted.text("ok", input_tokens=1000, output_tokens=1000))
    r = fake.run("run", "sum", "--var", "ticket=x", "--format", "json")
    assert json.loads(r.out)["cost_usd"] == pytest.approx(0.003)


def test_missing_key_exits_2_naming_the_variable(
    fake: Any, monkeypatch: pytest.MonkeyPatch, llm_server: FakeLLMServer
):
    monkeypatch.delenv("FAKE_API_KEY")
    r = fake.run("run", "sum", "--var", "ticket=x")
    assert r.code == 2 and "FAKE_API_KEY is not set" in r.err and "export FAKE_API_KEY" in r.err
    assert llm_server.total == 0 and "Traceback" not in r.err


def test_unknown_provider_in_model_override_exits_2_with_the_list(fake: Any):
    r = fake.run("run", "sum", "--var", "ticket=x", "--model", "nope/x")
    assert r.code == 2 and "unknown provider 'nope'" in r.err
    assert "anthropic, fake, fake-anthropic, mock, openai" in r.err
    bare = fake.run("run", "sum", "--var", "ticket=x", "--model", "gpt-4o")
    assert bare.code == 2 and "must be <provider>/<model id>" in bare.err


def test_unknown_provider_in_prompt_exits_2(project: Any):
    project.write("prompts/p.yaml", "model: nope/x\ntemplate: hi\n")
    r = project.run("run", "p")
    assert r.code == 2 and "unknown provider 'nope'" in r.err and "mock" in r.err


def test_401_exits_3_without_retries(fake: Any, llm_server: FakeLLMServer):
    llm_server.require_key = "sk-some-other-key-000000"
    r = fake.run("run", "sum", "--var", "ticket=x")
    assert r.code == 3 and llm_server.total == 1
    assert "fake: HTTP 401" in r.err and "FAKE_API_KEY" in r.err


def test_provider_down_after_retries_exits_3(fake: Any, llm_server: FakeLLMServer):
    llm_server.default = Scripted.error(503)
    r = fake.run("run", "sum", "--var", "ticket=x")
    assert r.code == 3 and llm_server.total == 3
    assert "HTTP 503" in r.err and "after 2 retries" in r.err and "Traceback" not in r.err


def test_non_json_body_exits_3_with_status_and_first_bytes(fake: Any, llm_server: FakeLLMServer):
    llm_server.enqueue(Scripted.malformed())
    r = fake.run("run", "sum", "--var", "ticket=x")
    assert r.code == 3
    assert 'reply is not JSON (HTTP 200): {"choices": [ this is not json' in r.err


def test_html_error_page_exits_3_with_its_first_bytes(fake: Any, llm_server: FakeLLMServer):
    llm_server.default = Scripted.html(502)
    r = fake.run("run", "sum", "--var", "ticket=x")
    assert r.code == 3 and "HTTP 502: <html><head><title>502 Bad Gateway" in r.err


def test_secret_never_printed_nor_stored(fake: Any, llm_server: FakeLLMServer):
    outputs = []
    outputs.append(fake.run("run", "sum", "--var", "ticket=ok"))
    outputs.append(fake.run("run", "sum", "--var", "ticket=ok", "--format", "json", "--debug"))
    # A server that echoes the key back in its error body (some proxies do).
    echoed = {"error": {"message": f"bad key Bearer {FAKE_KEY}", "key": FAKE_KEY}}
    llm_server.enqueue(Scripted.error(400, body=echoed))
    outputs.append(fake.run("run", "sum", "--var", "ticket=err", "--debug"))
    llm_server.require_key = "sk-other-0000000000"
    outputs.append(fake.run("run", "sum", "--var", "ticket=unauthorised", "--debug"))
    outputs.append(
        fake.run("run", "sum", "--var", "ticket=x", "--model", "fake-anthropic/c", "--debug")
    )
    llm_server.require_key = None
    llm_server.enqueue(Scripted.malformed())
    outputs.append(fake.run("run", "sum", "--var", "ticket=bad", "--debug"))
    outputs.append(fake.run("cache", "stats", "--format", "json"))
    assert [o.code for o in outputs] == [0, 0, 3, 3, 3, 3, 0]
    assert "HTTP 400" in outputs[2].err
    for o in outputs:
        assert FAKE_KEY not in o.out and FAKE_KEY not in o.err
    for path in fake.root.rglob("*"):
        if path.is_file():
            assert FAKE_KEY.encode() not in path.read_bytes(), path
    # The key did travel, in its header only.
    assert llm_server.requests[0].headers["authorization"] == f"Bearer {FAKE_KEY}"


def test_ctrl_c_during_a_call_exits_130(fake: Any, llm_server: FakeLLMServer):
    import os
    import signal
    import subprocess
    import sys

    llm_server.latency_s = 30.0
    env = {**os.environ, "FAKE_API_KEY": FAKE_KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "promptctl", "run", "sum", "--var", "ticket=x"],
        cwd=fake.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert llm_server.wait_for_requests(1, timeout=30)  # the call is in flight
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert out == "" and "Traceback" not in err and FAKE_KEY not in err
