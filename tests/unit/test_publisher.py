"""Tests of the reconnect backoff."""

from __future__ import annotations

import random

from gateway.publisher import Backoff


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
