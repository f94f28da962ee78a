"""The wire protocol between kits and HQ over MQTT 5 (specified in ``sync/PROTOCOL.md``).

Pure: no network, no database. Both ends import it: the kit's uplink encodes packets into
chunk frames and verifies HQ's acks; HQ ingest decodes the frames, reassembles them and
signs the acks. One module per part of the specification:

- :mod:`sync.protocol.topics` — the topic names, channels and the device id;
- :mod:`sync.protocol.chunks` — chunk frames on ``up/packet``: splitting, decoding, reassembly;
- :mod:`sync.protocol.documents` — what every signed message shares: opening the envelope,
  times, the device a message is for, the hex digest form;
- :mod:`sync.protocol.acks` — HQ's acks on ``down/ack`` and its retained "ingest online";
- :mod:`sync.protocol.status` — what a kit says of itself: status (heartbeat and last will)
  on ``up/status``, reports on ``up/report``;
- :mod:`sync.protocol.config` — HQ's signed settings on ``down/config``.
"""
