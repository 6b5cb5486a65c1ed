"""How to reach the broker: the transport's settings from the `[mqtt]` section and the resolved password."""

from __future__ import annotations

from gateway.config import GatewayConfig
from gateway.mqtt import ConnectionSettings, TlsSettings


def insecure_tls_warning(config: GatewayConfig) -> str | None:
    """The warning to repeat at every start while certificate verification is switched off, else None."""
    tls = config.mqtt.tls
    if tls is None or not tls.insecure_no_verify:
        return None
    return (
        "mqtt.tls.insecure_no_verify = true: the broker's certificate and host name are NOT verified; "
        "anyone on the network path can impersonate the broker and read the password"
    )


def connection_settings(
    config: GatewayConfig, password: str | None, *, will_topic: str | None, client_id: str | None = None
) -> ConnectionSettings:
    """Settings for one client: the gateway (with its Last Will) or a tool such as `watch` (without)."""
    mqtt = config.mqtt
    tls = None
    if mqtt.tls is not None:
        tls = TlsSettings(
            ca_file=mqtt.tls.ca_file,
            cert_file=mqtt.tls.cert_file,
            key_file=mqtt.tls.key_file,
            insecure_no_verify=mqtt.tls.insecure_no_verify,
        )
    return ConnectionSettings(
        host=mqtt.host,
        port=mqtt.effective_port,
        client_id=client_id or mqtt.client_id or f"pi-mqtt-gateway-{config.gateway.id}",
        will_topic=will_topic,
        username=mqtt.username,
        password=password,
        keepalive=mqtt.keepalive,
        protocol=mqtt.protocol,
        tls=tls,
        timeout=mqtt.publish_timeout,
        max_inflight=mqtt.max_inflight,
        nodes=mqtt.nodes,
    )
