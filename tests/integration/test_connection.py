"""Connection features against real mosquitto configs: passwords, MQTT 5, TLS, and a frozen broker."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory
from structlog.testing import capture_logs

from tests.conftest import make_config
from tests.integration.broker import Broker
from tests.integration.conftest import subscribe, wait_until
from tests.integration.gateway_runner import broker_config, running_gateway

SENSOR = [{"id": "door", "kind": "digital_input", "pin": 27}]


def openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """A throw-away certificate authority: (certificate, key)."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "2",
        "-subj",
        f"/CN={name}",
    )
    return cert, key


def make_server_cert(
    directory: Path,
    ca: tuple[Path, Path],
    names: str = "DNS:localhost,IP:127.0.0.1",
    stem: str = "server",
    *,
    expired: bool = False,
) -> tuple[Path, Path]:
    """A certificate for `names` (subjectAltName) signed by `ca`: a server's, or a client's (or an expired one)."""
    cert, key, csr, ext = (directory / f"{stem}.{n}" for n in ("crt", "key", "csr", "cnf"))
    openssl(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
        "-out",
        csr,
        "-subj",
        "/CN=localhost",
    )
    ext.write_text(f"subjectAltName={names}\n", encoding="ascii")
    if expired:
        sign_expired(directory, ca, csr, ext, cert)
        return cert, key
    openssl(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        ca[0],
        "-CAkey",
        ca[1],
        "-CAcreateserial",
        "-out",
        cert,
        "-days",
        "2",
        "-extfile",
        ext,
    )
    return cert, key


def sign_expired(directory: Path, ca: tuple[Path, Path], csr: Path, ext: Path, cert: Path) -> None:
    """Sign `csr` valid only in January 2020 (`openssl x509` cannot back-date; `openssl ca` can)."""
    database = directory / "ca-db"
    database.mkdir()
    (database / "index.txt").write_text("", encoding="ascii")
    config = directory / "ca.cnf"
    config.write_text(
        f"[ca]\ndefault_ca = test\n[test]\ndatabase = {database}/index.txt\nnew_certs_dir = {database}\n"
        f"serial = {database}/serial\ndefault_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n",
        encoding="ascii",
    )
    openssl(
        "ca", "-batch", "-config", config, "-cert", ca[0], "-keyfile", ca[1], "-in", csr, "-out", cert,
        "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-extfile", ext, "-create_serial",
    )  # fmt: skip


@contextmanager
def started_tls_broker(
    workdir: Path, names: str = "DNS:localhost,IP:127.0.0.1", options: Sequence[str] = (), *, expired: bool = False
) -> Iterator[tuple[Broker, tuple[Path, Path]]]:
    """A broker with a TLS listener whose certificate (for `names`) a fresh CA signed; yields it and the CA."""
    workdir.mkdir()
    ca = make_ca(workdir, "ca")
    cert, key = make_server_cert(workdir, ca, names=names, expired=expired)
    broker = Broker(workdir, listener_options=[f"cafile {ca[0]}", f"certfile {cert}", f"keyfile {key}", *options])
    broker.start()
    try:
        yield broker, ca
    finally:
        broker.stop()


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Broker, Path]]:
    """A broker with a TLS listener; yields it and the CA certificate that signed its certificate."""
    with started_tls_broker(tmp_path / "tls-broker") as (broker, ca):
        yield broker, ca[0]


def secret_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mqtt_password"
    path.write_text(text + "\n", encoding="utf-8")
    os.chmod(path, 0o600)
    return path


class TestAuthentication:
    async def test_password_from_a_file_is_accepted(
        self, password_broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """username + password_file connect to a broker that refuses anonymous clients."""
        mqtt = broker_config(
            password_broker.host,
            password_broker.port,
            username="gw",
            password_file=str(secret_file(tmp_path, "right-password")),
        )
        config = make_config(tmp_path, SENSOR, gateway={"id": "auth-ok"}, mqtt=mqtt)
        async with running_gateway(config, mock_factory) as gateway:
            await wait_until(lambda: gateway.stats.published >= 1, what="a reading published")
            assert gateway.stats.connected

    async def test_wrong_password_is_refused_and_retried_with_backoff(
        self, password_broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """A wrong password never connects; the error says why, and attempts are spaced by the backoff."""
        mqtt = broker_config(
            password_broker.host,
            password_broker.port,
            username="gw",
            password_file=str(secret_file(tmp_path, "wrong-password")),
            reconnect_min=0.2,
            reconnect_max=1.0,
        )
        config = make_config(tmp_path, SENSOR, gateway={"id": "auth-bad"}, mqtt=mqtt)
        async with running_gateway(config, mock_factory) as gateway:
            await wait_until(lambda: gateway.stats.last_error is not None, what="a connection error")
            started = time.monotonic()
            await wait_until(lambda: time.monotonic() - started > 2.0, what="two seconds")
            assert not gateway.stats.connected
            assert "not authori" in (gateway.stats.last_error or "").lower()
        attempts = password_broker.log().count("not authorised")
        assert 1 <= attempts <= 20, attempts  # a tight loop would make hundreds in 2 s


class TestProtocol:
    async def test_mqtt5_and_keepalive_reach_the_broker(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """protocol = "5" and keepalive are really used (the broker logs p5 and k17), and readings flow."""
        config = make_config(
            tmp_path,
            SENSOR,
            gateway={"id": "mqtt5"},
            mqtt=broker_config(broker.host, broker.port, protocol="5", keepalive=17, client_id="gw-mqtt5"),
        )
        topic = "pi-mqtt-gateway/mqtt5/sensor/door"
        async with subscribe(broker, topic) as received, running_gateway(config, mock_factory):
            await received.wait_for(lambda r: len(r.payloads(topic)) >= 1)
        assert "as gw-mqtt5 (p5, c1, k17" in broker.log()


class TestTls:
    async def test_the_right_ca_connects(
        self, tls_broker: tuple[Broker, Path], tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """With the CA that signed the broker's certificate, the gateway connects over TLS to `localhost`."""
        broker, ca = tls_broker
        config = make_config(
            tmp_path,
            SENSOR,
            gateway={"id": "tls-ok"},
            mqtt=broker_config("localhost", broker.port, tls={"ca_file": str(ca)}),
        )
        async with running_gateway(config, mock_factory) as gateway:
            await wait_until(lambda: gateway.stats.published >= 1, what="a reading over TLS")

    async def test_an_unknown_ca_is_refused(
        self, tls_broker: tuple[Broker, Path], tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """A certificate from another CA is refused with a certificate error; there is no fallback."""
        broker, _ca = tls_broker
        other_ca, _key = make_ca(tmp_path, "other-ca")
        config = make_config(
            tmp_path,
            SENSOR,
            gateway={"id": "tls-bad"},
            mqtt=broker_config("localhost", broker.port, tls={"ca_file": str(other_ca)}),
        )
        async with running_gateway(config, mock_factory) as gateway:
            await wait_until(lambda: gateway.stats.last_error is not None, what="a TLS error")
            assert "certificate" in (gateway.stats.last_error or "").lower()
            assert gateway.stats.published == 0

    async def test_a_certificate_for_another_host_is_refused(self, tmp_path: Path, mock_factory: MockFactory) -> None:
        """A broker certificate valid only for another name fails hostname verification: no fallback."""
        with started_tls_broker(tmp_path / "tls-other", names="DNS:broker.example") as (broker, ca):
            tls = {"ca_file": str(ca[0])}
            mqtt = broker_config("localhost", broker.port, tls=tls)
            config = make_config(tmp_path, SENSOR, gateway={"id": "tls-name"}, mqtt=mqtt)
            async with running_gateway(config, mock_factory) as gateway:
                await wait_until(lambda: gateway.stats.last_error is not None, what="a TLS error")
                assert "hostname" in (gateway.stats.last_error or "").lower()
                assert gateway.stats.published == 0

    async def test_an_expired_server_certificate_is_refused(self, tmp_path: Path, mock_factory: MockFactory) -> None:
        """A broker certificate that expired in 2020 (right CA, right name) is refused: no fallback."""
        with started_tls_broker(tmp_path / "tls-expired", expired=True) as (broker, ca):
            mqtt = broker_config("localhost", broker.port, tls={"ca_file": str(ca[0])})
            config = make_config(tmp_path, SENSOR, gateway={"id": "tls-expired"}, mqtt=mqtt)
            async with running_gateway(config, mock_factory) as gateway:
                await wait_until(lambda: gateway.stats.last_error is not None, what="a TLS error")
                assert "expired" in (gateway.stats.last_error or "").lower()
                assert gateway.stats.published == 0

    async def test_insecure_no_verify_connects_to_anything_and_warns_at_start(
        self, tls_broker: tuple[Broker, Path], tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """The only way past verification is the option named insecure, and it logs a warning at every start."""
        broker, _ca = tls_broker
        other_ca, _key = make_ca(tmp_path, "other-ca")
        tls = {"ca_file": str(other_ca), "insecure_no_verify": True}
        config = make_config(
            tmp_path, SENSOR, gateway={"id": "tls-insecure"}, mqtt=broker_config("127.0.0.1", broker.port, tls=tls)
        )
        for _start in range(2):
            with capture_logs() as logs:
                async with running_gateway(config, mock_factory) as gateway:
                    await wait_until(lambda: gateway.stats.published >= 1, what="a reading without verification")
            warnings = [line for line in logs if "NOT verified" in line["event"]]
            assert [line["log_level"] for line in warnings] == ["warning"]

    async def test_plaintext_to_the_tls_port_never_connects(
        self, tls_broker: tuple[Broker, Path], tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """Without [mqtt.tls] against a TLS listener the gateway keeps failing; it never publishes."""
        broker, _ca = tls_broker
        config = make_config(
            tmp_path,
            SENSOR,
            gateway={"id": "tls-plain"},
            mqtt=broker_config("localhost", broker.port, publish_timeout=2.0),
        )
        async with running_gateway(config, mock_factory) as gateway:
            await wait_until(lambda: gateway.stats.last_error is not None, what="a connection error")
            assert not gateway.stats.connected
            assert gateway.stats.published == 0

    async def test_a_required_client_certificate(self, tmp_path: Path, mock_factory: MockFactory) -> None:
        """With require_certificate, no client certificate is refused and a CA-signed one connects."""
        workdir = tmp_path / "tls-mutual"
        with started_tls_broker(workdir, options=["require_certificate true"]) as (broker, ca):
            client_cert, client_key = make_server_cert(workdir, ca, names="DNS:gateway", stem="client")
            without = make_config(
                tmp_path / "a",
                SENSOR,
                gateway={"id": "tls-nocert"},
                mqtt=broker_config("localhost", broker.port, tls={"ca_file": str(ca[0])}),
            )
            async with running_gateway(without, mock_factory) as gateway:
                await wait_until(lambda: gateway.stats.last_error is not None, what="a refusal")
                assert gateway.stats.published == 0
            tls = {"ca_file": str(ca[0]), "cert_file": str(client_cert), "key_file": str(client_key)}
            with_cert = make_config(
                tmp_path / "b",
                SENSOR,
                gateway={"id": "tls-cert"},
                mqtt=broker_config("localhost", broker.port, tls=tls),
            )
            async with running_gateway(with_cert, mock_factory) as gateway:
                await wait_until(lambda: gateway.stats.published >= 1, what="a reading with a client certificate")


class TestDeadBroker:
    @pytest.mark.slow
    async def test_a_frozen_broker_is_noticed_by_keepalive_and_readings_follow_after(
        self, own_broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """SIGSTOP the broker: no socket error, yet keepalive notices within 2 x keepalive; then it recovers."""
        keepalive = 5
        config = make_config(
            tmp_path,
            SENSOR,
            gateway={"id": "frozen"},
            mqtt=broker_config(own_broker.host, own_broker.port, keepalive=keepalive),
        )
        async with running_gateway(config, mock_factory) as gateway:
            await wait_until(lambda: gateway.stats.connected and gateway.stats.published >= 1, what="connected")
            own_broker.freeze()
            frozen_at = time.monotonic()
            await wait_until(lambda: not gateway.stats.connected, timeout=4 * keepalive, what="noticing")
            noticed_after = time.monotonic() - frozen_at
            own_broker.thaw()
            pin = mock_factory.pin(27)
            pin.drive_low()
            await wait_until(
                lambda: gateway.stats.connected and gateway.stats.published >= 2, timeout=30, what="recovery"
            )
        # paho pings after `keepalive` s without traffic and gives up `keepalive` s later.
        assert noticed_after <= 2 * keepalive + 1.5, noticed_after
