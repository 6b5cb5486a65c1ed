"""Home Assistant: `announcer` (announcing over MQTT discovery, migrating between modes, replaying states),
`discovery` (the payloads, pure, from the config alone) and `units` (Home Assistant's own unit table).

Kept empty on purpose: `gateway.config` imports `units`, and the announcer imports the config.
"""
