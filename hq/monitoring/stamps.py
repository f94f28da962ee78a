"""Cheap change stamps the dashboard's event stream polls: when one moves, the browsers
showing that topic fetch their figures again."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from hq.db import device_status, packets, resident_events, reviews


def change_stamps(engine: Engine) -> dict[str, object]:
    """Each a max() over an indexed column: a few index lookups every poll."""
    s, p, e = device_status.c, packets.c, resident_events.c
    with engine.connect() as conn:
        heard = conn.execute(select(func.max(s.received_at))).scalar()
        received = conn.execute(select(func.max(p.received_at))).scalar()
        changed = conn.execute(select(func.max(e.id))).scalar()
        # a review filed moves the highest id; one decided, the count still open
        filed = conn.execute(select(func.max(reviews.c.id))).scalar()
        still_open = conn.execute(select(func.count()).select_from(reviews)
                                  .where(reviews.c.state == "open")).scalar()
    return {"kits": (str(heard), str(received)), "recorded": changed,
            "review": (filed, still_open)}
