"""The config loader under hypothesis: any file or environment either loads or raises our ConfigError."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from gateway.config import GatewayConfig, OutputConfig, SensorConfig
from gateway.config_loader import load_config
from gateway.errors import ConfigError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def field_names(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


SECTIONS = {
    name: field_names(typing.cast(type[BaseModel], info.annotation))
    for name, info in GatewayConfig.model_fields.items()
    if name not in {"sensors", "outputs", "expanders"}
}


def kinds_and_keys(union: object) -> tuple[list[str], list[str]]:
    """The `kind` values and every key of a discriminated union of models."""
    models = typing.get_args(typing.get_args(union)[0])
    kinds = [typing.get_args(model.model_fields["kind"].annotation)[0] for model in models]
    return kinds, sorted({key for model in models for key in model.model_fields})


DEVICE_TABLES = {"sensors": kinds_and_keys(SensorConfig), "outputs": kinds_and_keys(OutputConfig)}

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", "auto", "mock", "5", "3.1.1", "drop_oldest", "debug", "/tmp", "a/b", "+", "#", "\x00"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def device_tables(draw: st.DrawFn, section: str) -> dict[str, Any]:
    kinds, keys = DEVICE_TABLES[section]
    chosen = draw(st.lists(st.sampled_from(keys), max_size=6, unique=True))
    table: dict[str, Any] = {key: draw(values) for key in chosen}
    if draw(st.booleans()):
        table["kind"] = draw(st.sampled_from(kinds))
    if draw(st.booleans()):
        table["id"] = draw(st.text(max_size=12))
    return table


@st.composite
def config_documents(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly-right shapes with wrong, odd or hostile values: the loader's real input space."""
    document: dict[str, Any] = {}
    for section in draw(st.lists(st.sampled_from(sorted(SECTIONS)), unique=True)):
        keys = draw(st.lists(st.sampled_from(SECTIONS[section]) | st.text(max_size=8), max_size=5, unique=True))
        document[section] = {key: draw(values) for key in keys}
    for section in DEVICE_TABLES:
        if draw(st.booleans()):
            document[section] = draw(st.lists(device_tables(section), max_size=3))
    return document


def load(path: Path, environ: dict[str, str] | None = None) -> None:
    """Load `path`: it succeeds or raises a ConfigError listing problems; any other exception fails the test."""
    error: ConfigError | None = None
    try:
        load_config(path, environ or {})
    except ConfigError as exc:
        error = exc
    assert error is None or error.problems, "a ConfigError always lists at least one problem"


class TestLoaderFuzz:
    @FUZZ
    @given(data=st.binary(max_size=600))
    def test_any_bytes(self, tmp_path: Path, data: bytes) -> None:
        """Arbitrary bytes as the config file: loaded or a ConfigError, never another exception."""
        path = tmp_path / "config.toml"
        path.write_bytes(data)
        load(path)

    @pytest.mark.slow
    @FUZZ
    @given(document=config_documents())
    def test_structured_documents(self, tmp_path: Path, document: dict[str, Any]) -> None:
        """Valid TOML with the real section and key names and hostile values: loaded or a ConfigError."""
        path = tmp_path / "config.toml"
        path.write_text(tomlkit.dumps(document), encoding="utf-8")
        load(path)

    @FUZZ
    @given(
        overrides=st.dictionaries(
            st.lists(st.sampled_from([*SECTIONS, "sensors", "0", "1", "id", "pin", "host", "x"]), max_size=4).map(
                lambda parts: "GATEWAY__" + "__".join(parts).upper()
            ),
            st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20),
            max_size=4,
        )
    )
    def test_environment_overrides(self, tmp_path: Path, overrides: dict[str, str]) -> None:
        """Any GATEWAY__... variables over a valid file: loaded or a ConfigError naming the variable."""
        path = tmp_path / "config.toml"
        path.write_text('[gpio]\npin_factory = "mock"\n\n[[sensors]]\nid = "a"\nkind = "button"\npin = 17\n')
        load(path, overrides)
