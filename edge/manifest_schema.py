"""The packet manifest's JSON Schema (``edge/schemas/manifest.schema.json``): one file that
the kit checks every manifest against before sealing, HQ checks when it opens a packet, and
the tests and the protocol document cite.

One schema file per manifest format (:data:`SCHEMA_FILES`): a manifest is checked against the
schema of the format it names, so HQ reads an old and a new format side by side while kits
are updated one by one (docs/protocol/versioning.md). A kit writes :data:`MANIFEST_FORMAT`.

The schema is compiled once per process by fastjsonschema (pure Python, a few hundred KB,
no other dependency: light enough for the kit) into a plain function (~60 ms, once);
checking one enrolment's manifest then costs ~0.6 ms on x86-64, a sixth of sealing it
(``bench/bench_manifest_schema.py`` measures both in one run).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import fastjsonschema

from edge.errors import InvalidInput

MANIFEST_FORMAT = "rekam-manifest/1"  # what this kit writes
# Every format this code reads, and its schema's file in SCHEMA_DIR. During a rollout of a
# new format HQ lists the old and the new one; it keeps reading the old one as long as its
# vault holds packets of it.
SCHEMA_FILES: dict[str, str] = {MANIFEST_FORMAT: "manifest.schema.json"}
SCHEMA_DIR: Traversable = resources.files("edge").joinpath("schemas")  # package data


class ManifestInvalid(InvalidInput):
    """A manifest that breaks the schema; ``field`` says where (``captures[3].position``,
    or ``manifest`` for the object itself), the message says what in words."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"manifest field {field}: {problem}", field=field, problem=problem)
        self.field = field
        self.problem = problem


def known_formats() -> frozenset[str]:
    return frozenset(SCHEMA_FILES)


def schema_text(fmt: str = MANIFEST_FORMAT) -> str:
    """The schema file's text of format ``fmt``, as published in the repository."""
    return SCHEMA_DIR.joinpath(SCHEMA_FILES[fmt]).read_text(encoding="utf-8")


@functools.cache
def schema(fmt: str = MANIFEST_FORMAT) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(schema_text(fmt))
    return data


@functools.cache
def _validator(fmt: str = MANIFEST_FORMAT) -> Callable[[Any], Any]:
    # handlers={}: the schema has only local references; never fetch anything
    validate: Callable[[Any], Any] = fastjsonschema.compile(schema(fmt), handlers={})
    return validate


_PREFIX = re.compile(r"^data(\.|$)")


def _words(exc: fastjsonschema.JsonSchemaValueException) -> tuple[str, str]:
    field = _PREFIX.sub("", str(exc.name or "data")) or "manifest"
    message = str(exc.message)
    name = str(exc.name or "data")
    if message.startswith(name):
        message = message[len(name):].strip()
    if len(message) > 300:
        message = message[:297] + "..."
    return field, message


def manifest_format(data: object) -> str | None:
    """The ``format`` a manifest claims (None when it names none)."""
    if isinstance(data, dict):
        value = data.get("format")
        return value if isinstance(value, str) else None
    return None


def validate_manifest(data: object) -> None:
    """Raise :class:`ManifestInvalid` naming the first field that breaks the schema of the
    format the manifest names (of :data:`MANIFEST_FORMAT` when it names none)."""
    fmt = manifest_format(data)
    known = known_formats()
    if fmt is not None and fmt not in known:
        raise ManifestInvalid("format", f"unknown manifest format {fmt[:40]!r} "
                              f"(known: {', '.join(sorted(known))})")
    try:
        _validator(fmt or MANIFEST_FORMAT)(data)
    except fastjsonschema.JsonSchemaValueException as exc:
        field, problem = _words(exc)
        raise ManifestInvalid(field, problem) from None
