"""``rekam firstboot``: a new kit provisions itself from a USB stick (or the boot partition).

The technician copies three files from HQ onto a stick (or onto the SD card's boot
partition), plugs it in and switches the kit on:

- ``<device>.bundle``: the provisioning bundle ``rekam-hq device add`` wrote;
- ``<device>.code`` (or ``kode.txt``): the one-time code HQ printed for it;
- ``teknisi.json``: the kit's first technician, ``{"id": ..., "name": ..., "pin": ...}``.

``rekam-firstboot.service`` runs this as root on first boot. It installs the bundle and
adds the technician through the same calls as ``rekam provision`` and ``rekam operator
add``, deletes the technician file and the code file (a bundle without its code is
useless to whoever finds the stick), hands the kit's files to the ``rekam`` user, names the
host after the device id and disables the unit. Anything missing or wrong is said in one
sentence on tty1 and in the journal, and with ``--wait`` it keeps looking (a stick may be
plugged in later, a bad one swapped) while the operator UI and the sync daemon wait.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edge.config import KitConfig, KitPaths
from edge.errors import InvalidInput, RekamError
from edge.kit import install_bundle, open_kit
from edge.operators import Role
from edge.provisioning import open_bundle

TECHNICIAN_FILE = "teknisi.json"
CODE_FALLBACK = "kode.txt"
BOOT_PARTITION = Path("/boot/firmware")
MOUNT_BASE = Path("/run/rekam-firstboot")
UNIT = "rekam-firstboot.service"
UNIT_DIRS = ("usr/lib/systemd/system", "lib/systemd/system", "etc/systemd/system")
_FILESYSTEMS = {"vfat", "exfat", "ext4", "ext3", "ext2"}


class FirstBootProblem(RekamError):
    """What stops the kit from provisioning itself, in words for whoever stands at it."""


@dataclass(frozen=True)
class Stick:
    """One place that holds a bundle: a folder on a mounted stick or the boot partition."""

    folder: Path
    bundle: Path
    code_file: Path | None
    technician_file: Path | None


@dataclass(frozen=True)
class FirstBootResult:
    device_id: str
    technician: str
    source: Path
    hq_signing_key_id: str


def find_stick(folders: Sequence[Path]) -> Stick:
    """The one folder among ``folders`` holding a bundle; a clear problem otherwise."""
    found: list[Stick] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for bundle in sorted(folder.glob("*.bundle")):
            code = bundle.with_suffix(".code")
            if not code.is_file():
                code = folder / CODE_FALLBACK
            tech = folder / TECHNICIAN_FILE
            found.append(Stick(folder, bundle, code if code.is_file() else None,
                               tech if tech.is_file() else None))
    if not found:
        where = ", ".join(str(f) for f in folders) or "nowhere"
        raise FirstBootProblem(
            "no provisioning bundle (*.bundle) found; put the bundle, its code and "
            f"{TECHNICIAN_FILE} on a USB stick and plug it in (looked in: {where})")
    if len(found) > 1:
        names = ", ".join(str(s.bundle) for s in found)
        raise FirstBootProblem(f"more than one bundle found ({names}); leave only this kit's")
    return found[0]


def read_technician(path: Path) -> tuple[str, str, str]:
    """(id, name, pin) from the technician file; a clear problem when it is not usable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        tech_id, pin = str(data["id"]), str(data["pin"])
        name = str(data.get("name") or tech_id)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FirstBootProblem(
            f"{path.name} must be JSON like "
            '{"id": "tek-ani", "name": "Ani", "pin": "123456"}') from exc
    return tech_id, name, pin


def provision_from(stick: Stick, paths: KitPaths) -> FirstBootResult:
    """Install the bundle and add the first technician, as ``rekam provision`` and ``rekam
    operator add`` would; on any failure the kit's home is left as it was (empty)."""
    if stick.code_file is None:
        raise FirstBootProblem(
            f"found {stick.bundle.name} but not its code: put the code HQ printed in "
            f"{stick.bundle.with_suffix('.code').name} (or {CODE_FALLBACK}) beside it")
    if stick.technician_file is None:
        raise FirstBootProblem(
            f"found {stick.bundle.name} but no {TECHNICIAN_FILE} for the first technician")
    tech_id, name, pin = read_technician(stick.technician_file)
    code = stick.code_file.read_text(encoding="utf-8-sig").strip()
    try:
        bundle = open_bundle(stick.bundle.read_bytes(), code)
    except RekamError as exc:
        raise FirstBootProblem(f"{stick.bundle.name}: {exc}") from exc
    existed = paths.root.exists()
    try:
        install_bundle(paths, bundle)
        with open_kit(paths.root) as kit:
            kit.operators.add(tech_id, name, Role.TECHNICIAN, pin, by=None)
    except RekamError as exc:
        _undo(paths, existed)
        raise FirstBootProblem(f"{stick.technician_file.name}: {exc}") from exc
    except BaseException:
        _undo(paths, existed)
        raise
    return FirstBootResult(bundle.device_id, tech_id, stick.folder, bundle.hq_signing_key_id)


def _undo(paths: KitPaths, existed: bool) -> None:
    """Back to an unprovisioned kit, so the next stick starts from nothing."""
    if not paths.root.exists():
        return
    for child in paths.root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    if not existed:
        paths.root.rmdir()


def _destroy(path: Path) -> None:
    """Overwrite, then delete (a FAT stick keeps no copy elsewhere; flash may, so the
    technician's PIN should be changed after first login if the stick is not trusted)."""
    with contextlib.suppress(OSError):
        size = path.stat().st_size
        with path.open("r+b") as fh:
            fh.write(b"\0" * size)
            fh.flush()
            os.fsync(fh.fileno())
    path.unlink(missing_ok=True)


# --- the system around it: sticks, owner, hostname, the unit ------------------------------


Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False)


def usb_partitions(lsblk_json: str) -> list[str]:
    """Device paths of the filesystems on USB or removable disks, from ``lsblk -J``."""
    found: list[str] = []

    def walk(node: dict[str, object], usb: bool) -> None:
        usb = usb or node.get("tran") == "usb" or node.get("rm") in (True, "1", 1)
        if usb and node.get("fstype") in _FILESYSTEMS and isinstance(node.get("path"), str):
            found.append(str(node["path"]))
        for child in node.get("children") or []:  # type: ignore[attr-defined]
            walk(child, usb)

    for dev in json.loads(lsblk_json).get("blockdevices", []):
        walk(dev, False)
    return found


@dataclass
class System:
    """What first boot does to the machine; tests give it a tree and a fake runner."""

    root: Path = Path("/")
    user: str = "rekam"
    run: Runner = _run
    live: bool = field(default_factory=lambda: bool(os.environ.get("INVOCATION_ID")))

    @contextlib.contextmanager
    def usb_folders(self) -> Iterator[list[Path]]:
        """Mount every USB filesystem read-write under /run, yield them, unmount."""
        mounted: list[Path] = []
        if self.live:
            done = self.run(["lsblk", "-J", "-o", "NAME,PATH,RM,TRAN,FSTYPE,MOUNTPOINT"])
            for dev in usb_partitions(done.stdout) if done.returncode == 0 else []:
                target = MOUNT_BASE / Path(dev).name
                target.mkdir(parents=True, exist_ok=True)
                if self.run(["mount", "-o", "rw,nosuid,nodev,noexec", dev,
                             str(target)]).returncode == 0:
                    mounted.append(target)
        try:
            yield mounted
        finally:
            for target in mounted:
                self.run(["umount", str(target)])

    def hand_to_user(self, home: Path) -> None:
        try:
            entry = pwd.getpwnam(self.user)
        except KeyError:
            return  # a developer's tree: the files stay with whoever ran it
        if os.geteuid() != 0:
            return
        for dirpath, dirnames, filenames in os.walk(home):
            for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                os.chown(name, entry.pw_uid, entry.pw_gid, follow_symlinks=False)

    @property
    def is_kit(self) -> bool:
        """Whether the root is an installed kit (install-rekam put this unit there): only
        then are its host name and units first boot's to change, never a developer's
        machine where someone tries ``rekam firstboot --search`` by hand."""
        return any((self.root / folder / UNIT).exists() for folder in UNIT_DIRS)

    def set_hostname(self, name: str) -> None:
        etc = self.root / "etc"
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "hostname").write_text(name + "\n")
        hosts = etc / "hosts"
        lines = hosts.read_text().splitlines() if hosts.exists() else ["127.0.0.1\tlocalhost"]
        lines = [ln for ln in lines if not ln.startswith("127.0.1.1")] + [f"127.0.1.1\t{name}"]
        hosts.write_text("\n".join(lines) + "\n")
        if self.live:  # the running kernel too (never in a chroot: that is the host's)
            with contextlib.suppress(OSError):
                socket.sethostname(name)

    def disable_unit(self) -> None:
        if shutil.which("systemctl") and self.is_kit:
            self.run(["systemctl", f"--root={self.root}", "--quiet", "disable", UNIT])


def first_boot(paths: KitPaths, system: System, folders: Sequence[Path],
               *, say: Callable[[str], None]) -> FirstBootResult:
    """One attempt: find, provision, clean the stick, hand over, rename, disable."""
    with system.usb_folders() as usb:
        stick = find_stick([*usb, *folders])
        say(f"bundle found: {stick.bundle}")
        result = provision_from(stick, paths)
        for done in (stick.technician_file, stick.code_file):
            if done is not None:
                _destroy(done)
    system.hand_to_user(paths.root)
    if system.is_kit:
        system.set_hostname(result.device_id)
        system.disable_unit()
    else:
        say(f"{system.root} is not an installed kit (no {UNIT}): its host name and units "
            "are left alone")
    return result


def run_first_boot(paths: KitPaths, system: System, folders: Sequence[Path], *,
                   wait: bool, poll: float = 5.0,
                   say: Callable[[str], None] | None = None) -> FirstBootResult | None:
    """Try once, or (``wait``) until a good bundle turns up; each new problem said once."""
    tell = say or (lambda line: print(line, flush=True))
    if paths.config.exists():
        device = KitConfig.load(paths).device_id
        tell(f"rekam firstboot: the kit is already provisioned as {device}; nothing to do")
        system.disable_unit()
        return None
    last = ""
    while True:
        try:
            result = first_boot(paths, system, folders, say=tell)
        except (RekamError, OSError) as exc:
            problem = str(exc)
            if problem != last:
                tell("KIT BELUM SIAP / kit not provisioned: " + problem)
                if wait:
                    tell("menunggu USB berisi bundle provisioning... / waiting for a USB "
                         "stick with the provisioning bundle")
                last = problem
            if not wait:
                raise FirstBootProblem(problem) from exc
            time.sleep(poll)
            continue
        tell(f"kit provisioned as {result.device_id}; first technician {result.technician}; "
             f"HQ signing key id {result.hq_signing_key_id}")
        tell(f"{TECHNICIAN_FILE} and the code were removed from {result.source}")
        return result


def default_folders() -> list[Path]:
    return [BOOT_PARTITION]


def main_firstboot(home: Path, *, search: Sequence[str] | None, wait: bool,
                   root: str = "/", user: str = "rekam") -> int:
    if not search and not Path(root).is_dir():
        raise InvalidInput(f"no such root: {root}")
    folders = [Path(s) for s in search] if search else default_folders()
    system = System(root=Path(root), user=user)
    run_first_boot(KitPaths(home), system, folders, wait=wait)
    sys.stdout.flush()
    return 0
