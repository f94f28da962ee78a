"""Cheap change stamps the dashboard's event stream polls: when one moves, the browsers
showing that topic fetch their figures again."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from hq.db import device_status, packets


def change_stamps(engine: Engine) -> dict[str, object]:
    s, p = device_status.c, packets.c
    with engine.connect() as conn:
        heard = conn.execute(select(func.max(s.received_at), func.count())).one()
        received = conn.execute(select(func.count(), func.max(p.received_at))).one()
    return {"kits": (str(heard[0]), heard[1], received[0], str(received[1]))}
