"""The packet manifest's JSON Schema (``edge/schemas/manifest.schema.json``): one file that
the kit checks every manifest against before sealing, HQ checks when it opens a packet, and
the tests and the protocol document cite.

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
from typing import Any

import fastjsonschema

from edge.errors import InvalidInput

MANIFEST_FORMAT = "rekam-manifest/1"
KNOWN_FORMATS = frozenset({MANIFEST_FORMAT})
SCHEMA_PATH = "schemas/manifest.schema.json"  # package data of ``edge``


class ManifestInvalid(InvalidInput):
    """A manifest that breaks the schema; ``field`` says where (``captures[3].position``,
    or ``manifest`` for the object itself), the message says what in words."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"manifest field {field}: {problem}", field=field, problem=problem)
        self.field = field
        self.problem = problem


def schema_text() -> str:
    """The schema file's text, as published in the repository."""
    return resources.files("edge").joinpath(SCHEMA_PATH).read_text(encoding="utf-8")


@functools.cache
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(schema_text())
    return data


@functools.cache
def _validator() -> Callable[[Any], Any]:
    # handlers={}: the schema has only local references; never fetch anything
    validate: Callable[[Any], Any] = fastjsonschema.compile(schema(), handlers={})
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
    """Raise :class:`ManifestInvalid` naming the first field that breaks the schema."""
    fmt = manifest_format(data)
    if fmt is not None and fmt not in KNOWN_FORMATS:
        raise ManifestInvalid("format", f"unknown manifest format {fmt[:40]!r} "
                              f"(known: {', '.join(sorted(KNOWN_FORMATS))})")
    try:
        _validator()(data)
    except fastjsonschema.JsonSchemaValueException as exc:
        field, problem = _words(exc)
        raise ManifestInvalid(field, problem) from None
