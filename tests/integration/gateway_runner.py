"""Running a gateway in-process (on an injected MockFactory) or as a real process, for integration tests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from gateway.config import GatewayConfig
from gateway.config_loader import loaded_from
from gateway.server import Gateway


@asynccontextmanager
async def running_gateway(config: GatewayConfig, pin_factory: Any | None = None) -> AsyncIterator[Gateway]:
    """Serve `config` until the block ends, then stop gracefully and re-raise anything serve() raised."""
    gateway = Gateway(loaded_from(config), pin_factory=pin_factory)
    task = asyncio.create_task(gateway.serve())
    ready = asyncio.create_task(gateway.ready.wait())
    done, _ = await asyncio.wait({task, ready}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # start-up failed: raise its error
    assert ready in done, "gateway was not ready within 30 s"
    try:
        yield gateway
    finally:
        gateway.request_stop()
        await asyncio.wait_for(task, 30)


def start_process(config_path: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`python -m gateway --config PATH run` as a child process, logging JSON to a pipe."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", str(config_path), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )


def broker_config(broker_host: str, broker_port: int, **mqtt: Any) -> dict[str, Any]:
    """The [mqtt] section for a test broker, with fast reconnects."""
    return {"host": broker_host, "port": broker_port, "reconnect_min": 0.1, "reconnect_max": 0.5, **mqtt}


class OutputLines:
    """Reads a child's output on a thread as it comes, so a test can wait for a log line while it runs."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        self._process = process
        self._stream = process.stdout
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for raw in self._stream:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    async def wait_for(self, text: str, timeout: float = 30.0) -> str:
        """The first line containing `text`; fails the test if none comes within `timeout` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not (found := [line for line in self.lines if text in line]):
            assert asyncio.get_running_loop().time() < deadline, f"no line with {text!r}; last: {self.lines[-5:]}"
            await asyncio.sleep(0.05)
        return found[0]

    def close(self) -> None:
        """Kill the process if it still runs, then read its output to the end and close the pipe."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait(30)
        self._thread.join(timeout=10)
        self._stream.close()
