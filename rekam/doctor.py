"""``rekam doctor``: is this kit ready to serve residents?

The programme asks Disdukcapil to "prepare computers, network, recording and printing
devices" at every service point; this makes that preparation checkable. Each device is
probed and self-tested, then disk, clock, keys, roster and the link to HQ are checked.
A *fail* means residents cannot be recorded; a *warn* means something to fix soon
(an unreachable broker only delays the upload: the kit works offline).
"""

from __future__ import annotations

import socket
import ssl
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from edge import readiness
from edge.config import KitConfig, KitPaths
from edge.kit import ROSTER_COUNT, ROSTER_EXPIRES, ROSTER_IMPORTED, ROSTER_VERSION, Kit
from hal.ports import ReceiptPrinter
from hal.registry import KINDS, open_devices, parse_spec

OK, WARN, FAIL = "ok", "warn", "fail"
CAPTURE_KINDS = ("camera", "fingerprint", "iris", "signature")
EARLIEST_SANE = datetime(2025, 1, 1, tzinfo=UTC)

TEXT = {
    "id": {
        "title": "Pemeriksaan kesiapan kit {device}",
        OK: "SIAP", WARN: "PERHATIAN", FAIL: "GAGAL",
        "camera": "Kamera", "fingerprint": "Pemindai sidik jari", "iris": "Pemindai iris",
        "signature": "Bantalan tanda tangan", "code_reader": "Pembaca kode QR",
        "receipt_printer": "Printer struk", "document_printer": "Printer A4",
        "indicators": "Lampu dan buzzer",
        "device_ok": "{model} ({backend}), nomor seri {serial}",
        "device_sim": "SIMULASI, bukan alat sungguhan ({model})",
        "device_sim_refused": "perangkat simulasi tidak diizinkan di kit produksi; "
                              "pasang alat aslinya",
        "device_missing": "tidak ditemukan: {error}. Periksa kabel USB/daya, lalu jalankan "
                          "lagi 'rekam doctor'",
        "self_test_failed": "uji mandiri gagal: {detail}",
        "paper_out": "kertas struk habis; pasang gulungan baru",
        "paper_low": "kertas struk hampir habis; siapkan gulungan baru",
        "disk": "Ruang disk", "disk_detail": "{free} MB bebas (batas minimum {floor} MB)",
        "disk_fix": "kirim data ke HQ ('rekam sync --once') agar paket lama dihapus",
        "clock": "Jam sistem", "clock_detail": "{now:%Y-%m-%d %H:%M} UTC",
        "clock_fix": "jam kit salah; sambungkan ke internet atau atur jam dengan benar",
        "keys": "Kunci keamanan", "keys_detail": "lengkap, kunci pribadi hanya bisa dibaca kit",
        "keys_fix": "provisioning ulang: rekam provision BUNDLE",
        "roster": "Daftar warga", "roster_none": "belum ada; impor daftar dari HQ "
                                                 "(rekam roster import FILE)",
        "roster_detail": "versi {version}, {size} warga, diimpor {imported:%Y-%m-%d}, berlaku "
                         "sampai {expires:%Y-%m-%d}",
        "roster_expired": "kedaluwarsa sejak {expires:%Y-%m-%d}; minta daftar baru dari HQ",
        "roster_soon": "berakhir {expires:%Y-%m-%d}; minta daftar baru dari HQ",
        "broker": "Koneksi ke HQ", "broker_unset": "alamat server belum diatur "
                                                   "(rekam config set broker mqtts://HOST:PORT)",
        "broker_ok": "{url} terjangkau (TLS berhasil)",
        "broker_down": "{url} tidak terjangkau ({error}); kit tetap bisa merekam, data dikirim "
                       "saat koneksi ada",
        "settings": "Pengaturan",
        "settings_defaulted": "nilai di luar batas, memakai nilai bawaan; perbaiki dengan "
                              "'rekam config set': {problems}",
        "ready": "KIT SIAP melayani warga.",
        "not_ready": "KIT BELUM SIAP: perbaiki yang bertanda GAGAL, lalu jalankan lagi.",
    },
    "en": {
        "title": "Readiness check of kit {device}",
        OK: "OK", WARN: "WARN", FAIL: "FAIL",
        "camera": "Camera", "fingerprint": "Fingerprint scanner", "iris": "Iris scanner",
        "signature": "Signature pad", "code_reader": "QR code reader",
        "receipt_printer": "Receipt printer", "document_printer": "A4 printer",
        "indicators": "LEDs and buzzer",
        "device_ok": "{model} ({backend}), serial {serial}",
        "device_sim": "SIMULATED, not real hardware ({model})",
        "device_sim_refused": "simulated devices are not allowed on a production kit; "
                              "connect the real one",
        "device_missing": "not found: {error}. Check the USB cable and power, then run "
                          "'rekam doctor' again",
        "self_test_failed": "self-test failed: {detail}",
        "paper_out": "out of receipt paper; load a new roll",
        "paper_low": "receipt paper nearly out; have a new roll ready",
        "disk": "Disk space", "disk_detail": "{free} MB free (floor {floor} MB)",
        "disk_fix": "sync to HQ ('rekam sync --once') so that acknowledged packets are purged",
        "clock": "System clock", "clock_detail": "{now:%Y-%m-%d %H:%M} UTC",
        "clock_fix": "the kit's clock is wrong; connect to the internet or set the time",
        "keys": "Security keys", "keys_detail": "complete, private keys readable by the kit only",
        "keys_fix": "provision again: rekam provision BUNDLE",
        "roster": "Resident roster", "roster_none": "none yet; import HQ's worklist "
                                                    "(rekam roster import FILE)",
        "roster_detail": "version {version}, {size} residents, imported {imported:%Y-%m-%d}, "
                         "valid until {expires:%Y-%m-%d}",
        "roster_expired": "expired on {expires:%Y-%m-%d}; ask HQ for a new worklist",
        "roster_soon": "ends {expires:%Y-%m-%d}; ask HQ for a new worklist",
        "broker": "Link to HQ", "broker_unset": "no broker set "
                                                "(rekam config set broker mqtts://HOST:PORT)",
        "broker_ok": "{url} reachable (TLS handshake done)",
        "broker_down": "{url} unreachable ({error}); the kit still records and uploads later",
        "settings": "Settings",
        "settings_defaulted": "out of range, the defaults apply; fix with "
                              "'rekam config set': {problems}",
        "ready": "KIT READY to serve residents.",
        "not_ready": "KIT NOT READY: fix what says FAIL, then run again.",
    },
}


@dataclass(frozen=True)
class Check:
    key: str  # stable id: "camera", "disk", "roster", ...
    status: str  # ok / warn / fail
    label: str
    detail: str


@dataclass(frozen=True)
class Report:
    device_id: str
    checks: list[Check]
    language: str

    @property
    def ready(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def to_dict(self) -> dict[str, object]:
        return {"device_id": self.device_id, "ready": self.ready,
                "checks": [asdict(c) for c in self.checks]}

    def render(self) -> str:
        t = TEXT[self.language]
        width = max(len(c.label) for c in self.checks)
        lines = [t["title"].format(device=self.device_id), ""]
        for c in self.checks:
            lines.append(f"[{t[c.status]:^9}] {c.label:<{width}}  {c.detail}")
        lines += ["", t["ready"] if self.ready else t["not_ready"]]
        return "\n".join(lines)


def diagnose(kit: Kit, *, language: str | None = None, sim: bool = False,
             broker_timeout: float = 3.0, record: bool = True) -> Report:
    """Every check; with ``record`` the summary is also kept in the kit's home, for the
    heartbeats to carry to HQ (:mod:`edge.readiness`)."""
    lang = language_of(kit, language)
    found: dict[str, object] = {}
    checks = list(_devices(kit.config, TEXT[lang], sim=sim, found=found))
    checks += [*kit_checks(kit, lang), link_check(kit, lang, broker_timeout)]
    report = Report(kit.device_id, checks, lang)
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
    return lang if lang in TEXT else "id"


def kit_checks(kit: Kit, language: str) -> list[Check]:
    """The checks that read only the kit's own files and database (disk, clock, keys,
    roster): quick, and safe to run while the operator UI holds the devices."""
    t = TEXT[language if language in TEXT else "id"]
    checks = [_disk(kit, t), _clock(kit, t), _keys(kit.paths, t), _roster(kit, t)]
    if kit.config.problems:  # shown only when there is something to fix
        checks.append(Check("settings", WARN, t["settings"], t["settings_defaulted"].format(
            problems="; ".join(kit.config.problems))))
    return checks


def link_check(kit: Kit, language: str, timeout: float = 3.0) -> Check:
    """Whether HQ's broker answers a TLS handshake with the kit's certificate. It may
    wait up to ``timeout`` seconds on the network."""
    return _broker(kit, TEXT[language if language in TEXT else "id"], timeout)


def _devices(config: KitConfig, t: dict[str, str], *, sim: bool,
             found: dict[str, object] | None = None) -> Iterator[Check]:
    found = {} if found is None else found
    simulated: list[str] = []
    found["simulated"] = simulated
    parsed = "sim" if sim else parse_spec(config.hal)
    allowed = sim or config.allow_simulated
    for kind in KINDS:
        backend = parsed if isinstance(parsed, str) else parsed.get(kind, parsed.get("*", "auto"))
        failing = FAIL if kind in CAPTURE_KINDS else WARN
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                devices = open_devices({kind: backend, "*": "sim"}, allow_simulated=True)
        except Exception as exc:  # any vendor error is a finding, not a crash
            yield Check(kind, failing, t[kind], t["device_missing"].format(error=exc))
            continue
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
            yield Check(kind, failing, t[kind], t["self_test_failed"].format(detail=result.detail))
        elif paper in ("out", "low"):
            yield Check(kind, WARN, t[kind], t[f"paper_{paper}"])
        elif info.simulated and not allowed:
            yield Check(kind, failing, t[kind], t["device_sim_refused"])
        elif info.simulated:
            yield Check(kind, WARN, t[kind], t["device_sim"].format(**fields))
        else:
            yield Check(kind, OK, t[kind], t["device_ok"].format(**fields))


def _disk(kit: Kit, t: dict[str, str]) -> Check:
    free, floor = kit.free_disk_mb(), kit.config.disk_floor_mb
    status = FAIL if free < floor else WARN if free < 2 * floor else OK
    detail = t["disk_detail"].format(free=free, floor=floor)
    return Check("disk", status, t["disk"], detail if status == OK else
                 f"{detail}; {t['disk_fix']}")


def _clock(kit: Kit, t: dict[str, str]) -> Check:
    now = kit.clock()
    newest = [e.at for e in kit.audit.entries(max(0, kit.audit.head()[0] - 1))]
    # A clock before the newest audit entry went backwards; one before 2025 never was set.
    sane = now >= EARLIEST_SANE and all(now >= at - timedelta(minutes=5) for at in newest)
    detail = t["clock_detail"].format(now=now)
    return Check("clock", OK if sane else FAIL, t["clock"],
                 detail if sane else f"{detail}; {t['clock_fix']}")


def _keys(paths: KitPaths, t: dict[str, str]) -> Check:
    private = (paths.device_signing_key, paths.device_tls_key)
    public = (paths.device_cert, paths.ca_cert, paths.hq_signing_public, paths.hq_sealing_public)
    missing = [p.name for p in (*private, *public) if not p.exists()]
    loose = [p.name for p in private if p.exists() and p.stat().st_mode & 0o077]
    if missing or loose:
        problem = ", ".join([*(f"{m} missing" for m in missing),
                             *(f"{m} readable by others" for m in loose)])
        return Check("keys", FAIL, t["keys"], f"{problem}; {t['keys_fix']}")
    return Check("keys", OK, t["keys"], t["keys_detail"])


def _roster(kit: Kit, t: dict[str, str]) -> Check:
    version = kit.state.get(ROSTER_VERSION)
    if not version:
        return Check("roster", FAIL, t["roster"], t["roster_none"])
    expires = datetime.fromisoformat(kit.state.get(ROSTER_EXPIRES) or "")
    imported = datetime.fromisoformat(kit.state.get(ROSTER_IMPORTED) or "")
    now = kit.clock()
    detail = t["roster_detail"].format(version=version, size=kit.state.get(ROSTER_COUNT, "0"),
                                       imported=imported, expires=expires)
    if expires <= now:
        return Check("roster", FAIL, t["roster"], t["roster_expired"].format(expires=expires))
    if expires - now < timedelta(days=3):
        return Check("roster", WARN, t["roster"],
                     f"{detail}; {t['roster_soon'].format(expires=expires)}")
    return Check("roster", OK, t["roster"], detail)


def _broker(kit: Kit, t: dict[str, str], timeout: float) -> Check:
    url = kit.config.broker
    if not url:
        return Check("broker", WARN, t["broker"], t["broker_unset"])
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            if parts.scheme == "mqtts":
                ctx = ssl.create_default_context(cafile=str(kit.paths.ca_cert))
                ctx.minimum_version = ssl.TLSVersion.TLSv1_3
                ctx.load_cert_chain(str(kit.paths.device_cert), str(kit.paths.device_tls_key))
                with ctx.wrap_socket(raw, server_hostname=host):
                    pass
    except (OSError, ssl.SSLError) as exc:
        return Check("broker", WARN, t["broker"],
                     t["broker_down"].format(url=url, error=exc.strerror or exc))
    return Check("broker", OK, t["broker"], t["broker_ok"].format(url=url))
