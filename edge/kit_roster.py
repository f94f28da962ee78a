"""The kit's roster over its life, from the worklist that fills it to the wipe that ends it.

:class:`KitRoster` is the part of :class:`edge.kit.Kit` that looks after the roster (``Kit``
inherits it: these are ``Kit`` methods, kept together because they are one story). It opens
the encrypted roster for a session and keeps it open, keeps the kit's worklist key wrapped
under the roster key, imports a signed worklist into the roster, stages one that arrived
over the downlink for the next login, refuses a roster whose worklist has expired, and
wipes it once HQ's grace period is over.

The ``ROSTER_*``, ``PENDING_WORKLIST_VERSION`` and ``WORKLIST_APPLY_RESULT`` names are the
keys it keeps in ``kit.db``'s state table; the readiness checks, ``rekam doctor`` and the
sync daemon read them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from edge.audit import AuditLog
from edge.clock import WIB, Clock
from edge.config import KitConfig, KitPaths
from edge.errors import RosterWiped, WorklistExpired
from edge.keys import SealingPrivateKey, SealingPublicKey, shred, write_private
from edge.kitdb import StateTable, atomic
from edge.operators import Session
from edge.roster import RosterStore
from edge.worklist_key import WorklistKeyStore

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ed25519

ROSTER_VERSION = "roster_version"
ROSTER_COUNT = "roster_count"
ROSTER_IMPORTED = "roster_imported_at"
ROSTER_EXPIRES = "roster_expires_at"
PENDING_WORKLIST_VERSION = "pending_worklist_version"
WORKLIST_APPLY_RESULT = "worklist_apply_result"
ROSTER_WIPED = "roster_wiped_at"


class KitRoster:
    """The roster's methods of :class:`edge.kit.Kit`, which sets up everything below."""

    paths: KitPaths
    config: KitConfig
    clock: Clock
    conn: sqlite3.Connection
    state: StateTable
    audit: AuditLog
    worklist_keys: WorklistKeyStore
    _roster_lock: threading.RLock
    _roster_store: RosterStore | None
    _roster_key: bytes | None

    if TYPE_CHECKING:  # the kit's identity and HQ's keys, from Kit
        @property
        def device_id(self) -> str: ...

        def trusted_hq_keys(self) -> dict[str, ed25519.Ed25519PublicKey]: ...

    # --- the worklist key and the open roster ------------------------------------------------

    def _settle_worklist_key(self, roster_key: bytes, actor: str) -> None:
        """Wrap the bundle's worklist key under the roster key (or make one for a kit that
        has none), then delete the bundle's clear copy (:mod:`edge.worklist_key`)."""
        with atomic(self.conn):
            changed = self.worklist_keys.settle(roster_key, self.clock())
            if changed:
                public = self.worklist_keys.public()
                self.audit.append(actor, "worklist_key_wrapped",
                                  key_id=public.key_id if public else None)
        self.worklist_keys.forget_bundle_key()

    def worklist_key(self, session: Session) -> SealingPrivateKey:
        """The kit's worklist private key, unwrapped with the session's roster key."""
        self._settle_worklist_key(session.roster_key, session.operator.id)
        return self.worklist_keys.unwrap(session.roster_key)

    def worklist_public_key(self) -> SealingPublicKey | None:
        """What HQ must seal this kit's worklists to (announced in every heartbeat)."""
        return self.worklist_keys.public()

    @contextmanager
    def roster(self, session: Session) -> Iterator[RosterStore]:
        """The encrypted roster, opened once per roster key and kept open: every page is
        decrypted again on a cold open, which a Pi without AES instructions feels. Access is
        serialised, so the UI's worker threads may share it."""
        with self._roster_lock:
            if self._roster_store is None or self._roster_key != session.roster_key:
                self._close_roster()
                self._roster_store = RosterStore.open(self.paths.roster_db, session.roster_key)
                self._roster_key = session.roster_key
            yield self._roster_store

    def close_roster(self) -> None:
        """Close the roster store and drop its key (an operator logged out)."""
        with self._roster_lock:
            self._close_roster()

    def _close_roster(self) -> None:
        if self._roster_store is not None:
            self._roster_store.close()
        self._roster_store, self._roster_key = None, None

    def import_worklist(self, data: bytes, session: Session) -> int:
        """Verify a signed worklist and replace the roster atomically; returns its size."""
        from edge.worklist import verify_worklist

        current = self.state.get(ROSTER_VERSION)
        worklist = verify_worklist(
            data, trusted=self.trusted_hq_keys(), device_id=self.device_id,
            kit_key=self.worklist_key(session),
            current_version=None if current is None else int(current), now=self.clock(),
        )
        with self.roster(session) as store:
            count = store.replace(worklist.meta, worklist.residents())
        with atomic(self.conn):
            self.state.set(ROSTER_VERSION, str(worklist.meta.version))
            self.state.set(ROSTER_COUNT, str(count))
            self.state.set(ROSTER_IMPORTED, self.clock().isoformat())
            self.state.set(ROSTER_EXPIRES, worklist.meta.expires_at.isoformat())
            self.state.set(ROSTER_WIPED, "")
        self.audit.append(session.operator.id, "roster_imported",
                          version=worklist.meta.version, residents=count)
        return count

    # --- expiry ----------------------------------------------------------------------------

    def roster_expiry(self) -> tuple[datetime | None, datetime | None]:
        """(when the roster's worklist expires, when the roster is wiped), or (None, None)
        before the first worklist."""
        raw = self.state.get(ROSTER_EXPIRES)
        if not raw:
            return None, None
        expires = datetime.fromisoformat(raw)
        return expires, expires + timedelta(days=self.config.roster_grace_days)

    def require_current_roster(self) -> None:
        """Refuse (:class:`~edge.errors.WorklistExpired`, or RosterWiped once it is gone)
        once the roster's worklist has expired: nobody searches or records from a list HQ
        no longer stands behind. Importing a new worklist lifts it."""
        expires, wipe_at = self.roster_expiry()
        if expires is None or wipe_at is None or self.clock() < expires:
            return
        self.wipe_roster_if_due()
        wiped = bool(self.state.get(ROSTER_WIPED))
        shown = {"expired": f"{expires.astimezone(WIB):%d-%m-%Y %H:%M} WIB",
                 "wipe": f"{wipe_at.astimezone(WIB):%d-%m-%Y %H:%M} WIB"}
        if wiped:
            raise RosterWiped(
                f"the worklist expired on {shown['expired']} and the roster was wiped on "
                f"{shown['wipe']}: HQ must send a new worklist", **shown)
        raise WorklistExpired(
            f"the worklist expired on {shown['expired']}: search and recording are refused "
            f"until HQ sends a new one (the roster is wiped on {shown['wipe']})", **shown)

    def wipe_roster_if_due(self) -> bool:
        """Once HQ's grace period (``roster_grace_days``) after the worklist's expiry has
        passed, destroy the roster (overwritten, then deleted): no PIN is needed, so an
        unattended or stolen kit forgets its residents too. Reported to HQ once by the sync
        daemon (a ``worklist`` report, ``wiped``). Returns whether it wiped now."""
        expires, wipe_at = self.roster_expiry()
        if wipe_at is None or self.clock() < wipe_at or self.state.get(ROSTER_WIPED):
            return False
        now = self.clock()
        with self._roster_lock:
            self._close_roster()
            root = self.paths.roster_db
            for path in (root, root.with_name(root.name + "-wal"),
                         root.with_name(root.name + "-shm")):
                shred(path)
        version = self.state.get(ROSTER_VERSION)
        detail = (f"roster wiped: its worklist expired on {expires:%Y-%m-%d %H:%M} UTC, "
                  f"{self.config.roster_grace_days} days of grace")
        with atomic(self.conn):
            self.state.set(ROSTER_WIPED, now.isoformat())
            self.state.set(ROSTER_COUNT, "0")
            self.state.set(WORKLIST_APPLY_RESULT, json.dumps(
                {"version": int(version) if version else None, "result": "wiped",
                 "detail": detail, "at": now.isoformat()}, sort_keys=True))
            self.audit.append("kit", "roster_wiped", version=version,
                              expired_at=expires.isoformat() if expires else None)
        return True
    # --- downlink staging (sync daemon) -------------------------------------------------------

    @property
    def pending_worklist_path(self) -> Path:
        return self.paths.root / "pending" / "worklist"

    def stage_worklist(self, data: bytes) -> int:
        """Keep a worklist that arrived over the downlink for the next operator login.

        The sync daemon holds no PIN, so it can neither open the encrypted roster nor the
        worklist, which is sealed to the kit's worklist key: it verifies everything the
        signed header says (signature, device, the kit's worklist key, a version newer than
        the roster's and any staged one, expiry), then stores the sealed bytes (0600).
        Returns the version.
        """
        from edge.worklist import read_worklist

        known = [int(v) for v in (self.state.get(ROSTER_VERSION),
                                  self.state.get(PENDING_WORKLIST_VERSION)) if v]
        public = self.worklist_public_key()
        sealed = read_worklist(
            data, trusted=self.trusted_hq_keys(), device_id=self.device_id,
            kit_key_id=None if public is None else public.key_id,
            current_version=max(known) if known else None, now=self.clock(),
        )
        write_private(self.pending_worklist_path, data)
        with atomic(self.conn):
            self.state.set(PENDING_WORKLIST_VERSION, str(sealed.version))
        self.audit.append("sync", "worklist_staged", version=sealed.version,
                          residents=sealed.residents)
        return sealed.version

    def _shred_unsealed_pending(self) -> None:
        """A worklist staged in clear by an earlier release (before worklists were sealed)
        is destroyed at the first open after the update: it would be refused at the next
        login anyway, and must not wait on the disk until then. HQ is told (``rejected``)
        and sends a sealed one."""
        from edge.worklist import is_sealed

        path = self.pending_worklist_path
        if not path.exists() or is_sealed(path.read_bytes()):
            return
        shred(path)
        version = self.state.get(PENDING_WORKLIST_VERSION) or ""
        with atomic(self.conn):
            self.state.set(PENDING_WORKLIST_VERSION, "")
            self.state.set(WORKLIST_APPLY_RESULT, json.dumps(
                {"version": int(version) if version else None, "result": "rejected",
                 "detail": "an unsealed worklist staged before the update was destroyed; "
                           "HQ must send a sealed one", "at": self.clock().isoformat()},
                sort_keys=True))
            self.audit.append("kit", "worklist_shredded", version=version or None)

    def apply_pending_worklist(self, session: Session) -> int | None:
        """At an operator's login: import a staged worklist with exactly the checks of
        ``rekam roster import``. Returns the roster size, or None when nothing is staged.
        A staged worklist refused now (say it expired meanwhile) is dropped, and the error
        raised. The outcome is kept under ``worklist_apply_result`` for the sync daemon to
        report to HQ."""
        import json

        from edge.errors import RekamError

        path = self.pending_worklist_path
        if not path.exists():
            return None
        version = self.state.get(PENDING_WORKLIST_VERSION) or ""
        data = path.read_bytes()
        result: dict[str, object] = {"version": int(version) if version else None}
        try:
            count = self.import_worklist(data, session)
        except RekamError as exc:
            result.update(result="rejected", detail=str(exc))
            raise
        else:
            result.update(result="applied", detail=f"{count} residents")
            return count
        finally:
            if "result" in result:  # decided: drop the staged copy, leave word for the daemon
                shred(path)
                result["at"] = self.clock().isoformat()
                with atomic(self.conn):
                    self.state.set(PENDING_WORKLIST_VERSION, "")
                    self.state.set(WORKLIST_APPLY_RESULT, json.dumps(result, sort_keys=True))
