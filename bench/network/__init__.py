"""Loopback benchmarks of the network services: DHT lookups, magnet links, the tracker."""
