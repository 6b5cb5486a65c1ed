"""UART sensors (PMS5003, MH-Z19) on pyserial, and pseudo-terminal simulators of them (the only users of `serial`)."""
