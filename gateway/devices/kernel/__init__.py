"""The kernel route: sensors that Raspberry Pi OS binds with a `config.txt` overlay, read from sysfs.

A `dtoverlay=...` line makes a mainline driver bind the chip; its values appear as IIO (`iio:deviceN/in_*`) or
hwmon (`hwmonN/*_input`) files in kernel units, which this package locates, reads and converts to ours.
"""
