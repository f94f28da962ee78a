"""Dashboard logins: passwords, sessions, CSRF, the rate limit and the audit of logins, and
that nothing but the login page and static files is served without a session."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from hq.db import make_engine, web_auth_events, web_sessions
from hq.web import auth
from hq.web.app import Settings, create_app
from hq.web.gate import LOGIN_COOKIE, SESSION_COOKIE

PASSWORD = "rahasia-sekali-123"


@pytest.fixture(autouse=True)
def _fast_argon2(monkeypatch):
    monkeypatch.setenv("REKAM_HQ_ARGON2_MEMORY_KIB", "1024")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'hq.db'}"
    engine = make_engine(url)
    auth.add_user(engine, "admin", "admin", PASSWORD)
    auth.add_user(engine, "lurah", "viewer", PASSWORD, kelurahan="32.75.01.1002")
    yield engine
    engine.dispose()


def client(engine) -> TestClient:
    # https: the session cookie is Secure and __Host- prefixed, as behind the TLS proxy
    return TestClient(create_app(Settings(engine=engine, poll_seconds=0.05)),
                      base_url="https://testserver", follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "form without a CSRF token"
    return found.group(1)


def log_in(c: TestClient, user: str = "admin", password: str = PASSWORD):
    page = c.get("/login")
    return c.post("/login", data={"user_id": user, "password": password,
                                  "csrf": csrf_of(page.text), "next": "/kits"})


def test_nothing_but_login_and_static_without_a_session(engine):
    with client(engine) as c:
        r = c.get("/kits")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/kits"
        for path in ("/api/kits", "/events", "/users"):
            assert c.get(path, headers={"accept": "*/*"}).status_code in (303, 401)
        assert c.get("/api/kits").status_code == 401
        assert c.get("/events").status_code == 401
        assert c.get("/kits", headers={"hx-request": "true"}).status_code == 401
        assert c.post("/logout").status_code == 401
        assert c.get("/login").status_code == 200
        assert c.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200
        r = c.get("/static/%2e%2e/auth.py")
        assert r.status_code in (303, 404) and "argon2" not in r.text.lower()


def test_login_sets_a_secure_http_only_session_and_logout_ends_it(engine):
    with client(engine) as c:
        r = log_in(c)
        assert r.status_code == 303 and r.headers["location"] == "/kits"
        cookie = next(h for h in r.headers.get_list("set-cookie")
                      if h.startswith(SESSION_COOKIE))
        for flag in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
            assert flag in cookie
        page = c.get("/kits")
        assert page.status_code == 200 and "admin" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert c.post("/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
        assert c.get("/kits").status_code == 303  # the session is gone server-side too
    with engine.connect() as conn:
        events = [r[0] for r in conn.execute(select(web_auth_events.c.event)
                                             .order_by(web_auth_events.c.id))]
    assert events[-2:] == ["login_ok", "logout"]


def test_the_database_keeps_only_a_hash_of_the_session_token(engine):
    with client(engine) as c:
        log_in(c)
        token = c.cookies[SESSION_COOKIE]
    with engine.connect() as conn:
        stored = [r[0] for r in conn.execute(select(web_sessions.c.token_sha256))]
    assert stored and token not in stored


def test_every_form_needs_its_csrf_token(engine):
    with client(engine) as c:
        # login without the double-submit token, or with another one
        c.get("/login")
        r = c.post("/login", data={"user_id": "admin", "password": PASSWORD, "csrf": "x"})
        assert r.status_code == 403 and SESSION_COOKIE not in c.cookies
        log_in(c)
        page = c.get("/kits")
        assert c.post("/logout", data={}).status_code == 403
        assert c.post("/logout", data={"csrf": "forged"}).status_code == 403
        assert c.post("/lang", data={"lang": "en"}).status_code == 403
        # the right token from another site is still refused
        r = c.post("/logout", data={"csrf": csrf_of(page.text)},
                   headers={"origin": "https://evil.example"})
        assert r.status_code == 403
        assert c.get("/kits").status_code == 200  # still logged in


def test_wrong_passwords_are_rate_limited_per_account_and_audited(engine):
    with client(engine) as c:
        for _ in range(auth.MAX_FAILURES_PER_ACCOUNT):
            r = log_in(c, password="wrong-password-1")
            assert r.status_code == 401
            assert "salah" in r.text  # Bahasa Indonesia by default
        r = log_in(c)  # the right password, but too soon
        assert r.status_code == 429 and SESSION_COOKIE not in c.cookies
        # another account from another address is not held up
        other = TestClient(c.app, base_url="https://testserver", follow_redirects=False,
                           client=("10.0.0.9", 5000))
        assert log_in(other, "lurah").status_code == 303
    with engine.connect() as conn:
        events = [(r[0], r[1]) for r in conn.execute(
            select(web_auth_events.c.user_id, web_auth_events.c.event)
            .where(web_auth_events.c.user_id == "admin"))]
    assert events.count(("admin", "login_failed")) == auth.MAX_FAILURES_PER_ACCOUNT
    assert ("admin", "login_refused") in events
    # the window passes: the account may log in again
    with engine.begin() as conn:
        conn.execute(update(web_auth_events).values(
            at=datetime.now(UTC) - auth.WINDOW - timedelta(seconds=1)))
    with client(engine) as c:
        assert log_in(c).status_code == 303


def test_unknown_accounts_and_disabled_ones_get_the_same_answer(engine):
    with client(engine) as c:
        a = log_in(c, "nobody")
        auth.set_disabled(engine, "lurah", True)
        b = log_in(c, "lurah")
        assert a.status_code == b.status_code == 401
        assert "salah" in a.text and "salah" in b.text


def test_disabling_an_account_ends_its_sessions(engine):
    with client(engine) as c:
        log_in(c, "lurah")
        assert c.get("/kits").status_code == 200
        auth.set_disabled(engine, "lurah", True)
        assert c.get("/kits").status_code == 303


def test_idle_sessions_expire(engine):
    with client(engine) as c:
        log_in(c)
        with engine.begin() as conn:
            conn.execute(update(web_sessions).values(
                last_seen_at=datetime.now(UTC) - auth.IDLE - timedelta(seconds=1)))
        assert c.get("/kits").status_code == 303


def test_login_never_redirects_off_site(engine):
    with client(engine) as c:
        page = c.get("/login")
        r = c.post("/login", data={"user_id": "admin", "password": PASSWORD,
                                   "csrf": csrf_of(page.text), "next": "//evil.example/x"})
        assert r.headers["location"] == "/"


def test_language_switch_to_english_and_back(engine):
    with client(engine) as c:
        page = c.get("/login")
        assert "Kata sandi" in page.text
        c.post("/lang", data={"lang": "en", "csrf": csrf_of(page.text), "next": "/login"})
        assert "Password" in c.get("/login").text
        log_in(c)
        page = c.get("/kits")
        assert "Recording kits" in page.text
        c.post("/lang", data={"lang": "id", "csrf": csrf_of(page.text), "next": "/kits"})
        assert "Kit perekaman" in c.get("/kits").text


def test_users_page_is_for_admins_only(engine):
    with client(engine) as c:
        log_in(c, "lurah")
        assert c.get("/users").status_code == 404
    with client(engine) as c:
        log_in(c)
        page = c.get("/users")
        assert page.status_code == 200 and "lurah" in page.text and "login_ok" in page.text


def test_passwords_are_argon2id_and_checked():
    phc = auth.hash_password("a long passphrase")
    assert phc.startswith("$argon2id$")
    assert auth.password_matches("a long passphrase", phc)
    assert not auth.password_matches("a long passphrasE", phc)
    assert not auth.password_matches("x", "not a hash")


def test_scope_containment():
    kel = auth.Scope("kelurahan", "32.75.01.1002")
    assert kel.allows("32.75.01.1002") and not kel.allows("32.75.01.1001")
    assert not kel.allows("32.75.01") and kel.covers("32.75.01") and kel.covers("32.75")
    kec = auth.Scope("kecamatan", "32.75.01")
    assert kec.allows("32.75.01.1002") and not kec.allows("32.75.010")
    assert not kec.allows("32.75.02.1001")


def test_login_cookie_is_double_submit(engine):
    with client(engine) as c:
        page = c.get("/login")
        assert LOGIN_COOKIE in c.cookies and c.cookies[LOGIN_COOKIE] == csrf_of(page.text)


def test_user_command_line(tmp_path, monkeypatch, capsys):
    from hq.cli import main

    monkeypatch.setenv("REKAM_HQ_HOME", str(tmp_path / "hq"))
    assert main(["user", "add", "camat", "--role", "viewer"]) == 1  # not initialised
    assert "rekam-hq init" in capsys.readouterr().err
    assert main(["init"]) == 0
    monkeypatch.setenv("REKAM_HQ_NEW_PASSWORD", PASSWORD)
    assert main(["user", "add", "Camat", "--role", "viewer", "--kecamatan", "Bekasi Timur"]) == 0
    assert "kecamatan 32.75.01" in capsys.readouterr().out
    assert main(["user", "add", "camat", "--role", "viewer"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["user", "add", "x", "--role", "viewer", "--kelurahan", "Atlantis"]) == 1
    assert "no kelurahan named" in capsys.readouterr().err
    monkeypatch.setenv("REKAM_HQ_NEW_PASSWORD", "short")
    assert main(["user", "add", "y", "--role", "viewer"]) == 1
    assert "at least" in capsys.readouterr().err
    assert main(["user", "disable", "camat"]) == 0
    assert main(["user", "list", "--json"]) == 0
    assert '"disabled": true' in capsys.readouterr().out
