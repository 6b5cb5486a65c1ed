"""Our own user-space I2C chip drivers on smbus2 (`/dev/i2c-N`), simulators and shared bus."""
