"""A small loopback TCP proxy between the gateway and the broker, to reset or blackhole the connection."""

from __future__ import annotations

import asyncio
import socket
import struct
from contextlib import suppress

from tests.integration.broker import free_port


class FaultyProxy:
    """Forwards 127.0.0.1:`port` to the broker; `reset()` cuts every connection with an RST, `blackhole`
    silently stops forwarding (sockets stay open, like a dead Wi-Fi link) until `restore()`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> None:
        """Listen for the gateway."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)

    async def close(self) -> None:
        """Stop listening and cut everything."""
        if self._server is not None:
            self._server.close()
        self.reset()
        self._flowing.set()

    def reset(self) -> None:
        """Abort every proxied connection with a TCP RST (SO_LINGER 0)."""
        for writer in list(self._writers):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        self._writers.clear()

    def blackhole(self) -> None:
        """Stop forwarding in both directions; connections stay open and silent."""
        self._flowing.clear()

    def restore(self) -> None:
        """Forward again after blackhole()."""
        self._flowing.set()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            broker_reader, broker_writer = await asyncio.open_connection(*self._target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers |= {client_writer, broker_writer}
        await asyncio.gather(
            self._pipe(client_reader, broker_writer), self._pipe(broker_reader, client_writer), return_exceptions=True
        )
        for writer in (client_writer, broker_writer):
            self._writers.discard(writer)
            writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            await self._flowing.wait()  # a blackhole swallows nothing: the bytes wait, unanswered
            if writer.is_closing():
                return
            writer.write(data)
            await writer.drain()
        writer.transport.abort()
