"""The gateway's own exceptions: everything above the device and transport layers sees only these."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EX_OK = 0
EX_FAILURE = 1
EX_USAGE = 2
EX_CONFIG = 78  # sysexits.h EX_CONFIG: the unit's RestartPreventExitStatus


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration: where it is and what is wrong."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ConfigError(GatewayError):
    """The configuration (file, environment or credentials) is invalid; exit 78."""

    def __init__(self, source: Path | str | None, problems: list[ConfigProblem]) -> None:
        self.source = str(source) if source is not None else None
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        """All problems, one per line, each prefixed with the file they come from."""
        head = f"{self.source}: " if self.source else ""
        count = len(self.problems)
        title = f"{head}invalid configuration ({count} problem{'s' if count != 1 else ''})"
        return "\n".join([title, *(f"  - {problem}" for problem in self.problems)])


class UsageError(GatewayError):
    """The command line named something that does not exist (a key, a sensor id); exit 2."""


class DeviceError(GatewayError):
    """A sensor or output could not be set up or read (wraps gpiozero's errors)."""


class PinFactoryError(DeviceError):
    """No usable gpiozero pin factory (e.g. not a Raspberry Pi and `pin_factory` is not `mock`)."""


class InvalidReadingError(GatewayError):
    """A reading failed validation (NaN, out of range, wrong type); it is counted and never published."""

    def __init__(self, sensor: str, reason: str) -> None:
        self.sensor = sensor
        self.reason = reason
        super().__init__(f"sensor {sensor!r}: {reason}")


class InvalidCommandError(GatewayError):
    """An MQTT command payload that is not a valid command for its output; the output does not move."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TransportError(GatewayError):
    """The MQTT connection failed or was lost (wraps aiomqtt's errors)."""


class ConnectionClosedError(TransportError):
    """The connection was closed under us (by the broker or the network), as opposed to a timeout."""


class PublishRefusedError(TransportError):
    """The broker acknowledged a publish with a failure reason code (MQTT 5): it was not delivered."""


class AuthenticationError(TransportError):
    """The broker refused our credentials or we are not authorised (its CONNACK said so)."""


class NoConnackError(TransportError):
    """The broker accepted the TCP connection but never answered CONNECT.

    `maybe_not_mqtt5` is set once MQTT 5 was asked for and several first attempts ended this way: brokers that
    only speak 3.1.1 (RabbitMQ 3.10, amqtt) stay silent instead of refusing.
    """

    def __init__(self, message: str, *, maybe_not_mqtt5: bool = False) -> None:
        super().__init__(message)
        self.maybe_not_mqtt5 = maybe_not_mqtt5


class StateError(GatewayError):
    """The state directory or a file in it cannot be used."""
