"""Coverage figures over the register, and the dashboard's pages and data endpoints:
figures that add up at every level, the base as it stood, scoped accounts that see only
their area."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from monitoring_world import (
    HOSTILE_OPERATOR,
    KELURAHAN,
    TRAINING_KIT,
    add_enrolments,
    add_kits,
    add_visits,
    build,
)
from starlette.testclient import TestClient

from hq.db import make_engine
from hq.monitoring import coverage
from hq.monitoring.views import today
from hq.web import auth
from hq.web.app import Settings, create_app

PASSWORD = "rahasia-sekali-123"
END = date(2026, 12, 1)


@pytest.fixture(scope="module")
def pg_url_module():
    """One fresh PostgreSQL database for this module's world (built once: it is slow)."""
    import os
    import secrets

    import psycopg

    admin = os.environ.get("REKAM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        psycopg.connect(admin, connect_timeout=3).close()
    except Exception:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"PostgreSQL is not reachable at {admin}")
        pytest.skip(f"PostgreSQL is not reachable at {admin}")
    name = f"rekam_test_{secrets.token_hex(6)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])
def world(request, tmp_path_factory):
    import os

    os.environ["REKAM_HQ_ARGON2_MEMORY_KIB"] = "1024"
    tmp = tmp_path_factory.mktemp("monitoring")
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url_module")
    else:
        url = f"sqlite:///{tmp / 'hq.db'}"
    engine = make_engine(url)
    expected = build(engine, tmp)
    add_kits(engine, datetime.now(UTC))
    add_visits(engine, datetime.now(UTC), today())
    expected.update(add_enrolments(engine, datetime.now(UTC)))
    auth.add_user(engine, "admin", "admin", PASSWORD)
    auth.add_user(engine, "lurah", "viewer", PASSWORD, kelurahan=KELURAHAN[1])
    auth.add_user(engine, "camat", "viewer", PASSWORD, kecamatan="32.75.02")
    yield engine, expected
    engine.dispose()


def test_figures_add_up_at_every_level(world):
    engine, expected = world
    period = coverage.Period(None, END)
    kota = coverage.total(engine, coverage.KOTA, period)
    assert (kota.must_record, kota.recorded) == (expected["must_record"], expected["recorded"])
    for level in ("kecamatan", "kelurahan", "rw", "rt"):
        rows = coverage.figures(engine, coverage.KOTA, level, period)
        assert sum(r.must_record for r in rows) == kota.must_record, level
        assert sum(r.recorded for r in rows) == kota.recorded, level
    kel = coverage.area_of(KELURAHAN[0])
    rws = coverage.figures(engine, kel, "rw", period)
    total = coverage.total(engine, kel, period)
    assert sum(r.recorded for r in rws) == total.recorded and len(rws) > 3
    rw = rws[0].area
    rts = coverage.figures(engine, rw, "rt", period)
    assert sum(r.must_record for r in rts) == rws[0].must_record


def test_the_base_as_it_stood_on_a_day(world):
    engine, _ = world
    # Before the moves (day 5) the base was the whole import; after, without them.
    first = coverage.total(engine, coverage.KOTA, coverage.Period(None, date(2026, 11, 1)))
    later = coverage.total(engine, coverage.KOTA, coverage.Period(None, date(2026, 11, 10)))
    assert first.recorded == 0 and first.must_record == 300
    assert later.must_record == 300 - 9 - 3  # 3 % moved, 1 % died
    period = coverage.Period(date(2026, 11, 5), date(2026, 11, 10))
    window = coverage.total(engine, coverage.KOTA, period)
    assert window.recorded_in_period == window.recorded - window.recorded_start > 0
    assert window.base_change == -12
    days = coverage.series(engine, coverage.KOTA, period)
    assert days[0].day == date(2026, 11, 5) and len(days) == 6
    assert sum(p.recorded_that_day for p in days) == window.recorded_in_period
    weeks = coverage.series(engine, coverage.KOTA, period, weekly=True)
    assert weeks[-1].recorded == days[-1].recorded
    with pytest.raises(Exception, match="starts"):
        coverage.Period(date(2026, 11, 10), date(2026, 11, 5))


def client(engine, user: str) -> TestClient:
    c = TestClient(create_app(Settings(engine=engine, poll_seconds=0.05)),
                   base_url="https://testserver", follow_redirects=False)
    page = c.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert c.post("/login", data={"user_id": user, "password": PASSWORD,
                                  "csrf": token}).status_code == 303
    return c


def test_drill_down_pages_for_the_whole_city(world):
    engine, expected = world
    c = client(engine, "admin")
    assert c.get("/").headers["location"] == "/area/32.75"
    page = c.get("/area/32.75?to=2026-12-01")
    assert page.status_code == 200
    assert "Bekasi Timur" in page.text and "Bekasi Barat" in page.text
    assert f">{expected['recorded']:,}<".replace(",", ".") in page.text
    kel = c.get(f"/area/{KELURAHAN[0]}").text
    rw = re.search(rf'href="/area/{KELURAHAN[0]}/rw/(\d+)"', kel).group(1)  # type: ignore[union-attr]
    page = c.get(f"/area/{KELURAHAN[0]}/rw/{rw}")
    assert page.status_code == 200 and 'id="not-recorded"' in page.text
    data = c.get(f"/api/residents/{KELURAHAN[0]}/rw/{rw}").json()
    assert data and all(r["status"] in ("belum-rekam", "diundang") for r in data)
    assert all(r["rw"] == rw for r in data)
    assert c.get("/area/32.75?from=2026-12-05&to=2026-12-01").status_code == 400
    assert c.get("/area/99.99").status_code == 404


def test_a_kelurahan_account_sees_only_its_kelurahan(world):
    engine, _ = world
    c = client(engine, "lurah")
    own = KELURAHAN[1]
    assert c.get("/").headers["location"] == f"/area/{own}"
    assert c.get(f"/area/{own}").status_code == 200
    rws = c.get(f"/api/coverage/{own}").json()["rows"]
    assert rws and all(r["code"] == own for r in rws)
    other = KELURAHAN[0]
    for path in (f"/area/{other}", f"/area/{other}/rw/001", "/area/32.75", "/area/32.75.01",
                 f"/api/coverage/{other}", f"/api/series/{other}",
                 f"/api/residents/{other}/rw/001", "/api/coverage/32.75",
                 f"/area/{other}?hx=1"):
        r = c.get(path, headers={"hx-request": "true"} if "hx" in path else {})
        assert r.status_code == 404, path
        assert "Bekasijaya" not in r.text  # not even the other kelurahan's name
    # the same answer as for an area that does not exist
    assert c.get("/area/32.75.01.1099").status_code == 404


def test_a_kecamatan_account_sees_its_kelurahan_only(world):
    engine, _ = world
    c = client(engine, "camat")
    page = c.get("/area/32.75.02")
    assert page.status_code == 200 and "Bintara" in page.text and "Margahayu" not in page.text
    assert c.get(f"/area/{KELURAHAN[2]}").status_code == 200
    assert c.get(f"/area/{KELURAHAN[0]}").status_code == 404
    kits = c.get("/api/kits").json()
    assert all(any(k.startswith("32.75.02.") for k in kit["kelurahan"]) for kit in kits)


def test_the_english_switch_keeps_the_figures(world):
    engine, _ = world
    c = client(engine, "admin")
    page = c.get("/area/32.75")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    c.post("/lang", data={"lang": "en", "csrf": token, "next": "/area/32.75"})
    page = c.get("/area/32.75").text
    assert "Recording coverage: Kota Bekasi" in page and "Must record" in page


def test_clerks_download_the_report_of_their_area_viewers_do_not(world):
    engine, _ = world
    auth.add_user(engine, "petugas", "clerk", PASSWORD, kecamatan="32.75.02")
    c = client(engine, "petugas")
    r = c.get("/report/32.75.02.pdf?to=2026-12-01")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert "attachment" in r.headers["content-disposition"]
    r = c.get("/report/32.75.02.csv?to=2026-12-01")
    assert r.content.startswith(b"\xef\xbb\xbf") and b"Bintara" in r.content
    assert c.get("/report/32.75.csv").status_code == 404  # the whole city: not its area
    viewer = client(engine, "camat")
    assert viewer.get("/report/32.75.02.csv").status_code == 404


def test_the_kelurahan_rollup_follows_every_change_to_the_register(world):
    from datetime import UTC, datetime

    from monitoring_world import record_one

    from hq.monitoring import rollup

    engine, _ = world
    with engine.connect() as conn:
        assert rollup.check(conn) == []
    record_one(engine, KELURAHAN[2], "001", datetime(2026, 12, 2, 3, tzinfo=UTC))
    with engine.begin() as conn:
        assert rollup.check(conn) == []
        conn.exec_driver_sql("DELETE FROM coverage_daily WHERE day = '2026-12-02'")
        assert rollup.check(conn) == []
        conn.rollback()


def test_the_invitations_funnel_adds_up_and_shows_on_the_page(world):
    from hq.monitoring import invitations

    engine, _ = world
    period = coverage.Period(None, END)
    kota = invitations.total(engine, coverage.KOTA, period)
    rows = invitations.funnel(engine, coverage.KOTA, "kelurahan", period)
    assert kota.letters == sum(r.letters for r in rows) > 0
    assert kota.letters >= kota.printed >= kota.delivered + sum(
        v for m, v in kota.marks.items() if m != "delivered")
    assert kota.printed == sum(kota.marks.values()) + kota.unmarked
    assert kota.attended == sum(r.attended for r in rows) > 0
    # letters for visits after the period are not counted
    assert invitations.total(engine, coverage.KOTA,
                             coverage.Period(None, date(2026, 11, 3))).letters == 0
    page = client(engine, "admin").get("/area/32.75?to=2026-12-01").text
    assert 'id="funnel"' in page and "Hadir dan terekam" in page


def test_kits_page_shows_state_readiness_and_output_per_day(world):
    engine, _ = world
    page = client(engine, "admin").get("/kits").text
    assert "kit-01" in page and "kit-02" in page
    assert "diam 3 hari" in page  # silent for days
    assert "daring" in page and "#7 abababababab" in page  # the audit head
    data = client(engine, "lurah").get("/api/kits").json()  # Margahayu: its kits only
    assert [k["device_id"] for k in data] == ["kit-01", TRAINING_KIT]
    assert data[0]["readiness"]["paper"] == "low"


def _cells(page: str, table: str, **attrs: str) -> list[str]:
    found = re.search(rf'<table class="grid" id="{table}">(.*?)</table>', page, re.S)
    assert found, table
    key = "".join(f' data-{k}="{v}"' for k, v in attrs.items())
    row = re.search(rf"<tr{key}>(.*?)</tr>", found.group(1), re.S)
    assert row, (table, attrs)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                     row.group(1), re.S)]


def test_each_kits_and_operators_recordings_per_day_from_the_vault(world):
    engine, _ = world
    page = client(engine, "admin").get("/kits").text
    # kit-01: three accepted and three waiting for review today, two accepted and one
    # rejected yesterday (the vault's enrolments, by WIB day); columns: kit, 7 days,
    # total, accepted, waiting for review, rejected, training
    kit = _cells(page, "kits-output", kit="kit-01")
    days, totals = kit[1:8], kit[8:]
    assert days[-2:] == ["3", "6"] and set(days[:-2]) == {"·"}
    assert totals == ["9", "5", "3", "1", "·"]
    ani = _cells(page, "operators-output", kit="kit-01", operator="ani")
    assert ani[:2] == ["ani", "kit-01"] and ani[7:10] == ["2", "3", "5"]
    # the training kit's practice is counted apart, never with the real ones
    practice = _cells(page, "kits-output", kit=TRAINING_KIT)
    assert practice[0].startswith(TRAINING_KIT) and "LATIHAN" in practice[0]
    assert practice[1:9] == ["·"] * 7 + ["0"] and practice[-1] == "2"
    # a Lurah sees only what its kelurahan's residents recorded: not kit-02's
    lurah = client(engine, "lurah")
    own = lurah.get("/kits").text
    assert 'data-kit="kit-02"' not in own and 'data-kit="kit-01"' in own
    data = lurah.get("/api/output").json()
    assert {k["kit"] for k in data["kit"]} == {"kit-01", TRAINING_KIT}
    assert data["jumlah"]["latihan"] == 2 and data["jumlah"]["menunggu_tinjauan"] == 3
    whole = client(engine, "admin").get("/api/output?from=2026-11-01&to=2026-11-30").json()
    assert whole["jumlah"]["diterima"] == 180  # build() recorded 60 % of 300 in November
    assert client(engine, "admin").get("/api/output?from=2026-11-30&to=2026-11-01"
                                       ).status_code == 400


def test_operator_ids_from_packets_show_as_text_on_the_dashboard(world):
    """An operator id from a packet that failed the schema is data: escaped, its hidden
    characters (a right-to-left override, an escape) removed, never markup."""
    engine, _ = world
    page = client(engine, "admin").get("/kits").text
    cell = re.search(r'<td class="operator">([^<]*#set page[^<]*)</td>', page)
    assert cell, "the hostile operator id is not shown as one text cell"
    shown = cell.group(1)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in shown
    assert "\u202e" not in page and "\x1b" not in page
    assert "<script>alert" not in page and HOSTILE_OPERATOR not in page


def test_readiness_of_the_service_points_ahead(world):
    engine, _ = world
    page = client(engine, "admin").get("/readiness").text
    assert "Balai RW 001" in page and "Balai RW 002" in page
    data = client(engine, "admin").get("/api/readiness").json()
    first, second = data
    assert first["device_id"] == "kit-01" and not first["at_risk"]
    assert first["worklist"] == "applied" and first["staff"] == ["Ani", "Budi"]
    assert first["readiness"]["ready"] is True
    assert second["at_risk"] and set(second["risks"]) >= {
        "worklist_none", "kit_silent", "no_check", "no_staff"}
    assert "BERISIKO" in page and "belum ada petugas" in page
    # a Lurah sees only the visits in its kelurahan
    own = client(engine, "lurah").get("/api/readiness").json()
    assert [v["kelurahan"] for v in own] == [KELURAHAN[1]]


def test_the_review_queue_shows_what_waits_within_the_account_area(world):
    """The supervisor's queue on the dashboard: every flagged recording still waiting, its
    flags in words, oldest first; decided ones are gone; a Lurah sees its kelurahan's, a
    Camat its kecamatan's, and only the kota's accounts see packets HQ could not read."""
    engine, expected = world
    admin = client(engine, "admin")
    page = admin.get("/review").text
    assert "5 perekaman menunggu putusan supervisor" in page
    assert _cells(page, "review-table", review="1")[2:3] == ["kit-01"]
    flags = re.findall(r'<li data-flag="([a-z_]+)"><strong>(\d+)</strong> ([^<]+)</li>', page)
    assert {code: int(n) for code, n, _ in flags} == {
        "details_differ": 1, "unknown_nik": 1, "schema": 1, "recorded_twice": 1,
        "unreadable": 1}
    assert ("unknown_nik", "1", "NIK tidak ada di daftar wajib rekam") in flags
    assert "rekaman ganda" not in page  # the rejected one was decided: not in the queue
    # what the kit wrote is shown as text, never obeyed
    assert "<script>alert" not in page and "\u202e" not in page
    data = admin.get("/api/review").json()
    assert data["menunggu"] == expected["open_reviews"]
    assert [i["id"] for i in data["daftar"]] == sorted(i["id"] for i in data["daftar"])
    assert any(i["kit"] == "kit-03" and i["nik"] == "" for i in data["daftar"])  # unreadable

    lurah = client(engine, "lurah").get("/api/review").json()
    assert lurah["menunggu"] == expected["open_reviews_margahayu"]
    assert {i["kode_kelurahan"] for i in lurah["daftar"]} == {KELURAHAN[1]}
    camat = client(engine, "camat").get("/review").text
    assert "1 perekaman menunggu putusan supervisor" in camat
    assert "recorded_twice" in camat and "details_differ" not in camat
    admin.cookies.set("__Host-rekam-lang", "en")
    english = admin.get("/review").text
    assert "5 recordings wait for a supervisor" in english and "NIK not on the register" in english
    assert client(engine, "admin").get("/kits").text.count('href="/review"') >= 2  # nav + counts


def test_the_report_reads_the_same_figures_on_either_database(world):
    """The Wali Kota's report on this world's database (SQLite and PostgreSQL): its rows add
    up to the dashboard's figures, and every format renders from them."""
    import csv
    import io
    import json

    from openpyxl import load_workbook

    from hq.monitoring import report
    from hq.monitoring.evaluation import evaluate
    from hq.monitoring.report_xlsx import to_xlsx

    engine, expected = world
    ev = evaluate(engine, by="kelurahan", end=today())
    assert sum(f.recorded for f in ev.rows) == ev.total.recorded
    assert ev.total.recorded == client(engine, "admin").get(
        "/api/coverage/32.75").json()["area"]["recorded"]
    assert ev.flagged is not None and ev.flagged.waiting == expected["open_reviews"]
    rows = list(csv.DictReader(io.StringIO(report.to_csv(ev)[3:].decode("utf-8"))))
    assert [r["kode"] for r in rows] == sorted(KELURAHAN)
    assert json.loads(report.to_json(ev))["ditandai"]["menunggu_tinjauan"] == 5
    book = load_workbook(io.BytesIO(to_xlsx(ev)))
    assert {"Ringkasan", "Kelurahan", "Kemajuan", "Kit", "Ditandai"} <= set(book.sheetnames)
    lurah = evaluate(engine, by="rw", kelurahan=KELURAHAN[1], end=today())
    assert lurah.flagged is not None and lurah.flagged.waiting == 3


def test_a_period_of_one_day_shows_its_coverage_as_a_point(world):
    """The programme's first report covers one day: its progress is one point, drawn as a
    dot (a line through a single point draws nothing), on the page and in the PDF."""
    import html
    import json

    from hq.monitoring import charts
    from hq.monitoring.evaluation import evaluate

    engine, _ = world
    day = today().isoformat()
    page = client(engine, "admin").get(f"/area/32.75?from={day}&to={day}").text
    found = re.search(r"data-chart=\"progress\" data-config='([^']*)'", page)
    assert found
    config = json.loads(html.unescape(found.group(1)))
    line = config["data"]["datasets"][0]
    assert len(line["data"]) == 1 and line["pointRadius"] > 0
    ev = evaluate(engine, by="kecamatan", start=today(), end=today())
    svg = charts.progress(ev.series, ev.target, weekly=False)
    assert len(ev.series) == 1
    assert re.search(r'<path id="m[0-9a-f]+" d="M 0 3\s+C ', svg)  # a round marker
