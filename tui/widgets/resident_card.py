"""The resident's demographics, to confirm with the resident before recording."""

from __future__ import annotations

from rich.table import Table
from textual.widgets import Static

from edge.residents import Resident
from tui.catalogue import Catalogue
from tui.text import plain


def resident_table(cat: Catalogue, resident: Resident, kelurahan_name: str) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    sex = cat.t(f"who.sex.{resident.sex.value}") if cat.has(f"who.sex.{resident.sex.value}") \
        else str(resident.sex)
    rows = [
        ("who.name", plain(resident.name, "bold")),
        ("who.nik", plain(_spaced_nik(resident.nik))),
        ("who.sex", plain(sex)),
        ("who.birth", plain(f"{resident.birth_place}, {resident.birth_date:%d-%m-%Y}")),
        ("who.address", plain(resident.address)),
        ("who.rtrw", plain(f"{resident.rt}/{resident.rw}")),
        ("who.kelurahan", plain(kelurahan_name)),
    ]
    if resident.invitation_code:
        rows.append(("who.invitation", plain(resident.invitation_code)))
    for key, value in rows:
        table.add_row(cat.t(key), value)
    return table


def _spaced_nik(nik: str) -> str:
    """``3275014101050001`` → ``3275 0141 0105 0001``: easier to compare by eye."""
    return " ".join(nik[i:i + 4] for i in range(0, len(nik), 4))


class ResidentCard(Static):
    DEFAULT_CSS = """
    ResidentCard { height: auto; border: solid $primary; padding: 0 1; }
    """
