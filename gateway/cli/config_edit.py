"""Reading single keys of the configuration, editing the TOML file in place, and printing it as TOML.

`set_key` edits with tomlkit, so comments and layout survive; it validates the result with the same models
before writing, and writes atomically (temporary file, fsync, rename). The model dump is never written back.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import tomlkit
from pydantic import ValidationError
from tomlkit.items import AoT, Table

from gateway.config_loader import LoadedConfig, describe_error, env_name, parse_literal, read_toml
from gateway.durable_file import write_durably
from gateway.errors import ConfigError, ConfigProblem, UsageError
from gateway.plugins import config_model_for

REDACTED = "<redacted>"
_INDEX = re.compile(r"^(?P<name>[a-z_]+)\[(?P<index>\d+)\]$")


class KeyNotFoundError(UsageError):
    """`config get/set` named a key that does not exist."""


def split_key(key: str) -> list[str | int]:
    """`sensors[1].interval` or `sensors.1.interval` or `mqtt.host` -> path parts."""
    parts: list[str | int] = []
    for part in key.strip().split("."):
        match = _INDEX.match(part)
        if match:
            parts += [match["name"], int(match["index"])]
        elif part.isdigit():
            parts.append(int(part))
        elif part:
            parts.append(part)
        else:
            raise KeyNotFoundError(f"{key!r} is not a key (use dots: mqtt.host, sensors[0].interval)")
    return parts


def effective_data(loaded: LoadedConfig) -> dict[str, Any]:
    """The effective configuration as plain data, secrets redacted."""
    data: dict[str, Any] = loaded.config.model_dump(mode="json")
    if data["mqtt"].get("password") is not None:
        data["mqtt"]["password"] = REDACTED
    return data


def get_key(loaded: LoadedConfig, key: str) -> Any:
    """The effective value at `key`; sensors may be named by index or by id (`sensors.soil.interval`)."""
    node: Any = effective_data(loaded)
    walked: list[str] = []
    for part in split_key(key):
        node = _child(node, part, ".".join(walked) or "(top level)")
        walked.append(str(part))
    return node


def _child(node: Any, part: str | int, where: str) -> Any:
    if isinstance(node, list):
        if isinstance(part, int) and part < len(node):
            return node[part]
        for item in node:
            if isinstance(item, dict) and item.get("id") == part:
                return item
        raise KeyNotFoundError(f"{where} has no item {part!r} (there are {len(node)})")
    if isinstance(node, dict) and isinstance(part, str) and part in node:
        return node[part]
    known = ", ".join(node) if isinstance(node, dict) else "none"
    raise KeyNotFoundError(f"{where} has no key {part!r} (known: {known})")


def format_value(value: Any) -> str:
    """A value as TOML would spell it (tables as JSON)."""
    if isinstance(value, dict):
        return json.dumps(value, indent=2, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


def set_key(path: Path, key: str, text: str) -> None:
    """Set `key` to `text` in the file at `path`, keeping comments and layout; validate, then write atomically."""
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    parts = split_key(key)
    container: Any = document
    for index, part in enumerate(parts[:-1]):
        container = _edit_child(container, part, parts[index + 1], key)
    last = parts[-1]
    if isinstance(last, int):
        raise KeyNotFoundError(f"{key!r} ends in a list index; name a key inside the item")
    container[last] = parse_literal(text)
    new_text = tomlkit.dumps(document)
    _validate(path, new_text)
    write_durably(path, new_text)


def _edit_child(container: Any, part: str | int, following: str | int, key: str) -> Any:
    if isinstance(container, AoT | list):
        for position, item in enumerate(container):
            if position == part or (isinstance(item, Table | dict) and item.get("id") == part):
                return item
        raise KeyNotFoundError(f"{key!r}: there is no item {part!r}")
    if part not in container:
        if isinstance(following, int):
            raise KeyNotFoundError(f"{key!r}: there is no list {part!r}")
        container[part] = tomlkit.table()
    return container[part]


def _validate(path: Path, text: str) -> None:
    raw = tomllib.loads(text)
    try:
        config_model_for(raw).model_validate(raw)
    except ValidationError as exc:
        problems = [describe_error(err, raw, set()) for err in exc.errors()]
        raise ConfigError(path, [*problems, ConfigProblem("", "nothing was written")]) from None


def value_sources(loaded: LoadedConfig) -> Callable[[str], str]:
    """For a dotted key, where its effective value came from: `file`, `env GATEWAY__...` or `default`."""
    file_data: Mapping[str, Any] = read_toml(loaded.path) if loaded.path and loaded.path.exists() else {}
    env_keys = set(loaded.env_keys)

    def source(dotted: str) -> str:
        if dotted in env_keys:
            return "env " + env_name(dotted)
        node: Any = file_data
        for part in dotted.split("."):
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, Mapping) and part in node:
                node = node[part]
            else:
                return "default"
        return "file"

    return source


def render_toml(data: Mapping[str, Any], source: Callable[[str], str] | None = None) -> str:
    """The config's shape as TOML (tables, one nested level, arrays of tables), optionally with sources."""
    lines: list[str] = []
    for section, body in data.items():
        if isinstance(body, list):
            for index, item in enumerate(body):
                lines += ["", f"[[{section}]]", *_pairs(item, f"{section}.{index}", source)]
            continue
        lines += ["", f"[{section}]", *_pairs(body, section, source)]
        for key, value in body.items():
            if isinstance(value, dict):
                lines += ["", f"[{section}.{key}]", *_pairs(value, f"{section}.{key}", source)]
    return "\n".join(lines).lstrip("\n") + "\n"


def _pairs(table: Mapping[str, Any], prefix: str, source: Callable[[str], str] | None) -> list[str]:
    lines = []
    for key, value in table.items():
        if isinstance(value, dict):
            continue
        origin = f"  # {source(f'{prefix}.{key}')}" if source else ""
        if value is None:
            lines.append(f"# {key} is not set{origin.replace('  #', ';')}")
        else:
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}{origin}")
    return lines
