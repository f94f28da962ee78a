"""The kit's link to headquarters: the MQTT wire protocol both ends speak, and the kit's
store-and-forward uplink daemon.

- :mod:`sync.protocol` — topics, chunk frames, and the signed messages (acks, status,
  reports, config), a module each (pure, no network); documented for other
  implementations in ``sync/PROTOCOL.md``.
- :mod:`sync.mqtt` — the one module that imports aiomqtt: a small client interface that
  maps aiomqtt/paho errors to :mod:`sync.errors`.
- :mod:`sync.uplink` — ``rekam sync``: outbox → broker → HQ ack → purge, heartbeats,
  reconnect with backoff; :mod:`sync.downlink` handles HQ's signed worklists and config.
- :mod:`sync.settings`, :mod:`sync.sdnotify` — tunables, and systemd readiness/watchdog.
"""
