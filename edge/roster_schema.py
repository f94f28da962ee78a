"""The roster's tables: the SQL that creates them, and a ``residents`` row read back as a
:class:`~edge.residents.Resident`.

:class:`~edge.roster.RosterStore` creates them when it opens a file of an older
:data:`SCHEMA_VERSION` and rebuilds the resident tables on every worklist it loads:

* ``residents`` - one row per resident; unique NIK (``residents_nik``, built after a bulk
  load, from sorted keys), indexes on invitation code, name and RW + name;
* ``name_fts`` - FTS5, trigram tokenizer, each name padded with spaces so that a leading
  space marks a word start; its rowids follow (length, name), so a tier read in rowid order
  is already ranked and stops after ``limit`` rows, however common the query;
* ``name_tokens`` - FTS5, one token per word, no content: whole-word lookups for the typo
  fallback;
* ``name_words`` - the distinct name words under a trigram index, where a typo finds its
  close spellings;
* ``roster_meta`` - the worklist's header;
* ``enrolments`` - the marks of who was recorded on this kit, kept across worklists.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from edge.resident_record import MaritalStatus
from edge.residents import Resident, Sex

SCHEMA_VERSION = 1

_RESIDENT_COLUMNS = (
    "nik", "no_kk", "name", "sex", "birth_place", "birth_date", "marital_status", "address",
    "rt", "rw", "kelurahan", "kecamatan", "invitation_code", "extra",
)
#: A resident's columns, then whether they were recorded on this kit.
SELECT_RESIDENT = (
    "SELECT " + ", ".join(f"r.{c}" for c in _RESIDENT_COLUMNS)
    + ", e.nik IS NOT NULL FROM residents r LEFT JOIN enrolments e ON e.nik = r.nik"
)
SELECT_RESIDENT_BY_ID = SELECT_RESIDENT.replace("SELECT ", "SELECT r.id, ", 1)
INSERT_RESIDENT = (
    "INSERT INTO residents (" + ", ".join(_RESIDENT_COLUMNS) + ", name_key, invitation_key) "
    "VALUES (" + ", ".join("?" * (len(_RESIDENT_COLUMNS) + 2)) + ")"
)

RESIDENT_TABLES = """
CREATE TABLE IF NOT EXISTS residents (
    id INTEGER PRIMARY KEY,
    nik TEXT NOT NULL,  -- unique: residents_nik, built after a bulk load
    no_kk TEXT NOT NULL,
    name TEXT NOT NULL,
    sex TEXT NOT NULL,
    birth_place TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    marital_status TEXT NOT NULL,
    address TEXT NOT NULL,
    rt TEXT NOT NULL,
    rw TEXT NOT NULL,
    kelurahan TEXT NOT NULL,
    kecamatan TEXT NOT NULL,
    invitation_code TEXT NOT NULL,
    extra TEXT,
    name_key TEXT NOT NULL,
    invitation_key TEXT
);
CREATE VIRTUAL TABLE IF NOT EXISTS name_fts USING fts5(
    doc, rw UNINDEXED, rt UNINDEXED, resident UNINDEXED, tokenize = 'trigram', detail = full
);
CREATE VIRTUAL TABLE IF NOT EXISTS name_tokens USING fts5(
    doc, tokenize = 'unicode61 remove_diacritics 2', content = '', detail = none
);
CREATE VIRTUAL TABLE IF NOT EXISTS name_words USING fts5(
    doc, size UNINDEXED, tokenize = 'trigram', detail = full
);
"""
NIK_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS residents_nik ON residents (nik)"
RESIDENT_INDEXES = """
CREATE INDEX IF NOT EXISTS residents_invitation ON residents (invitation_key)
    WHERE invitation_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS residents_name ON residents (name_key);
CREATE INDEX IF NOT EXISTS residents_area_name ON residents (rw, name_key, rt);
"""
OTHER_TABLES = """
CREATE TABLE IF NOT EXISTS roster_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    device_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    kelurahan TEXT NOT NULL,
    count INTEGER NOT NULL,
    schedule TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS enrolments (
    nik TEXT PRIMARY KEY,
    packet_id TEXT NOT NULL,
    enrolled_at TEXT NOT NULL
) WITHOUT ROWID;
"""


def resident_from_row(row: Sequence[Any]) -> Resident:
    """A row of :data:`SELECT_RESIDENT` (without its leading id, for
    :data:`SELECT_RESIDENT_BY_ID`) as a Resident."""
    return Resident(
        nik=row[0], no_kk=row[1], name=row[2], sex=Sex(row[3]), birth_place=row[4],
        birth_date=dt.date.fromisoformat(row[5]), marital_status=MaritalStatus(row[6]),
        address=row[7], rt=row[8], rw=row[9], kelurahan=row[10], kecamatan=row[11],
        invitation_code=row[12], extra=json.loads(row[13]) if row[13] else {},
    )
