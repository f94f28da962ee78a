"""Rekam's domain core: the kit's residents, roster, enrolment workflow, sealed packets,
operators, outbox and audit log.

It knows no UI, no MQTT and no device backend (an import-linter contract keeps it so):
devices reach it through the ports in :mod:`hal.ports`, and each process wires real or
simulated adapters in its own bootstrap (``rekam.bootstrap`` on the kit).
"""

__version__ = "0.1.0"
