"""JSON Schemas of what subscribers receive and what they may send, generated from the pydantic models.

The generated files are checked in (`gateway/data/schemas/`); a test keeps them equal to these functions.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from gateway.commands import MAX_PULSE_SECONDS, JsonCommand
from gateway.reading import Reading

DRAFT = "https://json-schema.org/draft/2020-12/schema"
WORDS_PATTERN = r"^\s*([Oo][Nn]|[Oo][Ff][Ff]|[Tt][Oo][Gg][Gg][Ll][Ee])\s*$"


class ReadingPayload(Reading):
    """A reading as published: the Reading model plus the `seq` the outbox assigned."""

    seq: Annotated[int, Field(ge=1, description="unique per gateway, increasing; a resend keeps it")]


def reading_schema() -> dict[str, Any]:
    """The schema of `<prefix>/<gw>/sensor/<id>` and `<prefix>/<gw>/output/<id>` payloads."""
    schema = ReadingPayload.model_json_schema(mode="serialization")
    schema["properties"]["ts"]["description"] = "when it was taken, UTC, ISO 8601 with milliseconds and Z"
    return {"$schema": DRAFT, "$id": "pi-mqtt-gateway/reading.schema.json", **schema}


def command_schema() -> dict[str, Any]:
    """The schema of `<prefix>/<gw>/output/<id>/set` payloads: a word, or a JSON object."""
    json_form = JsonCommand.model_json_schema(by_alias=True)
    json_form["title"] = "JsonCommand"
    json_form["description"] = (
        f"exactly one of state and value (pwm outputs only); `for` pulses up to {MAX_PULSE_SECONDS:g} s; "
        "`id` makes a redelivered command apply once"
    )
    words = {"type": "string", "pattern": WORDS_PATTERN, "description": "ON, OFF or TOGGLE, any case"}
    return {
        "$schema": DRAFT,
        "$id": "pi-mqtt-gateway/command.schema.json",
        "title": "Command",
        "oneOf": [words, json_form],
    }


SCHEMAS = {"reading.schema.json": reading_schema, "command.schema.json": command_schema}
