"""The `pi-mqtt-gateway` command line.

Exit codes (README, Command line): 0 success, 1 runtime failure, 2 usage error (including an unknown key or sensor id),
78 invalid configuration. Errors a user can cause print one or two lines; a traceback only with --debug.
gpiozero and aiomqtt are imported only by the commands that need them, so `--help` and `config` start fast.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from gateway import __version__
from gateway.errors import EX_CONFIG, EX_FAILURE, EX_OK, EX_USAGE, ConfigError, GatewayError, UsageError

if TYPE_CHECKING:
    from gateway.config_loader import LoadedConfig

Handler = Callable[[argparse.Namespace, Path], int]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also the source of `--help` and shell completion)."""
    parser = argparse.ArgumentParser(
        prog="pi-mqtt-gateway",
        description="Read GPIO sensors on a Raspberry Pi and publish validated readings to MQTT.",
        epilog="Exit codes: 0 ok, 1 runtime failure, 2 usage error, 78 invalid configuration.",
    )
    parser.add_argument(
        "-c",
        "--config",
        metavar="PATH",
        help="config file (default: $GATEWAY_CONFIG or /etc/pi-mqtt-gateway/config.toml)",
    )
    parser.add_argument("--debug", action="store_true", help="debug logging, and tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # The order of these calls is the order `--help` lists the commands in.
    _setup_commands(commands.add_parser)
    _config_commands(commands.add_parser("config", help="show, get, set and explain the configuration"))
    _sensor_commands(commands.add_parser("sensors", help="list the configured sensors or read them once"))
    _monitor_commands(commands.add_parser)
    _service_commands(commands.add_parser)
    commands.add_parser("version", help="print the version")
    return parser


AddCommand = Callable[..., argparse.ArgumentParser]  # a subparsers' `add_parser`


def _setup_commands(add: AddCommand) -> None:
    add("run", help="run the gateway until SIGTERM/SIGINT")
    check = add("check", help="validate the config, build every device, try the broker")
    check.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the broker (default 10)")
    init = add("init", help="write the commented example config (never overwrites)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.add_argument("--detect", action="store_true", help="append [[sensors]] tables for the sensors detect finds")
    detect = add("detect", help="list the sensors found on this machine, with their [[sensors]] tables")
    detect.add_argument("--toml", action="store_true", help="print only the [[sensors]] tables")


def _config_commands(config: argparse.ArgumentParser) -> None:
    config_commands = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    config_commands.add_parser("show", help="effective values (file + environment), with where each came from")
    get = config_commands.add_parser("get", help="one effective value, e.g. `config get mqtt.host`")
    get.add_argument("key", help="dotted key: mqtt.host, sensors[0].interval, sensors.soil.interval")
    set_ = config_commands.add_parser("set", help="edit one key in the file, keeping comments; validated first")
    set_.add_argument("key", help="dotted key, as for `config get`")
    set_.add_argument("value", help='a TOML value (5, true, "text", [1, 2]); bare words are strings')
    config_commands.add_parser("path", help="which config file is used")
    config_commands.add_parser("schema", help="the JSON Schema of the config file")


def _sensor_commands(sensors: argparse.ArgumentParser) -> None:
    sensor_commands = sensors.add_subparsers(dest="sensors_command", metavar="SUBCOMMAND", required=True)
    sensor_commands.add_parser("list", help="a table of id, kind, pins, interval, filters and topic")
    read = sensor_commands.add_parser("read", help="read each sensor (or one) once, without a broker")
    read.add_argument("sensor_id", nargs="?", metavar="ID", help="only this sensor")


def _monitor_commands(add: AddCommand) -> None:
    add("pins", help="the 40-pin header with the pins each sensor uses, and conflicts")
    watch = add("watch", help="a live table of this gateway's readings from the broker")
    watch.add_argument("--once", action="store_true", help="print one snapshot and exit (0 when online)")
    watch.add_argument("--settle", type=float, default=2.0, help="seconds to collect before --once prints")
    status = add("status", help="service, connection, outbox depth and last error")
    status.add_argument("--settle", type=float, default=2.0, help="seconds to wait for retained status")
    _fleet_arguments(add("fleet", help="every gateway under the topic prefix: status, broker, errors"))
    completion = add("completion", help="print a shell completion script")
    completion.add_argument("shell", choices=("bash", "zsh"))
    discovery = add("discovery", help="Home Assistant discovery: what would be announced")
    discovery.add_argument("--print", action="store_true", required=True, help="print topics and payloads")


def _service_commands(add: AddCommand) -> None:
    install = add("install-service", help="install and start the systemd service (as root)")
    install.add_argument("--root", default="/", metavar="DIR", help="install under DIR and run nothing (packaging)")
    install.add_argument(
        "--password-file", metavar="FILE", help="the broker password, handed to the service with LoadCredential="
    )
    install.add_argument("--no-start", action="store_true", help="enable the service but do not start it now")
    uninstall = add("uninstall-service", help="stop and remove the service (keeps config, state)")
    uninstall.add_argument("--root", default="/", metavar="DIR", help="remove from under DIR, run nothing")
    uninstall.add_argument("--purge", action="store_true", help="also remove the config and the state directory")


def _fleet_arguments(fleet: argparse.ArgumentParser) -> None:
    fleet.add_argument("--settle", type=float, default=1.0, help="seconds after the last retained message (default 1)")
    output = fleet.add_mutually_exclusive_group()
    output.add_argument("--watch", action="store_true", help="redraw the table live until Ctrl-C")
    output.add_argument("--json", action="store_true", help="print a JSON list (exit 1 still flags problems)")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and `python -m gateway`."""
    args = build_parser().parse_args(argv)
    try:
        from gateway.config_loader import config_path  # noqa: PLC0415 - pydantic is not needed for --help
    except ImportError as exc:  # a compiled dependency missing for this CPU (ARMv6 without piwheels)
        print(f"pi-mqtt-gateway: {missing_native_message(exc)}", file=sys.stderr)
        return EX_FAILURE

    path = config_path(args.config, os.environ)
    try:
        return HANDLERS[_command_name(args)](args, path)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EX_CONFIG
    except KeyboardInterrupt:
        return EX_OK
    except GatewayError as exc:
        if args.debug:
            raise
        print(f"pi-mqtt-gateway: {exc}", file=sys.stderr)
        return EX_USAGE if isinstance(exc, UsageError) else EX_FAILURE
    except Exception as exc:
        if args.debug:
            raise
        print(f"pi-mqtt-gateway: unexpected error: {exc!r} (run with --debug for the traceback)", file=sys.stderr)
        return EX_FAILURE


def missing_native_message(exc: ImportError) -> str:
    """What to do when pydantic-core (or another compiled module) does not import on this machine."""
    return (
        f"a compiled dependency cannot be imported ({exc}). On a Pi 1 or Zero (ARMv6) install it from piwheels: "
        "pip install --extra-index-url https://www.piwheels.org/simple pydantic-core; see the README's Pi tiers"
    )


def _command_name(args: argparse.Namespace) -> str:
    sub = getattr(args, f"{args.command}_command", None)
    return f"{args.command} {sub}" if sub else str(args.command)


def _load(path: Path) -> LoadedConfig:
    from gateway.config_loader import load_config  # noqa: PLC0415

    return load_config(path)


def _version(_args: argparse.Namespace, _path: Path) -> int:
    print(f"pi-mqtt-gateway {__version__}")
    return EX_OK


def _init(args: argparse.Namespace, path: Path) -> int:
    if path.exists() and not args.force:
        print(f"{path} exists; use --force to overwrite it", file=sys.stderr)
        return EX_FAILURE
    text = resources.files("gateway").joinpath("data/config.example.toml").read_text(encoding="utf-8")
    if args.detect:
        text = _append_detected(text)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"cannot write {path}: {exc.strerror}", file=sys.stderr)
        return EX_FAILURE
    print(f"wrote {path}; edit it, then run `pi-mqtt-gateway --config {path} check`")
    return EX_OK


def _append_detected(text: str) -> str:
    from gateway.cli.detect import detect, detect_roots, nothing_found, with_detected  # noqa: PLC0415

    # The file is being (re)written: the roots are the defaults, or GATEWAY__DEVICES__* from the environment.
    detection = detect(*detect_roots(None, os.environ))
    for line in detection.problems:
        print(line, file=sys.stderr)
    for item in detection.found:
        print(f"detected: {item.describe()}")
    if not detection.found:
        print(nothing_found(detection), file=sys.stderr)
    return with_detected(text, detection)


def _detect(args: argparse.Namespace, path: Path) -> int:
    from gateway.cli.detect import detect, detect_roots, nothing_found, render_report, render_toml  # noqa: PLC0415

    detection = detect(*detect_roots(path, os.environ))
    for line in detection.problems:
        print(line, file=sys.stderr)
    if not detection.found:
        print(nothing_found(detection), file=sys.stderr)
        return EX_FAILURE
    print(render_toml(detection.found) if args.toml else render_report(detection), end="")
    return EX_OK


def _config_show(_args: argparse.Namespace, path: Path) -> int:
    from gateway.cli.config_edit import effective_data, render_toml, value_sources  # noqa: PLC0415

    loaded = _load(path)
    print(f"# {path}: effective values; after each, where it came from (file, env or default)")
    print(render_toml(effective_data(loaded), value_sources(loaded)), end="")
    return EX_OK


def _config_get(args: argparse.Namespace, path: Path) -> int:
    from gateway.cli.config_edit import format_value, get_key  # noqa: PLC0415

    print(format_value(get_key(_load(path), args.key)))
    return EX_OK


def _config_set(args: argparse.Namespace, path: Path) -> int:
    from gateway.cli.config_edit import set_key  # noqa: PLC0415

    if not path.exists():
        print(f"{path} does not exist; create it with `pi-mqtt-gateway init`", file=sys.stderr)
        return EX_FAILURE
    set_key(path, args.key, args.value)
    print(f"{path}: set {args.key}")
    return EX_OK


def _config_path(_args: argparse.Namespace, path: Path) -> int:
    print(path)
    return EX_OK


def _config_schema(_args: argparse.Namespace, _path: Path) -> int:
    from gateway.plugins import config_model  # noqa: PLC0415

    print(json.dumps(config_model().model_json_schema(), indent=2))
    return EX_OK


def _sensors_list(_args: argparse.Namespace, path: Path) -> int:
    from gateway.cli.table import render_table  # noqa: PLC0415
    from gateway.config import PolledSensor  # noqa: PLC0415
    from gateway.topics import Topics  # noqa: PLC0415

    config = _load(path).config
    topics = Topics(config.gateway.topic_prefix, config.gateway.id)
    rows = [
        (
            s.id,
            s.kind,
            ", ".join(f"{role}=GPIO{pin}" for role, pin in s.pins().items()) or "-",
            f"{s.interval:g}s" if isinstance(s, PolledSensor) else "edge",
            ", ".join(step.type for step in s.filters) or "-",
            topics.sensor(s.id),
        )
        for s in config.sensors
    ]
    print(render_table(("id", "kind", "pins", "interval", "filters", "topic"), rows), end="")
    return EX_OK


def _sensors_read(args: argparse.Namespace, path: Path) -> int:
    from gateway.cli.table import render_table  # noqa: PLC0415
    from gateway.config import sensor_unit  # noqa: PLC0415
    from gateway.devices.probe import pin_factory_for, probe_sensors  # noqa: PLC0415
    from gateway.statedir import resolve_state_dir  # noqa: PLC0415

    config = _load(path).config
    sensors = [s for s in config.sensors if args.sensor_id in (None, s.id)]
    if args.sensor_id and not sensors:
        known = ", ".join(s.id for s in config.sensors) or "none"
        raise UsageError(f"no sensor {args.sensor_id!r} (configured: {known})")
    with pin_factory_for(config) as factory:
        probes = probe_sensors(factory, config, sensors, resolve_state_dir(config.gateway.state_dir))
    rows = [
        (p.sensor.id, p.sensor.kind, "" if p.error else repr(p.value), sensor_unit(p.sensor) or "", p.error or "ok")
        for p in probes
    ]
    print(render_table(("id", "kind", "value", "unit", "status"), rows), end="")
    return EX_OK if all(p.error is None for p in probes) else EX_FAILURE


def _pins(_args: argparse.Namespace, path: Path) -> int:
    from gateway.cli.pinmap import conflicts, expander_rows, header_rows, read_buses  # noqa: PLC0415
    from gateway.cli.table import render_table  # noqa: PLC0415

    config = _load(path).config
    buses, source = read_buses()
    print(render_table(("used by", "pin", "pin", "used by"), header_rows(config)), end="")
    if rows := expander_rows(config):
        print("\n" + render_table(("expander pin", "used by", "kind"), rows), end="")
    enabled = [name for name, on in (("I2C", buses.i2c), ("SPI", buses.spi)) if on]
    if buses.one_wire_pin is not None:
        enabled.append(f"1-Wire on GPIO{buses.one_wire_pin}")
    print(
        f"\nbuses enabled in {source}: {', '.join(enabled) or 'none'}"
        if source
        else "\nno config.txt found (not a Raspberry Pi?): bus reservations not checked"
    )
    problems = conflicts(config, buses)
    for problem in problems:
        print(f"CONFLICT: {problem}")
    return EX_FAILURE if problems else EX_OK


def _watch(args: argparse.Namespace, path: Path) -> int:
    from gateway.cli.monitor import watch  # noqa: PLC0415

    return asyncio.run(watch(_load(path), once=args.once, settle=args.settle))


def _status(args: argparse.Namespace, path: Path) -> int:
    from gateway.cli.monitor import status  # noqa: PLC0415

    return asyncio.run(status(_load(path), settle=args.settle))


def _fleet(args: argparse.Namespace, path: Path) -> int:
    from gateway.broker_settings import connection_settings  # noqa: PLC0415
    from gateway.cli.fleet import FleetOptions, fleet  # noqa: PLC0415
    from gateway.mqtt import MqttTransport  # noqa: PLC0415 - aiomqtt: only when needed

    loaded = _load(path)
    config = loaded.config
    # No Last Will, and a client id of its own: the gateway's (mqtt.client_id) would take over its session.
    client_id = f"pi-mqtt-gateway-fleet-{os.getpid()}"
    settings = connection_settings(config, loaded.password, will_topic=None, client_id=client_id)
    target = f"{settings.host}:{settings.port}"
    options = FleetOptions(config.gateway.topic_prefix, target, settle=args.settle, watch=args.watch, as_json=args.json)
    return asyncio.run(fleet(MqttTransport(settings), options))


def _completion(args: argparse.Namespace, _path: Path) -> int:
    from gateway.cli.completion import bash_script, zsh_script  # noqa: PLC0415

    parser = build_parser()
    print(bash_script(parser) if args.shell == "bash" else zsh_script(parser), end="")
    return EX_OK


def _check(args: argparse.Namespace, path: Path) -> int:
    from gateway.cli.check import run_check  # noqa: PLC0415 - imports gpiozero and aiomqtt: only when needed

    return asyncio.run(run_check(_load(path), timeout=args.timeout))


def _discovery(_args: argparse.Namespace, path: Path) -> int:
    from gateway.homeassistant.discovery import (  # noqa: PLC0415
        config_topic,
        device_payload,
        device_topic,
        entities,
        entity_payload,
    )

    config = _load(path).config
    if not config.homeassistant.enabled:
        print("# [homeassistant] enabled = false: nothing is announced; this is what enabling it would announce")
    if config.homeassistant.device_discovery:
        print(device_topic(config))
        print(json.dumps(device_payload(config, {}), indent=2, ensure_ascii=False))
        return EX_OK
    for entity in entities(config):
        print(config_topic(config, entity))
        print(json.dumps(entity_payload(config, entity), indent=2, ensure_ascii=False))
    return EX_OK


def _install_service(args: argparse.Namespace, _path: Path) -> int:
    from gateway.cli.install import InstallOptions, install  # noqa: PLC0415

    _require_root_for(Path(args.root))
    password_file = Path(args.password_file) if args.password_file else None
    for line in install(InstallOptions(Path(args.root), password_file, start=not args.no_start)):
        print(line)
    return EX_OK


def _uninstall_service(args: argparse.Namespace, _path: Path) -> int:
    from gateway.cli.install import uninstall  # noqa: PLC0415

    _require_root_for(Path(args.root))
    for line in uninstall(Path(args.root), purge=args.purge):
        print(line)
    return EX_OK


def _require_root_for(root: Path) -> None:
    if root == Path("/") and os.geteuid() != 0:
        raise GatewayError("installing the service needs root: run it with sudo (or use --root DIR)")


def _run(args: argparse.Namespace, path: Path) -> int:
    import structlog  # noqa: PLC0415

    from gateway.logs import configure_logging  # noqa: PLC0415
    from gateway.server import Gateway  # noqa: PLC0415

    loaded = _load(path)
    logging_config = loaded.config.logging
    scrubber = configure_logging("debug" if args.debug else logging_config.level, logging_config.format, loaded.secrets)
    log = structlog.get_logger(component="cli")

    def reread() -> LoadedConfig:
        reloaded = _load(path)
        scrubber.add(reloaded.secrets)  # before any line could mention the new password
        return reloaded

    async def serve() -> None:
        gateway = Gateway(loaded, config_source=reread)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, gateway.request_stop)
        loop.add_signal_handler(signal.SIGHUP, gateway.request_reload)
        await gateway.serve()

    try:
        asyncio.run(serve())
    except GatewayError as exc:
        log.error("gateway failed", error=str(exc))
        if args.debug:
            raise
        return EX_FAILURE
    return EX_OK


HANDLERS: dict[str, Handler] = {
    "run": _run,
    "check": _check,
    "init": _init,
    "detect": _detect,
    "config show": _config_show,
    "config get": _config_get,
    "config set": _config_set,
    "config path": _config_path,
    "config schema": _config_schema,
    "sensors list": _sensors_list,
    "sensors read": _sensors_read,
    "pins": _pins,
    "watch": _watch,
    "status": _status,
    "fleet": _fleet,
    "completion": _completion,
    "discovery": _discovery,
    "install-service": _install_service,
    "uninstall-service": _uninstall_service,
    "version": _version,
}
