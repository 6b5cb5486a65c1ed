"""The `pi-mqtt-gateway` command line: run, check, init, config show, version.

Exit codes (DESIGN.md): 0 clean stop, 1 runtime failure, 2 usage error, 78 invalid configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from gateway import __version__
from gateway.errors import EX_CONFIG, EX_FAILURE, EX_OK, ConfigError, GatewayError
from gateway.settings import LoadedConfig, config_path, load_config


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to generate `--help`)."""
    parser = argparse.ArgumentParser(
        prog="pi-mqtt-gateway",
        description="Read GPIO sensors on a Raspberry Pi and publish validated readings to MQTT.",
    )
    parser.add_argument(
        "-c",
        "--config",
        metavar="PATH",
        help="config file (default: $GATEWAY_CONFIG or /etc/pi-mqtt-gateway/config.toml)",
    )
    parser.add_argument("--debug", action="store_true", help="debug logging, and tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser("run", help="run the gateway until SIGTERM/SIGINT")
    check = commands.add_parser("check", help="validate the config, build every device, try the broker")
    check.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the broker (default 10)")
    init = commands.add_parser("init", help="write the commented example config")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    config = commands.add_parser("config", help="inspect the configuration")
    config_commands = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    config_commands.add_parser("show", help="the effective configuration, secrets redacted")
    commands.add_parser("version", help="print the version")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and `python -m gateway`."""
    args = build_parser().parse_args(argv)
    path = config_path(args.config, os.environ)
    try:
        return _dispatch(args, path)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EX_CONFIG
    except GatewayError as exc:
        if args.debug:
            raise
        print(f"pi-mqtt-gateway: {exc}", file=sys.stderr)
        return EX_FAILURE


def _dispatch(args: argparse.Namespace, path: Path) -> int:
    if args.command == "version":
        print(f"pi-mqtt-gateway {__version__}")
        return EX_OK
    if args.command == "init":
        return _init(path, force=args.force)
    loaded = load_config(path)
    if args.command == "config":
        print(render_toml(redacted_config(loaded)), end="")
        return EX_OK
    if args.command == "check":
        from gateway.check import run_check  # noqa: PLC0415 - imports gpiozero and aiomqtt: only when needed

        return asyncio.run(run_check(loaded, timeout=args.timeout))
    return _run(loaded, debug=args.debug)


def _run(loaded: LoadedConfig, *, debug: bool) -> int:
    from gateway.logs import configure_logging  # noqa: PLC0415 - keep `--help` and `config` fast
    from gateway.server import Gateway  # noqa: PLC0415

    logging_config = loaded.config.logging
    configure_logging("debug" if debug else logging_config.level, logging_config.format, loaded.secrets)
    import structlog  # noqa: PLC0415

    log = structlog.get_logger(component="cli")

    async def serve() -> None:
        gateway = Gateway(loaded)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, gateway.request_stop)
        # Reloading arrives with the systemd work; until then SIGHUP must not kill the gateway.
        loop.add_signal_handler(signal.SIGHUP, lambda: log.warning("SIGHUP ignored: reload is not supported yet"))
        await gateway.serve()

    try:
        asyncio.run(serve())
    except GatewayError as exc:
        log.error("gateway failed", error=str(exc))
        if debug:
            raise
        return EX_FAILURE
    return EX_OK


def _init(path: Path, *, force: bool) -> int:
    if path.exists() and not force:
        print(f"{path} exists; use --force to overwrite it", file=sys.stderr)
        return EX_FAILURE
    text = resources.files("gateway").joinpath("data/config.example.toml").read_text(encoding="utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"cannot write {path}: {exc.strerror}", file=sys.stderr)
        return EX_FAILURE
    print(f"wrote {path}; edit it, then run `pi-mqtt-gateway --config {path} check`")
    return EX_OK


def redacted_config(loaded: LoadedConfig) -> dict[str, Any]:
    """The effective configuration as plain data, with every secret replaced."""
    data: dict[str, Any] = loaded.config.model_dump(mode="json", exclude_none=False)
    if data["mqtt"].get("password") is not None:
        data["mqtt"]["password"] = "<redacted>"  # noqa: S105 - a placeholder, not a password
    return data


def render_toml(data: dict[str, Any]) -> str:
    """A small TOML writer for the config's shape: tables, one nested table level, arrays of tables."""
    lines: list[str] = []
    for section, body in data.items():
        if isinstance(body, list):
            for item in body:
                lines += ["", f"[[{section}]]", *_toml_pairs(item)]
            continue
        lines += ["", f"[{section}]", *_toml_pairs(body)]
        for key, value in body.items():
            if isinstance(value, dict):
                lines += ["", f"[{section}.{key}]", *_toml_pairs(value)]
    return "\n".join(lines).lstrip("\n") + "\n"


def _toml_pairs(table: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in table.items():
        if isinstance(value, dict):
            continue
        if value is None:
            lines.append(f"# {key} is not set")
        else:
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return lines
