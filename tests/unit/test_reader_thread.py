"""Tests of the daemon reader threads that run blocking device reads."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gateway.reader_thread import ReaderThread


class TestReaderThread:
    async def test_returns_the_result_and_raises_the_error(self) -> None:
        """A call's result or exception comes back to the awaiting coroutine."""
        reader = ReaderThread("t")

        def fail() -> None:
            raise OSError("bus error")

        assert await reader.call(lambda: 42, timeout=5) == 42
        with pytest.raises(OSError, match="bus error"):
            await reader.call(fail, timeout=5)
        reader.close()

    async def test_a_cancel_that_races_the_result_is_never_swallowed(self) -> None:
        """Cancelled while the result is already queued, the call still raises CancelledError.

        (asyncio.wait_for on 3.11 returns the result instead, and a poll loop then never stops.)
        """
        reader = ReaderThread("race")
        go, queued = threading.Event(), threading.Event()
        task = asyncio.create_task(reader.call(go.wait, timeout=5))
        after = asyncio.create_task(reader.call(queued.set, timeout=5))  # the thread takes requests in order
        await asyncio.sleep(0)  # both calls are now waiting for the thread
        go.set()
        # Block the loop on purpose until the thread has queued the first result (it runs `after` only then).
        assert queued.wait(30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await after
        reader.close()

    async def test_a_hung_read_times_out_without_blocking_anything(self) -> None:
        """A read that never returns raises TimeoutError; its daemon thread cannot hold up exit."""
        reader = ReaderThread("hung")
        never = threading.Event()
        with pytest.raises(TimeoutError):
            await reader.call(never.wait, timeout=0.05)
        thread = next(t for t in threading.enumerate() if t.name == "read-hung")
        assert thread.daemon
        reader.close()
        never.set()
