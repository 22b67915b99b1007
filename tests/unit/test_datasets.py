"""Datasets: JSONL/YAML/CSV -> Case, ids, locations, confinement, filter and shard."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from promptctl.errors import Location, UsageError
from promptctl.evals import datasets, suites
from promptctl.model import Case
from promptctl.project import config

JSONL = (
    '{"id": "t-001", "vars": {"ticket": "a"}, "expected": "billing", "tags": ["billing"]}\n'
    "\n"
    '{"vars": {"ticket": "b"}, "critical": true}\n'
)


def cases(path: Path) -> list[Case]:
    return list(datasets.iter_file(path, path.name))


def test_jsonl_rows_become_cases_with_locations_and_hashed_ids(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(JSONL)
    first, second = cases(path)
    assert (first.id, first.expected, first.tags, first.critical) == (
        "t-001",
        "billing",
        ("billing",),
        False,
    )
    assert first.source == Location("d.jsonl", 1, 1)
    assert second.id == datasets.case_id_for({"ticket": "b"}) and len(second.id) == 12
    assert second.critical is True and second.source == Location("d.jsonl", 3, 1)


def test_hashed_id_is_stable_and_depends_only_on_vars() -> None:
    assert datasets.case_id_for({"a": 1, "b": 2}) == datasets.case_id_for({"b": 2, "a": 1})
    assert datasets.case_id_for({"a": 1}) != datasets.case_id_for({"a": 2})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"vars": {"ticket": "a"}', "not valid JSON"),
        ('{"varz": {}}', "unknown key 'varz'"),
        ('{"vars": ["a"]}', "`vars` must be a mapping"),
        ('{"id": "", "vars": {}}', "case id must be a non-empty string"),
        ('{"vars": {}, "critical": "yes"}', "`critical` must be true or false"),
        ('["a"]', "a case must be a mapping"),
    ],
)
def test_bad_jsonl_rows_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"vars": {}}\n' + line + "\n")
    with pytest.raises(UsageError, match=message) as e:
        cases(path)
    assert e.value.where is not None and (e.value.where.path, e.value.where.line) == ("d.jsonl", 2)


def test_csv_columns_are_vars_plus_id_expected_tags_critical(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(
        "id,ticket,product,expected,tags,critical\n"
        't-1,"Charged, twice",Acme,billing,"billing;urgent",true\n'
        ",Crash,Acme,technical,,\n"
    )
    first, second = cases(path)
    assert first.id == "t-1" and first.vars == {"ticket": "Charged, twice", "product": "Acme"}
    assert first.tags == ("billing", "urgent") and first.critical is True
    assert first.source == Location("d.csv", 2, 1)
    assert second.id == datasets.case_id_for({"ticket": "Crash", "product": "Acme"})
    assert second.critical is False and second.expected == "technical"


def test_csv_field_over_the_limit_is_a_clean_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('ticket\n"' + "x" * (csv.field_size_limit() + 10) + '"\n')
    with pytest.raises(UsageError, match="CSV error: field larger than field limit") as e:
        cases(path)
    assert e.value.where is not None and e.value.where.path == "d.csv"


def test_csv_row_with_wrong_field_count(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("ticket,expected\na,b,c\n")
    with pytest.raises(UsageError, match="row has 3 fields, the header 2"):
        cases(path)


def test_yaml_list_with_locations(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text("- id: a\n  vars: {x: 1}\n- vars: {x: 2}\n  expected: [1, 2]\n")
    a, b = cases(path)
    assert a.source == Location("d.yaml", 1, 3) and b.expected == [1, 2]


def test_not_utf8_dataset_is_a_usage_error(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "evals" / "data").mkdir(parents=True)
    (root / "evals" / "data" / "d.jsonl").write_bytes(b'{"vars": {"x": "\xff"}}\n')
    project = config.load_project(root=root)
    from promptctl.model import Suite

    suite = Suite(
        name="s",
        path=str(root / "evals/s.yaml"),
        prompt_ref="p",
        dataset=str(root / "evals/data/d.jsonl"),
        source=Location("evals/s.yaml"),
    )
    with pytest.raises(UsageError, match="not UTF-8"):
        list(datasets.iter_cases(project, suite))


def test_dataset_paths_are_confined_to_the_project(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "evals" / "data").mkdir(parents=True)
    (tmp_path / "secret.jsonl").write_text("{}\n")
    project = config.load_project(root=root)
    base = root / "evals"
    assert suites.confined(project, base, "data/x.jsonl") == base / "data" / "x.jsonl"
    assert suites.confined(project, base, "../evals/data/x.jsonl") is not None  # stays inside
    assert suites.confined(project, base, "../../secret.jsonl") is None
    assert suites.confined(project, base, str(tmp_path / "secret.jsonl")) is None
    os.symlink(tmp_path / "secret.jsonl", base / "data" / "link.jsonl")
    assert suites.confined(project, base, "data/link.jsonl") is None


@pytest.mark.parametrize(
    ("expr", "ids"),
    [
        ("t-00*", ["t-001", "t-002"]),
        ("id:t-01?", ["t-010"]),
        ("tag:billing", ["t-001", "t-010"]),
        ("tag:bill*,id:t-002", ["t-001", "t-002", "t-010"]),
        ("nothing", []),
    ],
)
def test_filter_matches_ids_and_tags_with_or(expr: str, ids: list[str]) -> None:
    all_cases = [
        Case(id="t-001", vars={}, tags=("billing",)),
        Case(id="t-002", vars={}),
        Case(id="t-010", vars={}, tags=("billing", "x")),
    ]
    select = datasets.Selector(expr)
    assert [c.id for c in all_cases if select(c)] == ids


def test_filter_with_unknown_prefix_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="use id:GLOB, tag:GLOB"):
        datasets.Selector("name:x")


@pytest.mark.parametrize("text", ["3/2", "0/2", "a/b", "1", "1/0", "-1/2"])
def test_bad_shard_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as e:
        datasets.parse_shard(text)
    assert e.value.exit_code == 2


def test_shards_partition_the_cases_deterministically() -> None:
    ids = [f"c-{i}" for i in range(200)]
    parts = [
        [i for i in ids if datasets.Selector(shard=(k, 3))(Case(id=i, vars={}))] for k in (1, 2, 3)
    ]
    assert sorted(i for p in parts for i in p) == sorted(ids)
    assert all(40 < len(p) < 95 for p in parts)
    assert datasets.parse_shard("2/3") == (2, 3)
