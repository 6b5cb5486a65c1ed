"""Outputs driven by MQTT commands, with the safety rules of each output; and the counters' commands.

A command goes: topic -> output id -> retained policy -> rate limit -> parse -> duplicate id -> interlock ->
pin. A counter (`<base>/sensor/<id>/set`) takes `RESET` or {"value": N}, and only live (not retained) ones.
Every refusal is counted and logged (one line per output every 10 s at most, with the count since); the pin
does not move and nothing is raised. The actual state is published retained after every change.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Protocol

import structlog

from gateway.commands import Command, parse_command, parse_counter_command
from gateway.config import OutputConfig
from gateway.counter import Counter
from gateway.errors import DeviceError, InvalidCommandError, InvalidReadingError
from gateway.logs import LogThrottle
from gateway.pipeline import Sink
from gateway.reading import ReadingFactory
from gateway.session import InboundMessage
from gateway.stats import Stats
from gateway.topics import Topics

if TYPE_CHECKING:  # drivers come built from the server; the command policy never loads gpiozero itself
    from gateway.devices.output_pins import OutputDriver

log = structlog.get_logger(component="outputs")
REFUSAL_LOG_INTERVAL = 10.0
REMEMBERED_IDS = 64  # command ids kept per output to recognise a redelivery
Clock = Callable[[], float]


class Timer(Protocol):
    """A scheduled call that can be cancelled (an asyncio.TimerHandle)."""

    def cancel(self) -> None:
        """Do not run it."""


Schedule = Callable[[float, Callable[[], None]], Timer]


def call_later(delay: float, callback: Callable[[], None]) -> Timer:
    """The real scheduler: the running loop's call_later."""
    return asyncio.get_running_loop().call_later(delay, callback)


class RateLimit:
    """A token bucket: `rate` commands per second on average, bursts of up to max(1, rate)."""

    def __init__(self, rate: float, clock: Clock) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._clock = clock
        self._last = clock()

    def allow(self) -> bool:
        """Take one token if there is one."""
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


@dataclass
class _Output:
    """One output's driver and the state of its rules."""

    driver: OutputDriver
    limit: RateLimit
    factory: ReadingFactory
    topic: str
    qos: int
    seen_ids: deque[str] = field(default_factory=lambda: deque(maxlen=REMEMBERED_IDS))
    pulse: Timer | None = None
    max_on: Timer | None = None
    failsafe: Timer | None = None

    @property
    def config(self) -> OutputConfig:
        return self.driver.config

    @property
    def is_on(self) -> bool:
        return self.driver.value > 0


class Outputs:
    """Every output of the gateway: applies commands, publishes states, enforces the safety rules."""

    def __init__(
        self,
        drivers: Sequence[OutputDriver],
        sink: Sink,
        topics: Topics,
        stats: Stats,
        *,
        default_qos: int,
        counters: Mapping[str, Counter] | None = None,
        clock: Clock = time.monotonic,
        schedule: Schedule = call_later,
    ) -> None:
        self._counters = counters if counters is not None else {}  # live: the server swaps sensors in it
        self._sink = sink
        self._topics = topics
        self._stats = stats
        self._outputs = {
            d.config.id: _Output(
                d,
                RateLimit(d.config.max_commands_per_second, clock),
                ReadingFactory(d.config.id, None, binary=not d.pwm),
                topics.output(d.config.id),
                d.config.qos if d.config.qos is not None else default_qos,
            )
            for d in drivers
        }
        self._partners = _interlock_partners([d.config for d in drivers])
        self._refusals: dict[str, LogThrottle] = {}  # by output id, or "?" for anything unknown
        self._clock = clock
        self._schedule = schedule

    @property
    def subscriptions(self) -> list[str]:
        """The topic filters for our commands: none without outputs and counters."""
        kinds = [kind for kind, present in (("output", self._outputs), ("sensor", self._counters)) if present]
        return [self._topics.commands(kind) for kind in kinds]

    def publish_states(self) -> None:
        """Publish every output's state (at start-up)."""
        for output in self._outputs.values():
            self._publish(output)

    def receive(self, message: InboundMessage) -> None:
        """Apply one command message, or count and log why not. Never raises."""
        target = self._topics.command_target(message.topic)
        if target is not None and target[0] == "sensor":
            self._counter_command(target[1], message)
            return
        output = self._outputs.get(target[1]) if target is not None else None
        if output is None:
            self._refuse("?", "no such output", message.topic)  # "?": attacker-chosen ids must not grow a dict
            return
        if message.retained and output.config.retained_commands == "ignore":
            self._refuse(output.config.id, "a retained command from before the start (retained_commands)")
            return
        if not output.limit.allow():
            self._refuse(output.config.id, f"more than {output.config.max_commands_per_second:g} commands/s")
            return
        try:
            command = parse_command(message.payload, pwm=output.driver.pwm)
        except InvalidCommandError as exc:
            self._refuse(output.config.id, exc.reason)
            return
        self._execute(output, command)

    def _counter_command(self, sensor_id: str, message: InboundMessage) -> None:
        counter = self._counters.get(sensor_id)
        if counter is None:
            self._refuse("?", "no such counter", message.topic)
            return
        if message.retained:
            self._refuse(sensor_id, "a retained counter command (only live ones are applied)")
            return
        try:
            total = parse_counter_command(message.payload)
            counter.set_total(total)
        except InvalidCommandError as exc:
            self._refuse(sensor_id, exc.reason)
            return
        except DeviceError as exc:
            log.error("counter not set", sensor=sensor_id, error=str(exc))
            return
        self._stats.commands += 1
        log.info("counter set", sensor=sensor_id, total=total)

    def link_changed(self, connected: bool) -> None:
        """The broker connection came or went: arm or disarm each output's failsafe timer."""
        for output in self._outputs.values():
            if output.failsafe is not None:
                output.failsafe.cancel()
                output.failsafe = None
            after, state = output.config.failsafe_after, output.config.failsafe
            if not connected and after is not None and state != "keep":
                output.failsafe = self._schedule(
                    after, partial(self._apply_failsafe, output, "the broker is unreachable")
                )

    def shut_down(self) -> None:
        """Cancel every timer and put each output in its failsafe state (the states are published)."""
        for output in self._outputs.values():
            self._cancel_timers(output)
            self._apply_failsafe(output, "shutdown")

    def close(self) -> None:
        """Release the pins."""
        for output in self._outputs.values():
            self._cancel_timers(output)
            output.driver.close()
        self._outputs.clear()

    def _execute(self, output: _Output, command: Command) -> None:
        if command.command_id is not None:
            if command.command_id in output.seen_ids:
                log.debug("duplicate command ignored", output=output.config.id, command_id=command.command_id)
                return
            output.seen_ids.append(command.command_id)
        before = output.driver.value
        target = _target(command, before)
        if target > 0 and (blocker := self._interlocked_on(output)) is not None:
            self._refuse(output.config.id, f"interlocked with {blocker!r}, which is on")
            return
        if output.pulse is not None:
            output.pulse.cancel()
            output.pulse = None
        if not self._set(output, target, "command"):
            return
        self._stats.commands += 1
        if command.duration is not None:
            output.pulse = self._schedule(command.duration, partial(self._end_pulse, output, before))

    def _end_pulse(self, output: _Output, value: float) -> None:
        output.pulse = None
        if value > 0 and self._interlocked_on(output) is not None:
            value = 0.0  # never go back on against an interlock that became active meanwhile
        self._set(output, value, "end of pulse")

    def _set(self, output: _Output, value: float, cause: str) -> bool:
        """Drive the pin, arm or disarm max_on, publish the new state; False if the pin refused."""
        was_on = output.is_on
        try:
            output.driver.set(value)
        except DeviceError as exc:
            log.error("output failed", output=output.config.id, error=str(exc), cause=cause)
            return False
        if output.is_on and not was_on and output.config.max_on is not None:
            output.max_on = self._schedule(output.config.max_on, partial(self._max_on_reached, output))
        elif not output.is_on and output.max_on is not None:
            output.max_on.cancel()
            output.max_on = None
        self._publish(output)
        return True

    def _max_on_reached(self, output: _Output) -> None:
        output.max_on = None
        if output.pulse is not None:
            output.pulse.cancel()
            output.pulse = None
        log.warning("output turned off after max_on", output=output.config.id, max_on=output.config.max_on)
        self._set(output, 0.0, "max_on")

    def _apply_failsafe(self, output: _Output, why: str) -> None:
        output.failsafe = None
        state = output.config.failsafe
        if state == "keep":
            return
        value = 1.0 if state == "on" and self._interlocked_on(output) is None else 0.0
        if output.driver.value != value:
            log.warning("output set to its failsafe state", output=output.config.id, state=state, why=why)
            self._set(output, value, "failsafe")

    def _interlocked_on(self, output: _Output) -> str | None:
        for partner in self._partners.get(output.config.id, ()):
            other = self._outputs.get(partner)
            if other is not None and other.is_on:
                return partner
        return None

    def _publish(self, output: _Output) -> None:
        value = output.driver.value
        state: bool | float = value if output.driver.pwm else value > 0
        try:
            reading = output.factory.make(state, time.time())
            self._sink.put(output.topic, reading, output.qos, True)
        except InvalidReadingError as exc:  # cannot happen for 0..1, but a refusal must never escape
            log.error("output state not published", output=output.config.id, error=str(exc))

    def _cancel_timers(self, output: _Output) -> None:
        for handle in (output.pulse, output.max_on, output.failsafe):
            if handle is not None:
                handle.cancel()
        output.pulse = output.max_on = output.failsafe = None

    def _refuse(self, output_id: str, reason: str, topic: str | None = None) -> None:
        self._stats.commands_rejected += 1
        throttle = self._refusals.setdefault(output_id, LogThrottle(REFUSAL_LOG_INTERVAL))
        if (refused := throttle.count(self._clock())) is None:
            return
        fields: dict[str, object] = {"output": output_id, "reason": reason, "refused_since_last_log": refused}
        if topic is not None:
            fields["topic"] = topic[:200]
        log.warning("command refused", **fields)


def _target(command: Command, current: float) -> float:
    if command.value is not None:
        return command.value
    if command.toggle:
        return 0.0 if current > 0 else 1.0
    return 1.0 if command.state else 0.0


def _interlock_partners(configs: Sequence[OutputConfig]) -> dict[str, set[str]]:
    """Interlocks work both ways, whichever output names the other."""
    partners: dict[str, set[str]] = {}
    for config in configs:
        for other in config.interlock:
            partners.setdefault(config.id, set()).add(other)
            partners.setdefault(other, set()).add(config.id)
    return partners
