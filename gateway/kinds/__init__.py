"""Our sensor kinds beyond the gpiozero ones, one module each: config model, quantities, opener, simulation and
README row, registered through the `pi_mqtt_gateway.sensors` entry points exactly as a third party's kind is."""
