"""``make demo``: the whole story on simulated devices, in a fresh home under ``.demo/``.

Each step runs the real command line, printed as a technician would type it, so a newcomer
sees what the commands are and what they answer. The PINs are demo values, never real ones.
"""

from __future__ import annotations

import csv
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType, TracebackType

from edge.clock import WIB

DEMO = Path(".demo").resolve()
KELURAHAN = "32.75.01.1001"  # Bekasijaya, Bekasi Timur
DEVICE = "kit-bekasijaya-01"  # registered for training: the demo's devices are simulated
PRODUCTION_DEVICE = "kit-bekasijaya-02"
SUPERVISOR_PIN = "483920"
OPERATOR_PIN = "571846"
TECHNICIAN_PIN = "602517"
PEOPLE = (  # id, name, role, PIN: printed at the start and the end, for trying the UI
    ("siti", "Siti Rahmawati", "supervisor", SUPERVISOR_PIN),
    ("budi", "Budi Santoso", "operator", OPERATOR_PIN),
    ("andi", "Andi Wijaya", "technician", TECHNICIAN_PIN),
)
ENROLMENTS = 20


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def step(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m", flush=True)


def sh(*argv: str, env: dict[str, str] | None = None, capture: bool = False,
       check: bool = True, show: bool = True) -> str:
    shown = " ".join(a if " " not in a else repr(a) for a in argv)
    if show:
        print(f"$ {shown}", flush=True)
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run([_bin(argv[0]), *argv[1:]], env=full_env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = result.stdout
    if not capture or result.returncode:
        print(out.rstrip())
    if result.returncode and check:
        sys.exit(f"demo stopped: {argv[0]} {argv[1]} failed")
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a child gets when the process that made it dies


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    # A demo killed with SIGKILL (no finally runs) still takes ingest and the sync daemon
    # with it; not a root-run Mosquitto, which drops to its own user (clearing this).
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Background:
    """The servers the demo starts (the broker, ingest, the kit's sync daemon), stopped
    however the demo ends: at its end, on Ctrl+C, on SIGTERM, or on SIGHUP when its
    terminal is closed. Each runs in a session of its own, so the terminal's signals reach
    only the demo (Mosquitto takes SIGHUP as "reload" and would outlive a closed
    terminal), and the demo stops them in reverse order."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        self._previous: dict[int, object] = {}

    def start(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        print(f"$ {' '.join(argv)} &   (log: {log.name})", flush=True)
        with log.open("wb") as fh:
            proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    preexec_fn=_die_with_parent)
        self.processes.append(proc)
        return proc

    def stop(self) -> None:
        """SIGTERM each (the last started first), SIGKILL what has not ended in 10 s."""
        while self.processes:
            proc = self.processes.pop()
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Leave through the normal exits (finally blocks, a running command killed by
        # subprocess.run), then stop the servers in __exit__.
        raise SystemExit(128 + signum)

    def __enter__(self) -> Background:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            self._previous[signum] = signal.signal(signum, self._on_signal)
        # Ctrl+C as KeyboardInterrupt even when started with SIGINT ignored (a background
        # job of a script inherits that, and Python then never installs its own handler)
        self._previous[signal.SIGINT] = signal.signal(signal.SIGINT,
                                                      signal.default_int_handler)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.stop()
        finally:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)  # type: ignore[arg-type]


def _wait_for_port(port: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit(f"demo stopped: the broker did not listen on port {port}")


def main() -> int:
    with Background() as background:
        try:
            return _story(background)
        except KeyboardInterrupt:
            print("\ndemo stopped (Ctrl+C); stopping the broker, ingest and the sync daemon",
                  file=sys.stderr)
            return 130


def _people() -> None:
    for person, name, role, pin in PEOPLE:
        print(f"  {role:<11} {person:<5} {name:<15} PIN {pin}")


def _story(background: Background) -> int:
    started = time.perf_counter()
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir()
    hq_home, kit_home = DEMO / "hq", DEMO / "kit"
    os.environ["REKAM_HQ_HOME"] = str(hq_home)
    os.environ["REKAM_HOME"] = str(kit_home)
    print(f"Rekam demo in {DEMO} (REKAM_HQ_HOME={hq_home}, REKAM_HOME={kit_home})")

    step("HQ makes its keys: sealing (ML-KEM-768 + X25519), signing (Ed25519), CA (P-256)")
    sh("rekam-hq", "init")

    step("HQ takes the list of residents who must still record (synthetic SIAK export)")
    csv_path = DEMO / "wajib-rekam.csv"
    sh("rekam-hq", "synth", "--kelurahan", KELURAHAN, "32.75.01.1002", "--count", "400",
       "--seed", "7", "-o", str(csv_path))
    with csv_path.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    print(f"  {len(rows)} rows; first: {rows[0]['nik']} {rows[0]['nama']}")

    mosquitto = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()),
        None)
    broker_args: list[str] = []
    if mosquitto:
        port = _free_port()
        step("HQ starts its MQTT broker (TLS 1.3, client certificates, per-kit ACL) and ingest")
        sh("rekam-hq", "broker-config", "-o", str(DEMO / "broker"), "--port", str(port),
           "--bind", "127.0.0.1", "--record")
        background.start([mosquitto, "-c", str(DEMO / "broker" / "mosquitto.conf")],
                         DEMO / "mosquitto.log")
        _wait_for_port(port)
        background.start([_bin("rekam-hq"), "ingest"], DEMO / "ingest.log")
        broker_args = ["--broker", f"mqtts://localhost:{port}"]
    else:
        step("No MQTT broker here: the kit works offline (install one: apt-get install "
             "mosquitto, then run make demo again)")

    step("HQ registers a training kit for kelurahan Bekasijaya (simulated devices allowed, "
         "its recordings never count as real) and writes its provisioning bundle")
    out = sh("rekam-hq", "device", "add", DEVICE, "--kelurahan", KELURAHAN, "--training",
             *broker_args, "-o", str(DEMO / f"{DEVICE}.bundle"))
    code = out.split("separately): ")[1].split()[0]

    step("The technician provisions the kit with the bundle and the one-time code")
    sh("rekam", "provision", str(DEMO / f"{DEVICE}.bundle"), "--code", code)
    sh("rekam", "config", "set", "service_point", "Balai RW 005 Bekasijaya")

    step("A production kit (HQ's default) refuses simulated devices, whoever asks")
    out = sh("rekam-hq", "device", "add", PRODUCTION_DEVICE, "--kelurahan", KELURAHAN,
             "-o", str(DEMO / f"{PRODUCTION_DEVICE}.bundle"))
    code = out.split("separately): ")[1].split()[0]
    production = {"REKAM_HOME": str(DEMO / PRODUCTION_DEVICE)}
    sh("rekam", "provision", str(DEMO / f"{PRODUCTION_DEVICE}.bundle"), "--code", code,
       env=production)
    sh("rekam", "config", "set", "allow_simulated", "true", env=production, check=False)
    sh("rekam", "enrol", "--sim", "--nik", "3275010101010001", env=production, check=False)

    step("Operators: a supervisor first, then the operator and the technician she approves "
         "(demo PINs, never real ones)")
    (sup, sup_name, _, _), *others = PEOPLE
    sh("rekam", "operator", "add", sup, "--name", sup_name, "--role", "supervisor",
       env={"REKAM_NEW_PIN": SUPERVISOR_PIN})
    for person, name, role, pin in others:
        sh("rekam", "operator", "add", person, "--name", name, "--role", role, "--by", sup,
           env={"REKAM_PIN": SUPERVISOR_PIN, "REKAM_NEW_PIN": pin})
    sh("rekam", "operator", "list")
    _people()

    local_rws = sorted({r["rw"] for r in rows if r["kode_kelurahan"] == KELURAHAN})
    today = datetime.now(WIB).date()  # the service point's day, in Bekasi's time zone

    step("HQ's register: the residents who must record, the kit's visits, and the "
         "invitation letters the Satgas Pamor deliver")
    sh("rekam-hq", "residents", "import", str(csv_path))
    for i in range(3):  # three days, two RWs each
        rws = local_rws[2 * i:2 * i + 2]
        sh("rekam-hq", "schedule", "add", "--kit", DEVICE, "--date",
           f"{today + timedelta(days=i):%d-%m-%Y}", "--place", f"Balai RW {rws[0]}",
           "--kelurahan", "Bekasijaya", "--rw", ",".join(str(int(rw)) for rw in rws),
           "--time", "08.00-15.00", "--staff", "Budi Santoso,Siti Rahmawati")
    sh("rekam-hq", "schedule", "list")
    first_rw = str(int(local_rws[0]))
    letters = DEMO / f"undangan-rw{int(first_rw):03d}.pdf"
    sh("rekam-hq", "invitations", "--kelurahan", "Bekasijaya", "--rw", first_rw, "-o",
       str(letters))
    print(f"  open {letters}: a cover sheet for the RT/RW heads, then one A4 letter per "
          "resident with a signed QR code (no NIK in it); --slips prints 4 per sheet")
    sh("rekam-hq", "invitations", "list", "--limit", "3")

    step("HQ builds the kit's worklist from the register and its visits: only residents "
         "still to record, only in the scheduled RWs; the kit verifies and imports it "
         "(encrypted at rest)")
    worklist = DEMO / f"{DEVICE}-v1.worklist"
    sh("rekam-hq", "worklist", DEVICE, "--dry-run")
    sh("rekam-hq", "worklist", DEVICE, "-o", str(worklist))
    print("  (rekam-hq worklist ... --push sends it over MQTT instead; the kit stages it)")
    op_env = {"REKAM_OPERATOR": "budi", "REKAM_PIN": OPERATOR_PIN}
    sh("rekam", "roster", "import", str(worklist), env=op_env)
    scheduled = set(local_rws[:6])
    local = [r for r in rows if r["kode_kelurahan"] == KELURAHAN and r["rw"] in scheduled]
    surname = local[0]["nama"].split()[-1]
    sh("rekam", "roster", "search", surname.lower()[:5], "--limit", "5", env=op_env)

    step(f"{ENROLMENTS} residents recorded on simulated devices, each sealed to HQ; the "
         "first one's receipt as the (simulated) printer printed it")
    niks = [r["nik"] for r in local[:ENROLMENTS]]
    sh("rekam", "enrol", "--sim", "--seed", "7", "--quiet", "--receipt", "--nik", niks[0],
       env=op_env)
    args = ["rekam", "enrol", "--sim", "--seed", "7", "--quiet"]
    for nik in niks[1:]:
        args += ["--nik", nik]
    sh(*args, env=op_env)

    step("The outbox holds only sealed packets; the audit log is intact")
    sh("rekam", "outbox")
    sh("rekam", "audit", "verify")
    first = sh("rekam", "outbox", "--json", capture=True)
    outbox = json.loads(first)
    packet_ids = [p["packet_id"] for p in outbox["packets"]]
    print(f'  {{"counts": {json.dumps(outbox["counts"])}, "packets": [{len(packet_ids)} '
          "packets, the first:")
    print("\n".join("    " + line for line in
                    json.dumps(outbox["packets"][0], indent=2).splitlines()) + "]}")
    packet_file = DEMO / f"{packet_ids[0]}.rkp"
    sh("rekam", "outbox", "export", packet_ids[0], "-o", str(packet_file))

    step("At HQ, 'rekam-hq open' checks one packet by hand: the kit's signature, "
         "decryption, and every check")
    sh("rekam-hq", "open", str(packet_file), "--extract", str(DEMO / "opened"), check=False)
    print(f"  images written to {DEMO / 'opened'} (0600); HQ marks the packet as a training "
          "kit's (exit 4): it never passes for a real recording")

    if broker_args:
        step("The kit syncs: sealed packets go to HQ, HQ acks each one signed, the kit "
             "purges; the vault (a thread of ingest) opens them")
        sh("rekam", "config", "set", "ack_grace_hours", "0", "--by", "siti",
           env={"REKAM_PIN": SUPERVISOR_PIN})
        sh("rekam", "sync", "--once")
        sh("rekam", "outbox")
        sh("rekam-hq", "devices")
    else:
        step("No broker: the packets go to HQ on a USB stick; HQ stores them as ingest would")
        files = []
        for packet_id in packet_ids:
            path = DEMO / "usb" / f"{packet_id}.rkp"
            path.parent.mkdir(exist_ok=True)
            sh("rekam", "outbox", "export", packet_id, "-o", str(path), capture=True,
               show=False)
            files.append(str(path))
        sh("rekam-hq", "packets", "add", *files)

    step("The vault opens every stored packet; a training kit's recordings are kept apart: "
         "nobody is marked terekam, nothing waits for review, nothing is exported")
    sh("rekam-hq", "vault", "run", "--once")
    sh("rekam-hq", "packets", "--limit", "3")
    sh("rekam-hq", "review", "list")
    sh("rekam-hq", "residents", "show", niks[0])
    print("  on a production kit (real devices), an accepted recording marks the resident "
          "terekam;\n  flagged ones wait for a supervisor (rekam-hq review list / decide), "
          "and\n  rekam-hq export --since DATE -o DIR writes them for the national system "
          "(docs/export.md)")
    sh("rekam-hq", "device", "list")

    step("Is the kit ready for tomorrow? (devices, disk, clock, keys, roster, link to HQ); "
         "on simulated devices doctor says it is a training kit (exit 3)")
    sh("rekam", "doctor", "--sim", check=False)

    step("Kit status")
    sh("rekam", "status")
    if sys.stdin.isatty() and sys.stdout.isatty():
        step("Now you: the operator UI on simulated devices"
             + (", with HQ live" if broker_args else ""))
        print(f"Log in as budi, PIN {OPERATOR_PIN}; Enter through a recording; "
              "S shows the sync queue; Ctrl+Q quits. Siti (PIN "
              f"{SUPERVISOR_PIN}) approves exceptions; andi (PIN {TECHNICIAN_PIN}) is the "
              "technician.")
        if broker_args:  # the kit's sync daemon, as systemd runs it: what you record goes
            background.start([_bin("rekam"), "sync"], DEMO / "sync.log")
            print(f"The kit's sync daemon runs too (log: {DEMO / 'sync.log'}): what you "
                  "record reaches HQ by itself; see it with 'rekam-hq packets'.")
        input("Press Enter to start the UI... ")
        subprocess.run([_bin("rekam"), "tui", "--sim"], check=False)
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s. Try it yourself:")
    print(f"  export REKAM_HOME={kit_home} REKAM_HQ_HOME={hq_home}")
    print(f"  .venv/bin/rekam roster search {surname.lower()} --operator budi   "
          f"(PIN {OPERATOR_PIN})")
    print("  .venv/bin/rekam tui --sim          (the operator UI)")
    print("The demo's people and PINs (the technician screen: log in as andi, press T on Home):")
    _people()
    return 0


if __name__ == "__main__":
    sys.exit(main())
