"""docs/reference.md is the CLI's own --help, regenerated: it fails when they differ."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptctl.cli import reference

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference.md"


@pytest.fixture(scope="module")
def rendered() -> str:
    return reference.render()  # ~20 --help runs: once per module


def test_reference_matches_the_cli_help(rendered: str) -> None:
    committed = REFERENCE.read_text(encoding="utf-8") if REFERENCE.is_file() else ""
    assert rendered == committed, (
        f"docs/reference.md is out of date with `promptctl --help`: run `{reference.REGENERATE}`"
        " from the repository root and commit docs/reference.md"
    )


def test_every_command_and_subcommand_is_in_the_reference(rendered: str) -> None:
    paths = reference.command_paths()
    assert (
        () in paths
        and ("eval",) in paths
        and (
            "baseline",
            "update",
        )
        in paths
    )
    assert ("cache", "stats") in paths and ("cache", "clear") in paths
    text = rendered
    for path in paths:
        title = " ".join(("promptctl", *path))
        assert f"\n## {title}\n" in text
        assert f"Usage: {title} " in text  # the help itself, not only a heading


def test_help_is_pinned_to_one_width(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    narrow_terminal = reference.help_text(("eval",))
    monkeypatch.setenv("COLUMNS", "200")
    assert reference.help_text(("eval",)) == narrow_terminal
    assert max(len(line) for line in narrow_terminal.splitlines()) <= 80


def test_check_mode_names_the_command_to_run(
    rendered: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "docs" / "reference.md"
    assert reference.main(["--check", str(target)]) == 1  # missing counts as stale
    assert f"{target} is out of date: run `{reference.REGENERATE}`" in capsys.readouterr().err
    assert reference.main([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == rendered


def test_readme_commands_table_lists_every_command() -> None:
    readme = (REFERENCE.parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Commands") :]
    table = table[: table.index("\n\n", table.index("| command |"))]
    listed = {row.split("`")[1].split()[1] for row in table.splitlines() if row.startswith("| `")}
    commands = {path[0] for path in reference.command_paths() if path}
    assert commands - listed == set(), "README.md's commands table lacks these commands"
    assert listed - commands == set(), "README.md's commands table lists commands that do not exist"


def test_readme_links_every_docs_page() -> None:
    root = REFERENCE.parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    pages = sorted(p.name for p in (root / "docs").glob("*.md"))
    unlinked = [name for name in pages if f"](docs/{name})" not in readme]
    assert unlinked == [], "README.md's Documentation section should link these docs pages"
