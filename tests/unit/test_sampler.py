"""A polled sensor's availability: offline after N failures or when stale, online again on a good read."""

from __future__ import annotations

from gateway.sampler import BACKOFF_CAP, Availability


class TestAvailability:
    def test_online_after_the_first_good_read_only_once(self) -> None:
        """The first good read reports the change to online; later good reads report nothing."""
        health = Availability(offline_after=3, expire_after=None, interval=10, now=0)
        assert health.success(0) is True
        assert health.success(10) is None

    def test_offline_after_n_failures_in_a_row(self) -> None:
        """Two failures are tolerated, the third makes it offline; a good read in between resets the count."""
        health = Availability(offline_after=3, expire_after=None, interval=10, now=0)
        health.success(0)
        assert [health.failure(t) for t in (10, 20)] == [None, None]
        health.success(30)
        assert [health.failure(t) for t in (40, 50, 60, 70)] == [None, None, False, None]
        assert health.success(80) is True

    def test_stale_after_expire_after_even_before_n_failures(self) -> None:
        """With expire_after 15 s, the first failure after 15 s without a good read makes it offline."""
        health = Availability(offline_after=100, expire_after=15, interval=10, now=0)
        health.success(0)
        assert health.failure(10) is None
        assert health.failure(20) is False

    def test_reads_back_off_while_offline_up_to_the_cap(self) -> None:
        """Offline, the interval doubles per failure and stops at the cap; online, it is the interval again."""
        health = Availability(offline_after=1, expire_after=None, interval=10, now=0)
        intervals = []
        for t in range(12):
            health.failure(t)
            intervals.append(health.next_interval())
        assert intervals[:4] == [20, 40, 80, 160]
        assert intervals[-1] == BACKOFF_CAP
        health.success(100)
        assert health.next_interval() == 10
