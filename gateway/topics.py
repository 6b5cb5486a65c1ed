"""MQTT topic names (docs/mqtt-contract.md: Topics), built once per gateway and sensor."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    """The topic tree `<prefix>/<gw>/...` of one gateway."""

    prefix: str
    gateway_id: str

    @property
    def base(self) -> str:
        """`<prefix>/<gw>`."""
        return f"{self.prefix}/{self.gateway_id}"

    @property
    def status(self) -> str:
        """Retained `online`/`offline`, also the Last Will."""
        return f"{self.base}/status"

    @property
    def stats(self) -> str:
        """Retained gateway health counters."""
        return f"{self.base}/stats"

    def sensor(self, sensor_id: str) -> str:
        """Where a sensor's readings go."""
        return f"{self.base}/sensor/{sensor_id}"

    def output(self, output_id: str) -> str:
        """Where an output's actual state goes (retained)."""
        return f"{self.base}/output/{output_id}"

    def commands(self, kind: str) -> str:
        """The filter for commands to this gateway's `output`s (or `sensor`s: counters)."""
        return f"{self.base}/{kind}/+/set"

    def command_target(self, topic: str) -> tuple[str, str] | None:
        """(`output` or `sensor`, id) of a command topic `<base>/<kind>/<id>/set`; None for any other topic."""
        for kind in ("output", "sensor"):
            head, tail = f"{self.base}/{kind}/", "/set"
            if topic.startswith(head) and topic.endswith(tail) and len(topic) > len(head) + len(tail):
                target = topic[len(head) : -len(tail)]
                return None if "/" in target else (kind, target)
        return None

    def all(self) -> str:
        """A filter for everything this gateway publishes."""
        return f"{self.base}/#"


def topic_matches(pattern: str, topic: str) -> bool:
    """Whether `topic` matches the subscription filter `pattern` (`+` one level, a final `#` the rest)."""
    pattern_levels, topic_levels = pattern.split("/"), topic.split("/")
    for index, level in enumerate(pattern_levels):
        if level == "#":
            return True
        if index >= len(topic_levels) or (level != "+" and level != topic_levels[index]):
            return False
    return len(pattern_levels) == len(topic_levels)


def portability_warning(topic_prefix: str) -> str | None:
    """Why `topic_prefix` works on mosquitto but not on every broker (docs/brokers.md), or None."""
    odd = sorted({c for c in topic_prefix if c in ". "})
    if not odd:
        return None
    shown = " and ".join(repr(c) for c in odd)
    return (
        f"gateway.topic_prefix {topic_prefix!r} contains {shown}: NATS closes the connection on such a topic "
        "(the gateway never comes online there) and RabbitMQ rewrites '.' to '/' (commands then go unmatched); "
        "use '-' or '_' to be portable"
    )


def topic_problem(topic: str, max_bytes: int) -> str | None:
    """Why a broker would refuse (or choke on) a publish to `topic`, or None when it is fine.

    Checked once per sensor at start-up, so a poison topic never reaches the outbox: mosquitto
    disconnects a client that sends a NUL in a topic, which would otherwise loop forever.
    """
    checks = (
        (not topic, "empty topic"),
        (any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in topic), "control character in topic"),
        ("+" in topic or "#" in topic, "wildcard '+' or '#' in a topic to publish to"),
        (topic.startswith("$"), "topics beginning with '$' are reserved for the broker"),
        (any(0xD800 <= ord(c) <= 0xDFFF for c in topic), "topic is not valid UTF-8"),
    )
    for failed, reason in checks:
        if failed:
            return reason
    size = len(topic.encode("utf-8"))
    return f"topic is {size} bytes, over mqtt.max_topic_bytes ({max_bytes})" if size > max_bytes else None
