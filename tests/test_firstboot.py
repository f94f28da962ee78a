"""First boot on a tree: a kit provisions itself from the files a technician put on a stick
(or the boot partition), and says clearly what is missing when it cannot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.config import KitPaths
from edge.kit import open_kit
from hq.cli import main as hq_main
from rekam.cli import main as kit_main
from rekam.firstboot import UNIT, System, run_first_boot, usb_partitions

DEVICE = "kit-firstboot-01"
TECH = {"id": "tek-ani", "name": "Ani Teknisi", "pin": "604182"}
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def stick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
          ) -> Path:
    monkeypatch.setenv("REKAM_HQ_HOME", str(tmp_path / "hq"))
    monkeypatch.delenv("REKAM_PIN", raising=False)
    folder = tmp_path / "stick"
    folder.mkdir()
    assert hq_main(["init"]) == 0
    assert hq_main(["device", "add", DEVICE, "--kelurahan", "32.75.01.1001",
                    "-o", str(folder / f"{DEVICE}.bundle")]) == 0
    code = capsys.readouterr().out.split("separately): ")[1].split()[0]
    (folder / f"{DEVICE}.code").write_text(code + "\n")
    (folder / "teknisi.json").write_text(json.dumps(TECH))
    return folder


def _kit_tree(tmp_path: Path) -> Path:
    """A kit's root as install-rekam leaves it, as far as first boot looks: its unit."""
    tree = tmp_path / "tree"
    units = tree / "usr/lib/systemd/system"
    units.mkdir(parents=True, exist_ok=True)
    (units / UNIT).write_bytes((REPO / "systemd" / UNIT).read_bytes())
    return tree


def _firstboot(tmp_path: Path, stick: Path) -> int:
    tree = _kit_tree(tmp_path)
    return kit_main(["firstboot", "--home", str(tmp_path / "kit"), "--search", str(stick),
                     "--root", str(tree)])


def test_a_new_kit_provisions_itself_and_cleans_the_stick(
        tmp_path: Path, stick: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _firstboot(tmp_path, stick) == 0
    out = capsys.readouterr().out
    assert f"kit provisioned as {DEVICE}; first technician tek-ani" in out
    with open_kit(tmp_path / "kit") as kit:
        assert kit.config.device_id == DEVICE
        (tech,) = kit.operators.list()
        assert (tech.id, tech.role.value) == ("tek-ani", "technician")
        kit.login("tek-ani", TECH["pin"])  # the PIN from the file works
    # The PIN file and the code are gone; the bundle alone opens nothing.
    assert sorted(p.name for p in stick.iterdir()) == [f"{DEVICE}.bundle"]
    assert (tmp_path / "tree/etc/hostname").read_text() == f"{DEVICE}\n"
    assert f"127.0.1.1\t{DEVICE}" in (tmp_path / "tree/etc/hosts").read_text()
    # A second boot finds a provisioned kit and does nothing.
    assert _firstboot(tmp_path, stick) == 0
    assert "already provisioned" in capsys.readouterr().out


def test_by_hand_on_a_machine_that_is_not_a_kit_the_host_keeps_its_name(
        tmp_path: Path, stick: Path, capsys: pytest.CaptureFixture[str]) -> None:
    machine = tmp_path / "laptop"
    (machine / "etc").mkdir(parents=True)
    (machine / "etc/hostname").write_text("laptop\n")
    assert kit_main(["firstboot", "--home", str(tmp_path / "kit"), "--search", str(stick),
                     "--root", str(machine)]) == 0
    out = capsys.readouterr().out
    assert f"kit provisioned as {DEVICE}" in out
    assert "not an installed kit" in out and "left alone" in out
    assert (machine / "etc/hostname").read_text() == "laptop\n"
    assert not (machine / "etc/hosts").exists()


def test_no_bundle_says_where_it_looked_and_leaves_the_kit_unprovisioned(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _firstboot(tmp_path, empty) == 1
    captured = capsys.readouterr()
    assert "KIT BELUM SIAP" in captured.out
    assert "no provisioning bundle (*.bundle) found" in captured.err
    assert str(empty) in captured.err
    assert not (tmp_path / "kit").exists()


def test_a_wrong_code_changes_nothing_and_keeps_the_technician_file(
        tmp_path: Path, stick: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (stick / f"{DEVICE}.code").write_text("AAAAA-BBBBB-CCCCC-DDDDD\n")
    assert _firstboot(tmp_path, stick) == 1
    assert "wrong provisioning code" in capsys.readouterr().err
    assert (stick / "teknisi.json").exists()
    assert not KitPaths(tmp_path / "kit").config.exists()


def test_a_bad_technician_file_rolls_the_kit_back(
        tmp_path: Path, stick: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (stick / "teknisi.json").write_text(json.dumps({**TECH, "pin": "12"}))
    assert _firstboot(tmp_path, stick) == 1
    assert "teknisi.json" in capsys.readouterr().err
    assert not KitPaths(tmp_path / "kit").config.exists()  # the next stick starts clean
    (stick / "teknisi.json").write_text(json.dumps(TECH))
    assert _firstboot(tmp_path, stick) == 0


def test_missing_pieces_are_named(tmp_path: Path, stick: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    (stick / "teknisi.json").unlink()
    assert _firstboot(tmp_path, stick) == 1
    assert "no teknisi.json for the first technician" in capsys.readouterr().err
    (stick / f"{DEVICE}.code").unlink()
    assert _firstboot(tmp_path, stick) == 1
    assert f"put the code HQ printed in {DEVICE}.code" in capsys.readouterr().err


def test_waiting_kit_says_its_problem_once_then_takes_the_stick_plugged_in_later(
        tmp_path: Path, stick: Path) -> None:
    plugged = tmp_path / "usb"
    said: list[str] = []

    def say(line: str) -> None:
        said.append(line)
        if len([s for s in said if s.startswith("KIT BELUM SIAP")]) == 1 and not plugged.exists():
            stick.rename(plugged)  # the technician plugs the stick in

    result = run_first_boot(KitPaths(tmp_path / "kit"),
                            System(root=_kit_tree(tmp_path), live=False),
                            [plugged], wait=True, poll=0, say=say)
    assert result is not None and result.device_id == DEVICE
    assert sum(s.startswith("KIT BELUM SIAP") for s in said) == 1
    assert any("waiting for a USB stick" in s for s in said)


def test_usb_sticks_are_found_in_lsblk_output() -> None:
    lsblk = {"blockdevices": [
        {"name": "mmcblk0", "path": "/dev/mmcblk0", "rm": False, "tran": None, "fstype": None,
         "children": [{"name": "mmcblk0p1", "path": "/dev/mmcblk0p1", "rm": False,
                       "tran": None, "fstype": "vfat"}]},
        {"name": "sda", "path": "/dev/sda", "rm": True, "tran": "usb", "fstype": None,
         "children": [{"name": "sda1", "path": "/dev/sda1", "rm": True, "tran": None,
                       "fstype": "vfat"},
                      {"name": "sda2", "path": "/dev/sda2", "rm": True, "tran": None,
                       "fstype": "swap"}]},
        {"name": "sdb", "path": "/dev/sdb", "rm": "0", "tran": "usb", "fstype": "exfat"},
    ]}
    assert usb_partitions(json.dumps(lsblk)) == ["/dev/sda1", "/dev/sdb"]
