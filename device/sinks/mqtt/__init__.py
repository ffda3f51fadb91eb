"""MQTT: a sink that publishes each result (and Home Assistant discovery) through a bounded queue."""
