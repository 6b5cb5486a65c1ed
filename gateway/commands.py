"""Parsing MQTT command payloads for outputs (docs/mqtt-contract.md: Commands) into a validated `Command`.

Accepted: `ON`, `OFF`, `TOGGLE` (any case, surrounding whitespace ignored), or a JSON object with exactly
one of `state` (`"ON"`/`"OFF"`/`"TOGGLE"` or a boolean) and `value` (0..1, PWM outputs only), an optional
`for` (seconds, a pulse: the output goes back to its previous state after it) and an optional `id` (a
command id: a redelivered command with an id already seen is applied once). Everything else raises
InvalidCommandError with a reason short enough for one log line.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gateway.errors import InvalidCommandError

MAX_COMMAND_BYTES = 1024  # checked before decoding: a 1 MB payload costs nothing
MAX_PULSE_SECONDS = 86_400.0
WORDS = {"ON": True, "OFF": False}


class Command(BaseModel):
    """One command for one output: exactly one of `state`, `value`, `toggle`."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)  # built at first use

    state: bool | None = None
    value: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None
    toggle: bool = False
    duration: Annotated[float, Field(gt=0, le=MAX_PULSE_SECONDS, allow_inf_nan=False)] | None = None
    command_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class JsonCommand(BaseModel):
    """The JSON form, as sent; converted to a Command."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, populate_by_name=False, defer_build=True)

    state: Literal["ON", "OFF", "TOGGLE"] | None = None
    value: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None  # strict: 1 yes, "1" or true no
    duration: Annotated[float, Field(gt=0, le=MAX_PULSE_SECONDS, allow_inf_nan=False)] | None = Field(
        default=None, alias="for"
    )
    id: Annotated[str, Field(min_length=1, max_length=64)] | None = None

    @field_validator("state", mode="before")
    @classmethod
    def _state_words(cls, state: object) -> object:
        if isinstance(state, bool):
            return "ON" if state else "OFF"
        return state.strip().upper() if isinstance(state, str) else state

    @model_validator(mode="after")
    def _one_action(self) -> Self:
        if (self.state is None) == (self.value is None):
            raise ValueError("give exactly one of state and value")
        return self

    def command(self) -> Command:
        return Command(
            state=WORDS.get(self.state) if self.state is not None else None,
            value=self.value,
            toggle=self.state == "TOGGLE",
            duration=self.duration,
            command_id=self.id,
        )


def parse_command(payload: bytes, *, pwm: bool) -> Command:
    """The command in `payload` for an output (`pwm` allows `value`); InvalidCommandError otherwise."""
    text = _text(payload)
    word = text.upper()  # ON, OFF, TOGGLE
    if word in WORDS or word == "TOGGLE":
        return Command(state=WORDS.get(word), toggle=word == "TOGGLE")
    command = _parse_json(text)
    if command.value is not None and not pwm:
        raise InvalidCommandError("value is only for pwm outputs; use state ON/OFF")
    return command


class _CounterCommand(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)  # built at first use

    value: Annotated[int, Field(ge=0, le=2**53)]


def parse_counter_command(payload: bytes) -> int:
    """The new total a counter command asks for: `RESET` is 0, or {"value": N}; InvalidCommandError else."""
    text = _text(payload)
    if text.upper() == "RESET":
        return 0
    data = _json_object(text)
    try:
        return _CounterCommand.model_validate(data).value
    except ValidationError as exc:
        raise InvalidCommandError(_validation_reason(exc)) from None


def _text(payload: bytes) -> str:
    """The payload as stripped text: size checked before decoding (a 1 MB payload costs nothing)."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise InvalidCommandError(f"payload of {len(payload)} bytes (at most {MAX_COMMAND_BYTES})")
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InvalidCommandError("payload is not UTF-8") from None
    if not text:
        raise InvalidCommandError("empty payload")
    return text


def _parse_json(text: str) -> Command:
    data = _json_object(text)
    try:
        return JsonCommand.model_validate(data).command()
    except ValidationError as exc:
        raise InvalidCommandError(_validation_reason(exc)) from None


def _json_object(text: str) -> dict[str, object]:
    if not text.startswith("{"):
        raise InvalidCommandError(f"not a known word or a JSON object: {_shorten(text)}")
    try:
        data = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError; so is a 100k-digit integer
        raise InvalidCommandError(f"invalid JSON: {_shorten(str(exc))}") from None
    if not isinstance(data, dict):
        raise InvalidCommandError("not a JSON object")
    return data


def _validation_reason(exc: ValidationError) -> str:
    problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'command'}: {e['msg']}" for e in exc.errors())
    return _shorten(problems, 200)


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not a number")


def _shorten(text: str, limit: int = 60) -> str:
    """At most `limit` characters of untrusted text, printable, for a log line."""
    printable = "".join(ch if ch.isprintable() else "?" for ch in text[:limit])
    return repr(printable + ("..." if len(text) > limit else ""))
