"""Running a gateway in-process (on an injected MockFactory) or as a real process, for integration tests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from gateway.config import GatewayConfig
from gateway.server import Gateway
from gateway.settings import loaded_from


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
