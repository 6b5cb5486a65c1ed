"""Blocking device reads on daemon threads, one per polled sensor.

Some reads block for long (bit-banged SPI, an ultrasonic echo) or forever (a gpiozero queue that a closed
device never fills). On the default executor such a read would hold up `asyncio.run`'s exit; on a daemon
thread of its own it costs that one sensor a timeout and nothing else.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any

_Request = tuple[Callable[[], Any], asyncio.Future[Any], asyncio.AbstractEventLoop] | None


class ReaderThread:
    """Runs one blocking call at a time on a daemon thread and hands the result back to the loop."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    async def call(self, function: Callable[[], Any], timeout: float) -> Any:
        """`function()` on the reader thread; TimeoutError if it takes longer than `timeout` seconds."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name=f"read-{self._name}", daemon=True)
            self._thread.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._requests.put((function, future, loop))
        # Not asyncio.wait_for: on 3.11 it returns the result when a cancel arrives as the future
        # completes, swallowing the cancellation (a poll loop then never stops at shutdown).
        async with asyncio.timeout(timeout):
            return await future

    def close(self) -> None:
        """Let the thread end after its current call (it is a daemon: a hung call cannot block exit)."""
        self._requests.put(None)

    def _work(self) -> None:
        while (request := self._requests.get()) is not None:
            function, future, loop = request
            try:
                result = function()
            except Exception as exc:  # noqa: BLE001 - handed to the awaiting coroutine, which decides
                _deliver(loop, future, None, exc)
            else:
                _deliver(loop, future, result, None)


def _deliver(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], result: Any, error: Exception | None
) -> None:
    def settle() -> None:
        if future.done():  # timed out or cancelled meanwhile
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    with suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        loop.call_soon_threadsafe(settle)
