"""The huis kernel: event bus, state, clock, configuration, MQTT link and the hub that ties them."""
