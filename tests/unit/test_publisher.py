"""Tests of the reconnect backoff and of the QoS 2 guard."""

from __future__ import annotations

import random

from gateway.errors import ConnectionClosedError, TransportError
from gateway.outbox import Message
from gateway.publisher import Backoff, QosGuard


class TestBackoff:
    def test_ceiling_doubles_up_to_the_cap(self) -> None:
        """Delays stay within [base/2, min(cap, base * 2**n)] and never exceed the cap."""
        backoff = Backoff(0.5, 8.0, random.Random(1))
        for attempt in range(12):
            delay = backoff.next_delay()
            assert 0.25 <= delay <= min(8.0, 0.5 * 2**attempt)

    def test_jitter_spreads_the_delays(self) -> None:
        """Two gateways restarting together do not reconnect in lockstep."""
        delays = set()
        for seed in range(20):
            backoff = Backoff(0.5, 30.0, random.Random(seed))
            for _ in range(5):
                delay = backoff.next_delay()
            delays.add(round(delay, 3))
        assert len(delays) > 10

    def test_reset_starts_again_from_the_base(self) -> None:
        """After a successful connection the next failure waits a short time again."""
        backoff = Backoff(0.5, 30.0, random.Random(3))
        for _ in range(10):
            backoff.next_delay()
        backoff.reset()
        assert backoff.next_delay() <= 0.5


class TestQosGuard:
    def message(self, qos: int) -> Message:
        """A message at `qos`."""
        return Message(1, "t", b"{}", qos, False)

    def test_three_sessions_closed_on_a_qos2_publish_downgrade_it(self) -> None:
        """Three sessions in a row closed by the broker with only a QoS 2 publish unacknowledged: QoS 2 goes as 1."""
        guard = QosGuard()
        closed = ConnectionClosedError("connection lost")
        for _ in range(2):
            guard.session_failed([self.message(2)], closed)
        assert guard.qos(self.message(2)) == 2
        guard.session_failed([self.message(2)], closed)
        assert guard.downgraded
        assert guard.qos(self.message(2)) == 1
        assert guard.qos(self.message(0)) == 0

    def test_timeouts_and_acknowledged_qos2_never_downgrade(self) -> None:
        """A frozen broker (timeouts) or a QoS 2 publish that was acknowledged in between keeps QoS 2."""
        guard = QosGuard()
        for _ in range(5):
            guard.session_failed([self.message(2)], TransportError("no acknowledgement within 10 s"))
        closed = ConnectionClosedError("connection lost")
        for _ in range(5):
            guard.session_failed([self.message(2)], closed)
            guard.session_failed([self.message(2)], closed)
            guard.acked(self.message(2))
        guard.session_failed([self.message(1)], closed)
        assert not guard.downgraded
