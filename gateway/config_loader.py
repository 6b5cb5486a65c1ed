"""Loading the configuration: TOML file + `GATEWAY__SECTION__KEY` environment overrides + secrets.

Every problem is collected and reported at once with a readable location such as
`sensors[1] "soil" (mcp3008).channel`, what was expected and what was found; secrets are never echoed.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from gateway.config import GatewayConfig
from gateway.errors import ConfigError, ConfigProblem
from gateway.plugins import config_model_for

DEFAULT_CONFIG_PATH = Path("/etc/pi-mqtt-gateway/config.toml")
ENV_CONFIG_PATH = "GATEWAY_CONFIG"
ENV_PREFIX = "GATEWAY__"
CREDENTIAL_NAME = "mqtt_password"
SECRET_KEYS = frozenset({"password"})
_MISSING_INPUT_TYPES = frozenset({"missing", "union_tag_not_found"})


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration, where it came from, and the secrets it resolved."""

    config: GatewayConfig
    path: Path | None
    password: str | None = field(default=None, repr=False)
    env_keys: tuple[str, ...] = ()

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings that must never appear in any output."""
        return tuple(s for s in (self.password,) if s)


# Reads the config again for a reload; raises GatewayError (ConfigError) when it is not valid.
ConfigSource = Callable[[], LoadedConfig]


def config_path(cli_path: str | Path | None, environ: Mapping[str, str]) -> Path:
    """`--config`, else `$GATEWAY_CONFIG`, else `/etc/pi-mqtt-gateway/config.toml`."""
    if cli_path:
        return Path(cli_path)
    if environ.get(ENV_CONFIG_PATH):
        return Path(environ[ENV_CONFIG_PATH])
    return DEFAULT_CONFIG_PATH


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read, merge and validate the configuration at `path`; raise ConfigError listing every problem."""
    environ = os.environ if environ is None else environ
    raw = read_toml(path)
    env_keys = apply_env_overrides(raw, environ)
    try:
        config = config_model_for(raw).model_validate(raw)
    except ValidationError as exc:
        problems = [describe_error(err, raw, set(env_keys)) for err in exc.errors()]
        raise ConfigError(path, problems) from None
    return loaded_from(config, path, environ, env_keys=tuple(env_keys))


def loaded_from(
    config: GatewayConfig,
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    env_keys: tuple[str, ...] = (),
) -> LoadedConfig:
    """A LoadedConfig for an already validated config, with its secrets resolved."""
    environ = os.environ if environ is None else environ
    password = resolve_password(config, path, environ)
    return LoadedConfig(config=config, path=path, password=password, env_keys=env_keys)


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed TOML file; a syntax error names its line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, [ConfigProblem("", "file not found; create one with `pi-mqtt-gateway init`")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [ConfigProblem("", f"cannot read the file: {exc}")]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The message carries "(at line L, column C)".
        raise ConfigError(path, [ConfigProblem("", f"TOML syntax error: {exc}")]) from None


def apply_env_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Merge `GATEWAY__SECTION__KEY=value` into `raw` in place; return the dotted keys it set.

    Values are read as TOML values when they parse as one (`1883`, `true`, `"x"`, `[1, 2]`), otherwise as
    plain strings. A numeric part indexes a list: `GATEWAY__SENSORS__0__INTERVAL=5`.
    """
    applied: list[str] = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = [part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part]
        if not parts:
            continue
        _set_path(raw, parts, parse_literal(environ[name]), name)
        applied.append(".".join(parts))
    return applied


def parse_literal(text: str) -> Any:
    """A TOML literal when `text` is one (`5`, `true`, `[1, 2]`), else the text itself (environment, `config set`)."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def env_name(dotted: str) -> str:
    """The environment variable that overrides a dotted key: `mqtt.host` -> `GATEWAY__MQTT__HOST`."""
    return ENV_PREFIX + dotted.upper().replace(".", "__")


def _set_path(node: Any, parts: list[str], value: Any, env_name: str) -> None:
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError("environment", [ConfigProblem(env_name, f"no list item {part!r} to override")])
            key: int | str = int(part)
        elif isinstance(node, dict):
            key = part
        else:
            raise ConfigError("environment", [ConfigProblem(env_name, "overrides a value that is not a table")])
        if last:
            node[key] = value
        else:
            if isinstance(node, dict) and key not in node:
                node[key] = {}
            node = node[key]


def describe_error(err: ErrorDetails, raw: Mapping[str, Any], env_keys: set[str]) -> ConfigProblem:
    """A pydantic error as a readable location, message and found value."""
    location, dotted = readable_location(err["loc"], raw)
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key (see config/config.example.toml for the valid ones)"
    if err["type"] not in _MISSING_INPUT_TYPES and not isinstance(err["input"], dict):
        message += f" (found {_show_input(err['loc'], err['input'])})"
    if dotted in env_keys:
        message += f" [from environment {env_name(dotted)}]"
    return ConfigProblem(location or "(top level)", message)


def _show_input(loc: tuple[int | str, ...], value: Any) -> str:
    if any(part in SECRET_KEYS for part in loc if isinstance(part, str)):
        return "<redacted>"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def readable_location(loc: tuple[int | str, ...], raw: Mapping[str, Any]) -> tuple[str, str]:
    """(`sensors[1] "soil" (mcp3008).channel`, `sensors.1.channel`) for a pydantic `loc`.

    The union tag pydantic puts in the path is shown as `(kind)` after the item, named by its `id`.
    """
    text = ""
    dotted: list[str] = []
    node: Any = raw
    parts = list(loc)
    i = 0
    while i < len(parts):
        part = parts[i]
        if isinstance(part, int):
            text += f"[{part}]"
            dotted.append(str(part))
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, Mapping):
                if isinstance(node.get("id"), str):
                    text += f' "{node["id"]}"'
                kind = node.get("kind")
                if i + 1 < len(parts) and parts[i + 1] == kind:
                    text += f" ({kind})"
                    i += 1
        else:
            text += f".{part}" if text else part
            dotted.append(part)
            node = node.get(part) if isinstance(node, Mapping) else None
        i += 1
    return text, ".".join(dotted)


def resolve_password(config: GatewayConfig, path: Path | None, environ: Mapping[str, str]) -> str | None:
    """The broker password from `$CREDENTIALS_DIRECTORY`, `mqtt.password_file` or `mqtt.password`.

    A password file readable by group or others is refused, and so is an inline password in a config
    file readable by others: both exit 78.
    """
    mqtt = config.mqtt
    credentials_dir = environ.get("CREDENTIALS_DIRECTORY")
    if credentials_dir and (Path(credentials_dir) / CREDENTIAL_NAME).is_file():
        return _read_secret_file(Path(credentials_dir) / CREDENTIAL_NAME, "$CREDENTIALS_DIRECTORY")
    if mqtt.password_file is not None:
        return _read_secret_file(mqtt.password_file, "mqtt.password_file", check_mode=True)
    if mqtt.password is not None:
        if path is not None and path.exists() and path.stat().st_mode & stat.S_IROTH:
            raise ConfigError(
                path,
                [
                    ConfigProblem(
                        "mqtt.password",
                        "an inline password in a world-readable file: "
                        "use password_file (mode 0600) or `chmod o-r` the config",
                    )
                ],
            )
        return mqtt.password.get_secret_value()
    return None


def _read_secret_file(path: Path, where: str, *, check_mode: bool = False) -> str:
    try:
        mode = path.stat().st_mode
        if check_mode and mode & (stat.S_IRGRP | stat.S_IROTH):
            raise ConfigError(path, [ConfigProblem(where, f"{path} is readable by group or others; chmod 600 it")])
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            path, [ConfigProblem(where, f"cannot read the password file: {getattr(exc, 'strerror', None) or exc}")]
        ) from None
