"""What the kit does with messages from HQ: acks, worklists and config (no network here).

Everything arrives signed by HQ and is verified before anything changes:

- **ack** — moves a packet to ``acked`` only when the signature, this device, the packet
  id and the SHA-256 of its exact bytes all match (never on an MQTT PUBACK);
- **worklist** — verified like ``rekam roster import`` (signature, device, newer version,
  not expired) and *staged*, since the daemon holds no operator PIN to open the encrypted
  roster; the next operator login applies it with the same checks
  (:meth:`edge.kit.Kit.apply_pending_worklist`);
- **config** — signature, device, a newer monotonic version, not expired, only the settings
  in :data:`sync.protocol.config.REMOTE_SETTINGS`, each valid; then all are applied, or none.

Each returns a :class:`sync.protocol.status.Report` for ``up/report`` (or None for a harmless
repeat, such as a retained message delivered again on reconnect).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace

from edge.errors import IntegrityError, NotFound, RekamError
from edge.kit import Kit
from edge.kit_roster import PENDING_WORKLIST_VERSION, ROSTER_VERSION, WORKLIST_APPLY_RESULT
from edge.kitdb import atomic
from sync.protocol.acks import Ack, verify_ack
from sync.protocol.config import verify_config
from sync.protocol.status import Report

log = logging.getLogger("rekam.sync")

CONFIG_VERSION = "config_version"
LAST_WORKLIST_SHA = "downlink_worklist_sha256"
LAST_CONFIG_SHA = "downlink_config_sha256"
REPORTED_APPLY = "worklist_apply_reported"


@dataclass(frozen=True)
class AckOutcome:
    acked: list[str]  # packet ids newly acked
    repeated: list[str]  # already acked before (a repeated ack)
    rejected: list[Ack]  # HQ refused these packets (they stay queued)
    refused: list[str]  # acks we did not believe (bad signature, foreign, wrong hash)


def handle_acks(kit: Kit, payloads: Iterable[bytes]) -> AckOutcome:
    """Verify a batch of acks and record the good ones in one transaction."""
    acked: list[str] = []
    repeated: list[str] = []
    rejected: list[Ack] = []
    refused: list[str] = []
    trusted = kit.trusted_hq_keys()
    verified: list[Ack] = []
    for payload in payloads:
        try:
            verified.append(verify_ack(payload, trusted=trusted, device_id=kit.device_id))
        except RekamError as exc:
            log.warning("ignored an ack: %s", exc)
            refused.append(str(exc))
    with atomic(kit.conn):
        for ack in verified:
            if not ack.confirms_storage:
                log.warning("HQ rejected packet %s: %s (kept queued)", ack.packet_id,
                            ack.reason)
                rejected.append(ack)
                continue
            try:
                if kit.outbox.mark_acked(ack.packet_id, ack.sha256):
                    acked.append(ack.packet_id)
                else:
                    repeated.append(ack.packet_id)
            except NotFound:
                log.info("ack for packet %s, which this kit does not hold", ack.packet_id)
                refused.append(f"unknown packet {ack.packet_id}")
            except IntegrityError as exc:
                log.error("%s", exc)
                refused.append(str(exc))
    return AckOutcome(acked, repeated, rejected, refused)


def _repeat(kit: Kit, key: str, data: bytes) -> bool:
    digest = hashlib.sha256(data).hexdigest()
    if kit.state.get(key) == digest:
        return True
    with atomic(kit.conn):
        kit.state.set(key, digest)
    return False


def handle_worklist(kit: Kit, data: bytes) -> Report | None:
    if _repeat(kit, LAST_WORKLIST_SHA, data):
        return None
    now = kit.clock()
    try:
        version = kit.stage_worklist(data)
    except RekamError as exc:
        log.warning("refused a worklist from the downlink: %s", exc)
        kit.audit.append("sync", "worklist_refused", reason=str(exc)[:200])
        return Report(kit.device_id, now, "worklist", "rejected", detail=str(exc))
    log.info("worklist version %d staged; the next operator login applies it", version)
    return Report(kit.device_id, now, "worklist", "staged", version=version,
                  detail="applied at the next operator login")


def handle_config(kit: Kit, data: bytes) -> Report | None:
    if _repeat(kit, LAST_CONFIG_SHA, data):
        return None
    now = kit.clock()
    current = int(kit.state.get(CONFIG_VERSION) or 0)
    try:
        update = verify_config(data, trusted=kit.trusted_hq_keys(), device_id=kit.device_id,
                               current_version=current, now=now)
        config = kit.config
        for key, value in sorted(update.settings.items()):
            config = config.with_setting(key, value)  # every one valid, or nothing changes
        if update.training is not None:  # HQ's registration: production turns simulation off
            config = replace(config, training=update.training)
            config = replace(config.without_simulation_if_production(),
                             problems=kit.config.problems)
    except RekamError as exc:
        log.warning("refused a config from the downlink: %s", exc)
        kit.audit.append("sync", "config_refused", reason=str(exc)[:200])
        return Report(kit.device_id, now, "config", "rejected", detail=str(exc))
    config.save(kit.paths)
    kit.config = config
    with atomic(kit.conn):
        kit.state.set(CONFIG_VERSION, str(update.version))
    kit.audit.append("sync", "config_applied", version=update.version,
                     settings=sorted(update.settings), training=config.training)
    log.info("config version %d applied: %s", update.version,
             ", ".join(f"{k}={v}" for k, v in sorted(update.settings.items())))
    return Report(kit.device_id, now, "config", "applied", version=update.version,
                  detail=", ".join(sorted(update.settings)))


def unreported_apply_result(kit: Kit) -> Report | None:
    """The outcome of the last login-time worklist import, once, for ``up/report``."""
    raw = kit.state.get(WORKLIST_APPLY_RESULT)
    if not raw or kit.state.get(REPORTED_APPLY) == raw:
        return None
    try:
        result = json.loads(raw)
        from datetime import datetime

        report = Report(kit.device_id, datetime.fromisoformat(result["at"]), "worklist",
                        str(result["result"]), version=result.get("version"),
                        detail=str(result.get("detail", "")))
    except (ValueError, KeyError, TypeError):
        return None
    return report


def mark_reported(kit: Kit) -> None:
    raw = kit.state.get(WORKLIST_APPLY_RESULT)
    if raw:
        with atomic(kit.conn):
            kit.state.set(REPORTED_APPLY, raw)


def roster_versions(kit: Kit) -> tuple[int | None, int | None]:
    """(roster version, staged worklist version) for the heartbeat."""
    roster = kit.state.get(ROSTER_VERSION)
    pending = kit.state.get(PENDING_WORKLIST_VERSION)
    return (int(roster) if roster else None, int(pending) if pending else None)
