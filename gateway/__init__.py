"""pi-mqtt-gateway: GPIO sensors on a Raspberry Pi, validated and published to MQTT."""

__version__ = "0.1.0"
