"""The shipped JSON Schemas of readings and commands: in sync with the models, and true to real payloads."""

from __future__ import annotations

import json
import os
import re
from importlib import resources

import pytest

from gateway.reading import ReadingFactory
from gateway.schemas import SCHEMAS, WORDS_PATTERN

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


class TestSchemas:
    @pytest.mark.parametrize("name", sorted(SCHEMAS))
    def test_checked_in_file_equals_the_generated_schema(self, name: str) -> None:
        """gateway/data/schemas/<name> is what the pydantic models generate (UPDATE_GOLDEN=1 rewrites it)."""
        shipped = resources.files("gateway").joinpath(f"data/schemas/{name}")
        generated = SCHEMAS[name]()
        if UPDATE:
            with resources.as_file(shipped) as path:
                path.write_text(json.dumps(generated, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        assert json.loads(shipped.read_text(encoding="utf-8")) == generated

    def test_a_real_payload_has_exactly_the_schema_properties(self) -> None:
        """A published reading carries every property the reading schema requires, and no other."""
        schema = SCHEMAS["reading.schema.json"]()
        payload = json.loads(ReadingFactory("soil", "%", binary=False).make(42.0, 1_700_000_000).payload(7))
        assert set(payload) == set(schema["properties"])
        assert set(schema["required"]) <= set(payload)

    @pytest.mark.parametrize(("word", "matches"), [("ON", True), (" toggle\n", True), ("Off", True), ("MAYBE", False)])
    def test_the_word_pattern_matches_what_the_parser_accepts(self, word: str, matches: bool) -> None:
        """The schema's pattern for plain commands accepts the parser's words in any case."""
        assert bool(re.match(WORDS_PATTERN, word)) is matches
