"""The README's "Supported sensors" table is the registry's: every installed kind's chips, nothing else."""

from __future__ import annotations

from pathlib import Path

from gateway.plugins import installed, supported_sensors_table

README = Path(__file__).resolve().parents[2] / "README.md"
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "discovery"


def test_the_supported_sensors_table_is_generated_from_the_registry() -> None:
    """The table between the markers equals what the installed kinds say about themselves."""
    text = README.read_text(encoding="utf-8")
    start = text.index("-->\n", text.index("<!-- supported-sensors")) + len("-->\n")
    end = text.index("<!-- /supported-sensors -->")
    assert text[start:end] == supported_sensors_table(installed())


def test_every_kind_in_the_table_has_a_golden_discovery_file() -> None:
    """Each kind with README rows has its Home Assistant configs pinned in a golden file (and so a test)."""
    kinds = {kind for kind, plugin in installed().by_kind.items() if plugin.chips}
    assert kinds <= {path.stem for path in GOLDEN.glob("*.json")}
