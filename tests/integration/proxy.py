"""A small loopback TCP proxy between the gateway and the broker, to reset or blackhole the connection."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from contextlib import suppress

from tests.integration.broker import free_port


class FaultyProxy:
    """Forwards 127.0.0.1:`port` to the broker; `reset()` cuts every connection with an RST, `blackhole`
    silently stops forwarding (sockets stay open, like a dead Wi-Fi link) until `restore()`."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        cut_on_packet: int | None = None,
        upstream_bytes_per_s: float | None = None,
        record_pubacks: bool = False,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self._target = (target_host, target_port)
        self._cut_on_packet = cut_on_packet  # an MQTT packet type from the client that makes us cut (RST)
        self._rate = upstream_bytes_per_s  # a slow link from the client to the broker
        self.refusing = False  # abort new connections at once (the broker looks down)
        self.cuts = 0
        self._record = record_pubacks
        self.acked_seqs: set[int] = set()  # reading seqs whose PUBLISH the broker acknowledged (PUBACK seen)
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
        if self.refusing:
            client_writer.transport.abort()
            return
        try:
            broker_reader, broker_writer = await asyncio.open_connection(*self._target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers |= {client_writer, broker_writer}
        pending: dict[int, int] = {}  # packet id -> reading seq of this connection's unacknowledged PUBLISHes
        await asyncio.gather(
            self._upstream(client_reader, broker_writer, client_writer, pending),
            self._pipe(broker_reader, client_writer, pending),
            return_exceptions=True,
        )
        for writer in (client_writer, broker_writer):
            self._writers.discard(writer)
            writer.transport.abort()

    async def _upstream(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        client: asyncio.StreamWriter,
        pending: dict[int, int],
    ) -> None:
        """Client to broker: throttled, and cut when the client sends the packet type we watch for."""
        packets = MqttPackets()
        while data := await reader.read(1024 if self._rate else 65536):
            await self._flowing.wait()
            seen = packets.feed(data)
            if self._record:
                pending.update(publish_seqs(packets.completed))
            if self._cut_on_packet is not None and self._cut_on_packet in seen:
                self.cuts += 1
                self.reset()
                return
            if writer.is_closing():
                return
            writer.write(data)
            await writer.drain()
            if self._rate:
                await asyncio.sleep(len(data) / self._rate)
        writer.transport.abort()
        client.transport.abort()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pending: dict[int, int] | None = None
    ) -> None:
        packets = MqttPackets()
        while data := await reader.read(65536):
            packets.feed(data)
            if self._record and pending is not None:
                for packet_id in puback_ids(packets.completed):
                    if (seq := pending.pop(packet_id, None)) is not None:
                        self.acked_seqs.add(seq)
            await self._flowing.wait()  # a blackhole swallows nothing: the bytes wait, unanswered
            if writer.is_closing():
                return
            writer.write(data)
            await writer.drain()
        writer.transport.abort()


SUBSCRIBE = 8  # MQTT control packet types (the high nibble of the first byte)
PUBLISH = 3
PUBACK = 4


class MqttPackets:
    """Splits a byte stream into MQTT packets (fixed header + remaining length) and says which types went by."""

    def __init__(self) -> None:
        self._buffer = b""
        self.completed: list[tuple[int, int, bytes]] = []  # (type, flags, variable header + payload) of the last feed

    def feed(self, data: bytes) -> list[int]:
        """The types of the packets completed by `data` (the packets themselves are in `completed`)."""
        self._buffer += data
        self.completed = []
        while (header := self._header()) is not None and len(self._buffer) >= sum(header):
            start, size = header[0], sum(header)
            self.completed.append((self._buffer[0] >> 4, self._buffer[0] & 0x0F, self._buffer[start:size]))
            self._buffer = self._buffer[size:]
        return [kind for kind, _flags, _body in self.completed]

    def _header(self) -> tuple[int, int] | None:
        """(fixed header size, remaining length) of the packet at the head of the buffer, once both are known."""
        length, multiplier = 0, 1
        for index in range(1, min(5, len(self._buffer))):
            byte = self._buffer[index]
            length += (byte & 0x7F) * multiplier
            multiplier *= 128
            if not byte & 0x80:
                return 1 + index, length
        return None


def publish_seqs(packets: list[tuple[int, int, bytes]]) -> dict[int, int]:
    """Packet id -> reading `seq` of each QoS > 0 PUBLISH (MQTT 3.1.1) whose payload is a reading."""
    found = {}
    for kind, flags, body in packets:
        if kind != PUBLISH or not (flags >> 1) & 0x03:
            continue
        topic_end = 2 + int.from_bytes(body[:2], "big")
        packet_id = int.from_bytes(body[topic_end : topic_end + 2], "big")
        try:
            seq = json.loads(body[topic_end + 2 :]).get("seq")
        except (ValueError, AttributeError):
            continue
        if isinstance(seq, int):
            found[packet_id] = seq
    return found


def puback_ids(packets: list[tuple[int, int, bytes]]) -> list[int]:
    """The packet ids the broker acknowledged in these packets."""
    return [int.from_bytes(body[:2], "big") for kind, _flags, body in packets if kind == PUBACK]


class MisbehavingServer:
    """A loopback TCP server that is no broker: on every connection it `close`s at once, `reset`s (RST), stays
    `silent` (reads, never answers), or `refuse`s (CONNACK "not authorised" and close in one write), like a load
    balancer with a dead backend, a broker that ignores MQTT 5, or one that refuses us."""

    def __init__(self, behaviour: str) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.behaviour = behaviour
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> MisbehavingServer:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._open:
            writer.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.behaviour == "close":
            writer.close()
        elif self.behaviour == "refuse":  # a CONNACK "not authorised" (MQTT 3.1.1 code 5) and the close, in one go
            await reader.read(4096)
            writer.write(bytes([0x20, 0x02, 0x00, 0x05]))
            writer.close()
        elif self.behaviour == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        else:
            self._open.add(writer)
            with suppress(OSError):
                while await reader.read(4096):
                    pass
            self._open.discard(writer)
