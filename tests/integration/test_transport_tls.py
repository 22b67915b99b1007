"""HTTPS against a loopback TLS server with a throwaway CA (trustme): both HTTP clients verify
the certificate, trust a provider's ca_bundle or SSL_CERT_FILE, and refuse an untrusted or
wrong-host certificate with a clear error (exit 3), never a traceback."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from promptctl.engine import retry
from tests.conftest import FAKE_KEY
from tests.fakes.llm_server import FakeLLMServer
from tests.secrets_scan import assert_no_secret, assert_no_secret_in_dir

CLIENTS = ["lean", "httpx"]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_server(ca: trustme.CA, *hosts: str) -> FakeLLMServer:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*hosts).configure_cert(ctx)
    return FakeLLMServer(ssl_context=ctx).start()


@pytest.fixture
def tls(ca: trustme.CA) -> Iterator[FakeLLMServer]:
    server = tls_server(ca, "127.0.0.1")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    # the system's CAs only, whatever the machine's environment adds
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    monkeypatch.setenv("PROMPTCTL_HTTP_CLIENT", getattr(request, "param", "lean"))
    monkeypatch.setattr(retry, "BACKOFF_BASE_S", 0.01)
    monkeypatch.setattr(retry, "BACKOFF_CAP_S", 0.02)


def setup(project: Any, server: FakeLLMServer, ca: trustme.CA | None, extra: str = "") -> None:
    bundle = ""
    if ca is not None:
        ca.cert_pem.write_to_path(str(project.root / "certs-ca.pem"))
        bundle = ", ca_bundle: certs-ca.pem"
    project.write(
        "promptctl.yaml",
        "providers:\n"
        f"  fake: {{type: openai, base_url: '{server.openai_base}', api_key_env: FAKE_API_KEY, "
        f"max_retries: 2{bundle}{extra}}}\n",
    )
    project.write("prompts/p.yaml", "model: fake/m\ntemplate: 'hello {{ who }}'\n")


def assert_proper_request(server: FakeLLMServer) -> None:
    assert server.total == 1
    seen = server.requests[0]
    assert (seen.method, seen.path) == ("POST", "/v1/chat/completions")
    assert seen.body["model"] == "m"
    assert seen.body["messages"] == [{"role": "user", "content": "hello tls"}]
    assert seen.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert seen.headers["host"] == server.url.removeprefix("https://")


@pytest.mark.parametrize("env", CLIENTS, indirect=True)
def test_https_with_the_providers_ca_bundle(
    project: Any, tls: FakeLLMServer, ca: trustme.CA, env: None
) -> None:
    assert tls.url.startswith("https://127.0.0.1:")
    setup(project, tls, ca)
    result = project.run("run", "p", "--var", "who=tls")
    assert (result.code, result.out) == (0, "hello tls\n"), result.err
    assert_proper_request(tls)
    assert_no_secret(result.out, result.err)
    assert_no_secret_in_dir(project.root)


def test_keep_alive_over_tls(project: Any, tls: FakeLLMServer, ca: trustme.CA) -> None:
    setup(project, tls, ca)
    rows = "".join(f'{{"vars": {{"who": "w{i}"}}}}\n' for i in range(3))
    project.write("evals/data/d.jsonl", rows)
    project.write(
        "evals/s.yaml", "prompt: p\ndataset: data/d.jsonl\nscorers: [{type: contains, value: w}]\n"
    )
    result = project.run("eval", "s", "--concurrency", "1")
    assert result.code == 0, result.err
    assert tls.total == 3 and tls.connections == 1  # one handshake, three calls


@pytest.mark.parametrize("env", CLIENTS, indirect=True)
def test_ssl_cert_file_is_honoured(
    project: Any,
    tls: FakeLLMServer,
    ca: trustme.CA,
    env: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    setup(project, tls, None)
    ca.cert_pem.write_to_path(str(tmp_path / "corp-ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "corp-ca.pem"))
    result = project.run("run", "p", "--var", "who=tls")
    assert (result.code, result.out) == (0, "hello tls\n"), result.err
    assert_proper_request(tls)


@pytest.mark.parametrize("env", CLIENTS, indirect=True)
def test_an_untrusted_certificate_fails_the_handshake_clearly(
    project: Any, tls: FakeLLMServer, env: None
) -> None:
    setup(project, tls, None)  # the throwaway CA is in no trust store
    result = project.run("run", "p", "--var", "who=tls")
    assert result.code == 3
    assert "fake: TLS handshake failed: the server's certificate is not trusted" in result.err
    assert "ca_bundle" in result.err  # the hint says what to do
    assert "Traceback" not in result.err and tls.url not in result.err
    assert tls.total == 0  # no request was ever sent
    assert_no_secret(result.out, result.err)


@pytest.mark.parametrize("env", CLIENTS, indirect=True)
def test_a_certificate_for_another_host_fails_the_handshake(
    project: Any, ca: trustme.CA, env: None
) -> None:
    server = tls_server(ca, "llm.example.test")  # trusted CA, but not a cert for 127.0.0.1
    try:
        setup(project, server, ca)
        result = project.run("run", "p", "--var", "who=tls")
    finally:
        server.stop()
    assert result.code == 3
    assert "TLS handshake failed" in result.err and "not issued for this host" in result.err
    assert "Traceback" not in result.err
    assert server.total == 0
    assert "retries" not in result.err  # a certificate does not change between attempts


def test_a_missing_ca_bundle_is_a_usage_error_naming_the_config(
    project: Any, tls: FakeLLMServer
) -> None:
    setup(project, tls, None, extra=", ca_bundle: certs/nope.pem")
    result = project.run("run", "p", "--var", "who=tls")
    assert result.code == 2
    where = "promptctl.yaml:2:3: error: provider 'fake': "
    assert f"{where}ca_bundle 'nope.pem' is missing" in result.err
    assert tls.total == 0


def test_a_ca_bundle_that_is_not_pem_is_a_usage_error(project: Any, tls: FakeLLMServer) -> None:
    project.write("bundle.pem", "not a certificate\n")
    setup(project, tls, None, extra=", ca_bundle: bundle.pem")
    result = project.run("run", "p", "--var", "who=tls")
    assert result.code == 2
    assert "not a PEM certificate bundle" in result.err and "Traceback" not in result.err


def test_ca_bundle_must_be_a_string(project: Any, tls: FakeLLMServer) -> None:
    setup(project, tls, None, extra=", ca_bundle: [a]")
    result = project.run("run", "p", "--var", "who=tls")
    assert result.code == 2
    assert "promptctl.yaml:2:" in result.err and "ca_bundle" in result.err


def test_lint_flags_a_missing_ca_bundle_and_passes_a_present_one(project: Any) -> None:
    project.write(
        "promptctl.yaml",
        "providers:\n"
        "  corp:\n"
        "    type: openai\n"
        "    base_url: https://llm.corp.example/v1\n"
        "    ca_bundle: certs/corp-ca.pem\n",
    )
    project.write("prompts/a.yaml", "model: corp/m\ntemplate: hi\n")
    result = project.run("lint", "--format", "json")
    assert result.code == 1, result.err
    findings = [(f["code"], f["line"], f["col"], f["message"]) for f in json.loads(result.out)]
    assert findings == [
        ("PC301", 5, 16, "provider 'corp': ca_bundle 'certs/corp-ca.pem' does not exist")
    ]
    project.write("certs/corp-ca.pem", trustme.CA().cert_pem.bytes().decode())
    assert project.run("lint").code == 0


@pytest.mark.parametrize("path", ["/etc/ssl/corp-ca.pem", "../ca.pem", "''"])
def test_a_ca_bundle_outside_the_project_is_refused(project: Any, path: str) -> None:
    project.write(
        "promptctl.yaml",
        f"providers:\n  corp: {{type: openai, base_url: 'https://x/v1', ca_bundle: {path}}}\n",
    )
    project.write("prompts/a.yaml", "model: corp/m\ntemplate: hi\n")
    result = project.run("run", "a")
    assert result.code == 2
    assert "promptctl.yaml:2:" in result.err
    assert "ca_bundle must be a file inside the project" in result.err
    assert "SSL_CERT_FILE" in result.err
