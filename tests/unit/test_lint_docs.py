from pathlib import Path

from promptctl.lint.findings import RULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "lint.md"


def test_every_lint_code_is_documented_with_its_name() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [f"{c} {r.name}" for c, r in RULES.items() if f"| {c} | `{r.name}` |" not in text]
    assert not missing


def test_codes_are_well_formed_and_unique_names() -> None:
    assert all(len(c) == 5 and c.startswith("PC") and c[2:].isdigit() for c in RULES)
    names = [r.name for r in RULES.values()]
    assert len(names) == len(set(names))
