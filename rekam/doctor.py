"""``rekam doctor``: is this kit ready to serve residents?

The programme asks Disdukcapil to "prepare computers, network, recording and printing
devices" at every service point; this makes that preparation checkable. Each device is
probed and self-tested, then disk, clock, keys, roster and the link to HQ are checked.
A *fail* means residents cannot be recorded; a *warn* means something to fix soon
(an unreachable broker only delays the upload: the kit works offline). A kit whose capture
devices are simulated is a training kit: doctor says so and never calls it ready (exit 3).
"""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from edge import readiness
from edge.checks import Check, Status, kit_checks
from edge.config import KitConfig
from edge.kit import Kit
from edge.kit_roster import ROSTER_IMPORTED, ROSTER_VERSION
from hal.errors import BackendFallback
from hal.ports import ReceiptPrinter
from hal.registry import KINDS, open_devices, parse_spec
from hal.types import DeviceKind
from sync.link import broker_check
from tui.catalogue import LANGUAGES, Catalogue

OK, WARN, FAIL = Status.OK, Status.WARN, Status.FAIL
CAPTURE_KINDS = ("camera", "fingerprint", "iris", "signature")
EXIT_READY, EXIT_NOT_READY, EXIT_TRAINING = 0, 1, 3


@dataclass(frozen=True)
class Report:
    device_id: str
    checks: list[Check]
    language: str
    simulated: tuple[str, ...] = ()  # device kinds on a simulated backend

    @property
    def training(self) -> bool:
        """A capture device is simulated: a training kit, whatever else is fine (HQ flags
        its recordings), so never one ready to serve residents."""
        return any(kind in CAPTURE_KINDS for kind in self.simulated)

    @property
    def ready(self) -> bool:
        return not self.training and all(c.status != FAIL for c in self.checks)

    @property
    def exit_code(self) -> int:
        """0 ready, 1 something failed, 3 a training kit (simulated devices)."""
        if any(c.status == FAIL for c in self.checks):
            return EXIT_NOT_READY
        return EXIT_TRAINING if self.training else EXIT_READY

    def to_dict(self) -> dict[str, object]:
        cat = Catalogue(self.language)
        return {"device_id": self.device_id, "ready": self.ready, "training": self.training,
                "simulated": list(self.simulated),
                "checks": [dict(zip(("key", "status", "label", "detail"),
                                    (c.key, str(c.status), *cat.check(c)[1:]), strict=True))
                           for c in self.checks]}

    def render(self, columns: int = 80) -> str:
        """The checklist, each detail wrapped at word boundaries under its own column, so
        a technician's 80-column SSH terminal never splits a word or a command."""
        cat = Catalogue(self.language)
        rows = [cat.check(c) for c in self.checks]
        width = max(len(label) for _, label, _ in rows)
        lines = [cat.t("check.title", device=self.device_id), ""]
        indent = " " * (11 + 1 + width + 2)
        for status, label, detail in rows:
            lines += textwrap.wrap(detail, width=max(columns, len(indent) + 20),
                                   initial_indent=f"[{status:^9}] {label:<{width}}  ",
                                   subsequent_indent=indent, break_long_words=False,
                                   break_on_hyphens=False) or [f"[{status:^9}] {label}"]
        lines.append("")
        if self.training:
            lines += textwrap.wrap(cat.t("check.training", devices=", ".join(
                cat.t(f"check.label.{kind}").lower() for kind in self.simulated
                if kind in CAPTURE_KINDS)), width=max(columns, 40), break_long_words=False)
        if self.ready:
            lines.append(cat.t("check.ready"))
        elif self.exit_code == EXIT_NOT_READY:
            lines.append(cat.t("check.not_ready"))
        return "\n".join(lines)


def diagnose(kit: Kit, *, language: str | None = None, sim: bool = False,
             broker_timeout: float = 3.0, record: bool = True) -> Report:
    """Every check; with ``record`` the summary is also kept in the kit's home, for the
    heartbeats to carry to HQ (:mod:`edge.readiness`)."""
    lang = language_of(kit, language)
    found: dict[str, object] = {}
    checks = list(_devices(kit.config, sim=sim, found=found))
    checks += [*kit_checks(kit), broker_check(kit, broker_timeout)]
    simulated = found.get("simulated", [])
    report = Report(kit.device_id, checks, lang,
                    tuple(simulated) if isinstance(simulated, list) else ())
    if record:
        readiness.save(kit.paths.root, summarise(kit, report, found))
    return report


def summarise(kit: Kit, report: Report, found: dict[str, object]) -> readiness.Readiness:
    """The few fields HQ shows beside a scheduled visit (no personal data)."""
    status = {c.key: c.status for c in report.checks}
    imported = kit.state.get(ROSTER_IMPORTED)
    now = kit.clock()
    version = kit.state.get(ROSTER_VERSION)
    simulated = found.get("simulated", [])
    return readiness.Readiness(
        checked_at=now.isoformat(timespec="seconds"), ready=report.ready,
        devices={k: status[k] for k in KINDS if k in status},
        simulated=list(simulated) if isinstance(simulated, list) else [],
        disk=status.get("disk", OK), free_disk_mb=kit.free_disk_mb(),
        clock=status.get("clock", OK), roster=status.get("roster", OK),
        roster_version=int(version) if version else None,
        roster_age_days=(now - datetime.fromisoformat(imported)).days if imported else None,
        paper=str(found.get("paper", "unknown")),
        failing=[c.key for c in report.checks if c.status == FAIL],
        warnings=[c.key for c in report.checks if c.status == WARN])


def language_of(kit: Kit, language: str | None = None) -> str:
    """The report's language: the one asked for, else the kit's, else Indonesian."""
    lang = language or kit.config.language
    return lang if lang in LANGUAGES else "id"


def _devices(config: KitConfig, *, sim: bool,
             found: dict[str, object] | None = None) -> Iterator[Check]:
    found = {} if found is None else found
    simulated: list[str] = []
    found["simulated"] = simulated
    parsed = "sim" if sim else parse_spec(config.hal)
    allowed = config.training and (sim or config.allow_simulated)  # production: never
    for kind in KINDS:
        backend = parsed if isinstance(parsed, str) else parsed.get(kind, parsed.get("*", "auto"))
        failing = FAIL if DeviceKind(kind).captures else WARN
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                devices = open_devices({kind: backend, "*": "sim"}, allow_simulated=True)
        except Exception as exc:  # any vendor error is a finding, not a crash
            yield Check(kind, failing, "device_missing", {"error": exc})
            continue
        fallback = next((w.message for w in caught
                         if isinstance(w.message, BackendFallback) and w.message.kind == kind),
                        None)
        with devices:
            device = getattr(devices, kind)
            info = device.info
            result = device.self_test()
            if isinstance(device, ReceiptPrinter):
                found["paper"] = device.paper()
        if info.simulated:
            simulated.append(kind)
        fields = {"model": info.model, "backend": info.backend, "serial": info.serial}
        paper = found.get("paper") if isinstance(device, ReceiptPrinter) else None
        if not result.ok:
            yield Check(kind, failing, "self_test_failed", {"detail": result.detail})
        elif paper in ("out", "low"):
            yield Check(kind, WARN, f"paper_{paper}")
        elif fallback is not None:  # auto found nothing: say what it looked for
            probed = {"probed": tuple(name for name, _ in fallback.probed)}
            yield (Check(kind, WARN, "device_not_found_sim", probed) if allowed
                   else Check(kind, failing, "device_not_found", probed))
        elif info.simulated and not allowed:
            yield Check(kind, failing, "device_sim_refused")
        elif info.simulated:
            yield Check(kind, WARN, "device_sim", fields)
        else:
            yield Check(kind, OK, "device_ok", fields)

