"""The device layer: the only package that imports gpiozero. Above it, code sees our types and errors."""
