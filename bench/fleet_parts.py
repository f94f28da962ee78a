"""The fleet simulator's parts (bench/fleet_sim.py): Mosquitto, a private PostgreSQL
cluster to crash at will, and the ingest worker processes, each watched for its peak memory.
"""

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# --- the parts: broker, PostgreSQL, ingest workers -----------------------------------------


@dataclass
class Process:
    name: str
    cmd: list[str]
    log: Path
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    peak_kb: int = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT,
                                         env=self.env)

    def sample(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.peak_kb = max(self.peak_kb, rss_kb(self.proc.pid))

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.sample()
            os.kill(self.proc.pid, sig)
            self.proc.wait(timeout=60)
        self.proc = None


class Broker(Process):
    def __init__(self, conf_dir: Path, port: int, log_path: Path) -> None:
        super().__init__("mosquitto", [MOSQUITTO, "-c", str(conf_dir / "mosquitto.conf")],
                         log_path)
        self.port = port

    @property
    def url(self) -> str:
        return f"mqtts://localhost:{self.port}"

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not open its port")


class PrivatePostgres:
    """A PostgreSQL cluster of our own on a free port (initdb), to restart at will."""

    def __init__(self, root: Path) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
        if not bins:
            raise SystemExit("PostgreSQL server binaries not found (apt-get install "
                             "postgresql)")
        self.bin = bins[0].parent
        self.as_root = os.geteuid() == 0
        # As root, the cluster runs as postgres, who may not reach into root's folders
        # (pytest's tmp_path is 0700): it gets a folder of its own under /tmp.
        self.root = Path(tempfile.mkdtemp(prefix="rekam-fleet-pg-")) if self.as_root else root
        self.data = self.root / "pgdata"
        self.port = free_port()
        self.user = "postgres" if self.as_root else pwd.getpwuid(os.geteuid()).pw_name
        self.started_at = 0.0

    def _run(self, *argv: str) -> None:
        cmd = [str(self.bin / argv[0]), *argv[1:]]
        if self.as_root:  # initdb and postgres refuse root
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            said = (done.stdout + done.stderr).strip().splitlines()[-3:]
            raise RuntimeError(f"{argv[0]} failed (exit {done.returncode}): "
                               + " / ".join(said))

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.root, self.user)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")
        self.start()

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-w",
                  "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                  "-c max_connections=200 -c shared_buffers=256MB", "start")

    def crash(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        if self.as_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def postmaster_pid(self) -> int:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0


def _tree_rss_kb(pid: int) -> int:
    """RSS of a process and its children (PostgreSQL's backends)."""
    if not pid:
        return 0
    total = rss_kb(pid)
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            total += rss_kb(int(child))
    return total


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and its children (PostgreSQL's backends)."""
    if not pid:
        return 0.0
    total = cpu_seconds(pid)
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            total += cpu_seconds(int(child))
    return total
