"""Rekam headquarters: keys and CA, device registry, worklists, the vault that opens packets,
and (in later issues) MQTT ingest, programme data, invitations and coverage reports."""
