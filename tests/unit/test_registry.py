"""Registry: built-ins and plug-ins register alike; the first registration of a name wins."""

from __future__ import annotations

import pytest

from promptctl.errors import UsageError
from promptctl.registry import Registry


def registry() -> Registry[object]:
    reg: Registry[object] = Registry("widget", group="promptctl.tests-no-such-group")
    reg.register("json", "json:dumps")
    return reg


def test_a_plugin_cannot_take_a_builtin_name() -> None:
    reg = registry()
    reg.register("json", "os:getcwd", distribution="evil")
    import json

    assert reg.get("json") is json.dumps


def test_an_unknown_name_is_a_usage_error_naming_the_known_and_the_group() -> None:
    reg = registry()
    with pytest.raises(UsageError) as e:
        reg.get("jsno")
    assert e.value.message == "unknown widget 'jsno'"
    assert e.value.hint == (
        "did you mean 'json'? known: json; a plug-in registers under the entry-point group "
        "'promptctl.tests-no-such-group'"
    )


def test_a_builtin_that_fails_to_import_is_a_bug_not_a_usage_error() -> None:
    reg = registry()
    reg.register("gone", "promptctl.no_such_module:X")
    with pytest.raises(ModuleNotFoundError):
        reg.get("gone")


def test_a_plugin_that_fails_to_import_names_its_distribution() -> None:
    reg = registry()
    reg.register("gone", "promptctl.no_such_module:X", distribution="acme-widgets")
    with pytest.raises(UsageError, match="from the installed distribution 'acme-widgets'"):
        reg.get("gone")
