"""The fleet simulator's figures (bench/fleet_sim.py): each fault and its recovery, the
run's counts, and the report printed at the end with whether the goal was met.
"""

import io
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GOAL_RECOVERY = 30.0  # seconds from the failed part back to every earlier packet acked


@dataclass
class FaultRecord:
    name: str
    at_share: float
    injected: float = 0.0  # seconds since the fleet started
    back: float = 0.0  # when the failed part was back
    recovered: float | None = None  # when every packet sent before it was acked
    outstanding: int = 0  # packets sent and unacked when the part came back
    first_ack: float | None = None  # seconds from the part back to the fleet's next ack
    cut: int = 0  # kits whose link was cut (the links fault)
    kits_back: float | None = None  # from the part back until every kit was connected again
    most_acked: float | None = None  # ... until 90 % of the watched packets were acked
    skipped: bool = False  # the backlog drained before its turn: not injected (a failed run)

    @property
    def recovery(self) -> float | None:
        return None if self.recovered is None else self.recovered - self.back

    @property
    def away(self) -> float:
        return self.back - self.injected


@dataclass
class Sample:
    """The fleet once a second: where the time goes around each fault."""

    t: float  # seconds since the fleet started
    acked: int  # packets acked so far
    connected: int  # kits with a live connection
    flying: int  # packets the kits have sent (or are sending) and await an ack for
    lag: float  # the simulator's event loop: the longest it was late in this second
    cpu: dict[str, float] = field(default_factory=dict)  # share of one CPU per part


@dataclass
class Results:
    kits: int
    packets: int
    bytes: int
    db: str
    workers: int
    sent: int = 0
    sends: int = 0
    resent: int = 0
    stored: int = 0
    stored_twice: int = 0
    lost: int = 0
    wrong_hash: int = 0
    delivered_again: int = 0
    dead_letters: int = 0
    drain_seconds: float | None = None
    faults: list[FaultRecord] = field(default_factory=list)
    timeline: list[Sample] = field(default_factory=list)
    broker_peak_mb: float = 0.0
    ingest_peak_mb: float = 0.0
    postgres_peak_mb: float = 0.0
    simulator_peak_mb: float = 0.0
    setup_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["faults"] = [{**asdict(f), "recovery": f.recovery, "away": f.away}
                          for f in self.faults]
        data["timeline"] = [asdict(s) for s in self.timeline]
        return data


def report(results: Results) -> str:
    out = io.StringIO()
    p = print
    p(f"fleet: {results.kits} kits, {results.packets} packets, {results.bytes / 1e9:.2f} GB, "
      f"{results.workers} ingest worker(s), {results.db}", file=out)
    p(f"  packets sent            {results.packets} (sends {results.sends}, of which "
      f"re-sends {results.resent})", file=out)
    p(f"  stored                  {results.stored}", file=out)
    p(f"  stored twice            {results.stored_twice}   (must be 0)", file=out)
    p(f"  lost                    {results.lost}   (must be 0)", file=out)
    p(f"  stored with wrong hash  {results.wrong_hash}", file=out)
    p(f"  delivered again         {results.delivered_again} (kept once, acked duplicate)",
      file=out)
    p(f"  dead letters            {results.dead_letters}", file=out)
    drain = "not drained" if results.drain_seconds is None else f"{results.drain_seconds:.1f} s"
    rate = ("" if not results.drain_seconds else
            f" ({results.packets / results.drain_seconds:.0f} packets/s, "
            f"{results.bytes / 1e6 / results.drain_seconds:.0f} MB/s)")
    p(f"  drain of the backlog    {drain}{rate}", file=out)
    for f in results.faults:
        if not f.injected:
            why = "the backlog drained first" if f.skipped else "the run ended first"
            p(f"  fault NOT INJECTED       {f.name:<48} ({why})", file=out)
            continue
        rec = "NOT RECOVERED" if f.recovery is None else f"{f.recovery:.1f} s"
        first = "-" if f.first_ack is None else f"{f.first_ack:.1f} s"
        p(f"  fault at {f.injected:6.1f} s  {f.name:<48} away {f.away:4.1f} s, next ack "
          f"{first}, {f.outstanding:5d} unacked, all acked {rec}", file=out)
    recoveries = [f.recovery for f in results.faults]  # None: not injected or not recovered
    met = (results.lost == 0 and results.stored_twice == 0 and results.wrong_hash == 0
           and results.drain_seconds is not None
           and all(r is not None and r < GOAL_RECOVERY for r in recoveries))
    p(f"  goal (0 lost, 0 stored twice, drained, every fault injected and recovered from in "
      f"under {GOAL_RECOVERY:.0f} s): "
      + ("met" if met else "NOT MET"), file=out)
    p(f"  peak memory             broker {results.broker_peak_mb:.0f} MB, ingest worker "
      f"{results.ingest_peak_mb:.0f} MB" + (f", PostgreSQL {results.postgres_peak_mb:.0f} MB"
                                           if results.postgres_peak_mb else "")
      + f", simulator (all kits) {results.simulator_peak_mb:.0f} MB", file=out)
    return out.getvalue()


def fault_timeline(results: Results, fault: FaultRecord, every: float = 2.0) -> str:
    """The fleet from just before a fault until it recovered, every ``every`` seconds:
    acks per second, kits connected, packets awaiting an ack, the simulator's loop lag and
    each part's CPU (1.0 = one CPU), to see where a recovery's time goes."""
    end = (fault.recovered if fault.recovered is not None else fault.back + 120) + 2
    rows, last = [], None
    for s in results.timeline:
        if s.t < fault.injected - 2 or s.t > end:
            continue
        if last is not None and s.t - last.t < every:
            continue
        rate = 0.0 if last is None else (s.acked - last.acked) / (s.t - last.t)
        cpu = " ".join(f"{k} {v:.2f}" for k, v in s.cpu.items())
        rows.append(f"    {s.t - fault.back:+6.1f} s  {rate:5.0f} acks/s  {s.connected:4d} kits "
                    f"connected  {s.flying:5d} awaiting ack  lag {s.lag:4.2f} s  cpu: {cpu}")
        last = s
    return "\n".join(rows)
