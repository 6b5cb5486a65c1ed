"""The command parser: every accepted form, a corpus of malformed payloads, and hypothesis fuzzing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.commands import MAX_COMMAND_BYTES, Command, parse_command
from gateway.errors import InvalidCommandError

ACCEPTED = [
    (b"ON", Command(state=True)),
    (b"off", Command(state=False)),
    (b" Toggle\n", Command(toggle=True)),
    (b'{"state": "ON"}', Command(state=True)),
    (b'{"state": "off"}', Command(state=False)),
    (b'{"state": true}', Command(state=True)),
    (b'{"state": "TOGGLE"}', Command(toggle=True)),
    (b'{"state": "ON", "for": 2.5}', Command(state=True, duration=2.5)),
    (b'{"state": "ON", "id": "cmd-1"}', Command(state=True, command_id="cmd-1")),
    (b'{"value": 0.5}', Command(value=0.5)),
    (b'{"value": 1}', Command(value=1.0)),
    (b'{"value": 0, "for": 1}', Command(value=0.0, duration=1.0)),
]

# At least 20 malformed payloads (issue 4): each is refused with a reason, never raised as anything else.
MALFORMED = {
    "empty": b"",
    "whitespace": b"   \n",
    "not UTF-8": b"\xff\xfe\x00O\x00N",
    "invalid JSON": b'{"state": "ON"',
    "a JSON list": b'["ON"]',
    "a JSON string": b'"ON"',
    "a bare number": b"1",
    "unknown word": b"MAYBE",
    "state wrong type": b'{"state": 1}',
    "state unknown": b'{"state": "HALF"}',
    "value as string": b'{"value": "0.5"}',
    "value as bool": b'{"value": true}',
    "value above 1": b'{"value": 1.5}',
    "value negative": b'{"value": -0.1}',
    "NaN": b'{"value": NaN}',
    "Infinity": b'{"value": Infinity}',
    "overflowing float": b'{"value": 1e400}',
    "both state and value": b'{"state": "ON", "value": 1}',
    "neither": b'{"for": 2}',
    "unknown key": b'{"state": "ON", "colour": "red"}',
    "negative pulse": b'{"state": "ON", "for": -1}',
    "pulse too long": b'{"state": "ON", "for": 1e9}',
    "id too long": json.dumps({"state": "ON", "id": "x" * 65}).encode(),
    "1 MB payload": b"O" * 1_000_000,
    "10k-deep nesting": b"[" * 10_000 + b"]" * 10_000,
    "100k-digit integer": b'{"value": ' + b"9" * 100_000 + b"}",
    "NUL inside": b"ON\x00",
    "wildcards": b"+/#",
}


class TestAccepted:
    @pytest.mark.parametrize(("payload", "expected"), ACCEPTED, ids=[p.decode().strip() for p, _ in ACCEPTED])
    def test_parses(self, payload: bytes, expected: Command) -> None:
        """Each documented form parses into the command it means."""
        assert parse_command(payload, pwm=True) == expected

    def test_value_is_only_for_pwm_outputs(self) -> None:
        """A relay refuses {"value": ...}; ON/OFF are the way to drive it."""
        with pytest.raises(InvalidCommandError, match="only for pwm"):
            parse_command(b'{"value": 1}', pwm=False)


class TestMalformed:
    def test_the_corpus_has_at_least_20_cases(self) -> None:
        """The acceptance corpus is as large as the issue asks."""
        assert len(MALFORMED) >= 20

    @pytest.mark.parametrize("name", sorted(MALFORMED))
    def test_refused_with_a_short_reason(self, name: str) -> None:
        """Every malformed payload raises InvalidCommandError whose reason fits one log line."""
        with pytest.raises(InvalidCommandError) as caught:
            parse_command(MALFORMED[name], pwm=True)
        assert 0 < len(caught.value.reason) <= 250
        assert "\x00" not in caught.value.reason

    def test_size_is_checked_before_decoding(self) -> None:
        """One byte over the limit is refused by size, whatever it contains."""
        with pytest.raises(InvalidCommandError, match="bytes"):
            parse_command(b" " * MAX_COMMAND_BYTES + b"N", pwm=True)


class TestFuzz:
    @settings(max_examples=400, deadline=None)
    @given(payload=st.binary(max_size=300))
    def test_any_bytes(self, payload: bytes) -> None:
        """Arbitrary bytes: a Command or InvalidCommandError, nothing else escapes."""
        outcome: Command | InvalidCommandError
        try:
            outcome = parse_command(payload, pwm=True)
        except InvalidCommandError as exc:
            outcome = exc
        assert isinstance(outcome, Command) or outcome.reason

    @settings(max_examples=400, deadline=None)
    @given(
        document=st.dictionaries(
            st.sampled_from(["state", "value", "for", "id", "x"]),
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10) | st.lists(st.integers()),
            max_size=4,
        ),
        pwm=st.booleans(),
    )
    def test_json_objects(self, document: dict[str, object], pwm: bool) -> None:
        """JSON objects with the real keys and any values: a valid Command or InvalidCommandError."""
        payload = json.dumps(document).encode()
        try:
            command = parse_command(payload, pwm=pwm)
        except InvalidCommandError:
            return
        assert (command.state is not None) + (command.value is not None) + command.toggle == 1
        assert pwm or command.value is None
