"""The status bar, visible on every screen: each device's state, power, free disk, the
link to HQ (no network / a network but HQ not reached since 10:42 / connected to HQ, as
the sync daemon found it) and the sync queue ("3 menunggu kirim"). The app hands it each
new snapshot (:meth:`StatusBar.show`), which a worker takes every few seconds and after
every device fault."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from edge.clock import WIB
from tui.catalogue import Catalogue
from tui.views import KitSnapshot

LOW_BATTERY = 20


def _disk(mb: int) -> str:
    if mb >= 10 * 1024:
        return f"{mb // 1024}G"
    return f"{mb / 1024:.1f}G" if mb >= 1024 else f"{mb}M"


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: auto; dock: bottom; background: $panel; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.cat: Catalogue | None = None
        self.snapshot: KitSnapshot | None = None

    def show(self, cat: Catalogue, snapshot: KitSnapshot | None) -> None:
        self.cat, self.snapshot = cat, snapshot
        self.refresh_status()

    def on_mount(self) -> None:
        self.refresh_status()

    def on_resize(self) -> None:
        self.refresh_status()

    def refresh_status(self) -> None:
        cat, snap = self.cat, self.snapshot
        if cat is None:
            return
        if snap is None or not snap.devices:
            self.update(Text(cat.t("status.loading"), style="dim"))
            return
        width = self.size.width or 80

        def fits(devices: Text, parts: list[tuple[str, str, bool]]) -> bool:
            return devices.cell_len + sum(len(label) + 3 for label, _, _ in parts) < width

        parts = self._parts()
        devices = self._devices(wide=True)
        if not fits(devices, parts):
            devices = self._devices(wide=False)
        # Still too long: good news ("all sent", "online") gives way; bad news stays.
        while not fits(devices, parts):
            optional = [i for i, (_, _, keep) in enumerate(parts) if not keep]
            if not optional:
                break
            del parts[optional[-1]]
        text = devices
        for label, style, _ in parts:
            text.append(" │ ", style="dim")
            text.append(label, style=style)
        self.update(text)

    def _devices(self, wide: bool) -> Text:
        cat, snap = self.cat, self.snapshot
        assert cat is not None and snap is not None
        text = Text(" ", no_wrap=False)
        for i, dev in enumerate(snap.devices):
            name = cat.t(f"dev.{dev.kind}") if wide else cat.t(f"devshort.{dev.kind}")
            if i:
                text.append(" · " if wide else " ", style="dim")
            if dev.ok:
                text.append(name, style="bold green")
            else:
                problem = cat.t(f"devstate.{dev.detail}") if cat.has(f"devstate.{dev.detail}") \
                    else cat.t("devstate.error")
                text.append(f"{name}:{problem}", style="bold reverse red")
        return text

    def _parts(self) -> list[tuple[str, str, bool]]:
        """(label, style, must stay), in the order shown."""
        cat, snap = self.cat, self.snapshot
        assert cat is not None and snap is not None
        parts: list[tuple[str, str, bool]] = []
        power = snap.power
        if power.source == "battery" and power.percent is not None:
            low = power.percent <= LOW_BATTERY
            parts.append((cat.t("status.power.battery_low" if low else "status.power.battery",
                                percent=power.percent), "bold reverse red" if low else "", True))
        elif power.source == "mains":
            parts.append((cat.t("status.power.mains"), "", False))
        elif power.source == "undervoltage":
            parts.append((cat.t("status.power.undervoltage"), "bold reverse red", True))
        # unknown (a desktop, a VM): nothing worth a column on an 80-column line
        low_disk = snap.free_disk_mb < snap.disk_floor_mb * 2
        parts.append((cat.t("status.disk_low" if low_disk else "status.disk",
                            free=_disk(snap.free_disk_mb)),
                      "bold reverse red" if low_disk else "", low_disk))
        parts.append(self._link())
        if snap.waiting:
            parts.append((cat.t("status.waiting", n=snap.waiting), "bold yellow", True))
        else:
            parts.append((cat.t("status.waiting_none"), "green", False))
        return parts

    def _link(self) -> tuple[str, str, bool]:
        """No network; a network but HQ not reached (since when); connected to HQ; or a
        network with nothing known of HQ (no sync daemon runs)."""
        cat, snap = self.cat, self.snapshot
        assert cat is not None and snap is not None
        if not snap.link_up:
            return cat.t("status.link.down"), "bold yellow", True
        if snap.hq == "unreachable" and snap.hq_down_since is not None:
            since = f"{snap.hq_down_since.astimezone(WIB):%H:%M}"
            return cat.t("status.link.hq_unreachable", since=since), "bold yellow", True
        if snap.hq == "connected":
            return cat.t("status.link.hq_connected"), "green", False
        return cat.t("status.link.up"), "", False
