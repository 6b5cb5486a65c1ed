"""Choosing and activating a gpiozero pin factory."""

from __future__ import annotations

import warnings
from importlib.metadata import entry_points
from typing import Any

from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from gateway.errors import PinFactoryError

# gpiozero's own preference order for `auto`; only lgpio drives a Pi 5.
AUTO_ORDER = ("lgpio", "rpigpio", "pigpio", "native")


def open_pin_factory(name: str) -> Any:
    """Build the named factory (`auto` tries lgpio, rpigpio, pigpio, native) and make it gpiozero's default.

    gpiozero's software SPI bus always uses the global `Device.pin_factory`, so it is set here too.
    """
    if name == "mock":
        factory: Any = MockFactory()
    elif name == "auto":
        factory = _first_working_factory()
    else:
        factory = _load_factory(name)
    Device.pin_factory = factory
    return factory


def close_pin_factory(factory: Any) -> None:
    """Release every pin of `factory` and forget it as gpiozero's default."""
    try:
        factory.close()
    finally:
        if Device.pin_factory is factory:
            Device.pin_factory = None


def _first_working_factory() -> Any:
    failures = []
    for name in AUTO_ORDER:
        try:
            return _load_factory(name)
        except PinFactoryError as exc:
            failures.append(f"{name}: {exc.__cause__ or exc}")
    raise PinFactoryError(
        "no GPIO pin library works on this machine (" + "; ".join(failures) + "). "
        'On a machine that is not a Raspberry Pi set [gpio] pin_factory = "mock".'
    )


def _load_factory(name: str) -> Any:
    matches = entry_points(group="gpiozero_pin_factories", name=name)
    if not matches:
        raise PinFactoryError(f"gpiozero has no pin factory named {name!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NativePinFactoryFallback and friends: we report failures ourselves
            return next(iter(matches)).load()()
    except Exception as exc:
        raise PinFactoryError(f"pin factory {name!r} is not usable here: {exc}") from exc
