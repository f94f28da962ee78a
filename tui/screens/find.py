"""Find a resident: scan the invitation's QR, or type a NIK, an invitation code or a name
and watch the results narrow as you type. Before anything is typed, the list holds the
invited residents expected here today who are not yet recorded. Enter takes the
highlighted resident; the arrows move through the results without leaving the search
field."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from edge.errors import InvitationRefused, RekamError
from edge.invitation_token import MAX_TEXT, looks_like_token
from edge.roster import SearchHit
from hal.errors import HalError
from tui import events as flow
from tui.messages import CodeScanned, Failed, SearchDone
from tui.screens.base import RekamScreen, Words, nothing
from tui.text import esc, plain
from tui.widgets.bottom import Bottom
from tui.widgets.top_bar import TopBar

RESULTS = 30
SCAN_EVERY = 0.3


class FindScreen(RekamScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        # Not priority bindings: a QR scanner that types like a keyboard sends the code and
        # Enter in one burst; the search field must see the code before Enter picks.
        Binding("enter", "pick", "pick", id="pick"),
        Binding("down", "move(1)", "down", show=False),
        Binding("up", "move(-1)", "up", show=False),
        Binding("f3", "toggle_rw", "rw", id="rw"),
        Binding("escape", "back", "back", id="back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[SearchHit] = []
        self.hits_query = ""
        self.query_text = ""
        self.message: Words = nothing
        self.scan_problem: Words = nothing
        point = self.services.service_point()
        self.area_rw = point.rw if point and point.rw else None
        self.only_rw = False  # all RWs: a resident of another RW is still served
        # the empty search's list: (its RWs, how many in all) once loaded
        self.expected_scope: tuple[tuple[str, ...], int] | None = None
        self._scanning = False
        self._pick_when_found = False
        self._keep_message = False

    def compose(self) -> ComposeResult:
        yield TopBar("find.title")
        with Vertical(id="find-body"):
            yield Static(id="intro", classes="dim")
            yield Input(id="query", max_length=MAX_TEXT)  # an invitation QR's text fits
            yield Static(id="filter", classes="dim")
            yield DataTable(id="results", cursor_type="row", zebra_stripes=True)
            yield Static(id="message", classes="message")
        yield Bottom()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.can_focus = False
        self.set_focus(self.query_one("#query", Input))
        self.set_interval(SCAN_EVERY, self._scan)
        self._search("", None)  # an empty search lists the invited residents expected here

    def on_screen_resume(self) -> None:
        self.set_focus(self.query_one("#query", Input))

    def refresh_text(self) -> None:
        self.query_one("#intro", Static).update(
            self.t("find.intro") + ("\n" + self.scan_problem() if self.scan_problem()
                                    else "\n" + self.t("find.scanning")))
        self.query_one("#query", Input).placeholder = self.t("find.query")
        self.query_one("#filter", Static).update(self._scope())
        self._fill_table()

    def _scope(self) -> str:
        """What the list holds, honestly: with nothing typed, the invited residents of the
        service point's RW(s) still to record (and how many); else where the search looks."""
        if not self.query_text.strip():
            if self.expected_scope is None:
                return ""
            rws, total = self.expected_scope
            where = (self.t("home.expected_rw", rw=esc(", ".join(rws))) if rws
                     else self.t("home.expected_all"))
            return self.t("find.scope_expected", where=where, n=total)
        return self.t("find.rw_filter", rw=esc(self.area_rw)) if self.only_rw \
            else self.t("find.all_rw")

    def key_label(self, binding_id: str) -> str | None:
        if binding_id == "rw" and self.area_rw:
            return self.t("find.key_all_rw") if self.only_rw else \
                self.t("find.rw_filter", rw=self.area_rw)
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "rw":
            return self.area_rw is not None
        if action == "toggle_rw":
            return self.area_rw is not None
        if action == "pick":
            return True if self.hits else None
        return True

    # --- searching ---------------------------------------------------------------------------

    @on(Input.Submitted, "#query")
    def _submitted(self, event: Input.Submitted) -> None:
        if looks_like_token(event.value):  # a scanner typed a whole invitation QR, then Enter
            self._search(event.value, None)
        elif self.hits and self.hits_query == event.value:
            self.action_pick()
        else:  # the answer to this query is still on its way: pick when it comes
            self._pick_when_found = True

    @on(Input.Changed, "#query")
    def _changed(self, event: Input.Changed) -> None:
        self.query_text = event.value
        if looks_like_token(event.value):
            # An invitation QR arriving keystroke by keystroke: checked once, on its Enter
            # (each half-typed prefix would be refused, and audited, as a damaged code).
            self.hits, self.message = [], self.words("find.reading_invitation")
            self._fill_table()
            return
        self._search(event.value, self.area_rw if self.only_rw else None)

    @work(thread=True, exclusive=True, exit_on_error=False, group="search")
    def _search(self, query: str, rw: str | None) -> None:
        try:
            if query.strip():
                hits = self.services.search(query, rw=rw, limit=RESULTS)
            else:
                expected = self.services.expected(limit=RESULTS)
                self.expected_scope = (expected.rws, expected.total)
                hits = [SearchHit(r, "expected", 0.0, False) for r in expected.residents]
        except RekamError as exc:
            self.post_message(Failed("search", exc))
            return
        self.post_message(SearchDone(query, hits))

    def on_search_done(self, message: SearchDone) -> None:
        message.stop()
        if message.query != self.query_text:
            return  # an older query's answer
        self.hits = message.hits
        self.hits_query = message.query
        if len(self.hits) == 1 and self.hits[0].matched == "token":
            self._pick_when_found = False
            self._open(self.hits[0])  # a verified invitation QR: straight to its resident
            return
        digits = "".join(ch for ch in message.query if ch.isdigit())
        if not message.query.strip():
            if self._keep_message:  # the refusal of a scanned invitation stays in view
                self._keep_message = False
            else:
                more = (self.expected_scope[1] if self.expected_scope else 0) - len(self.hits)
                listed = bool(self.hits)

                def expected() -> str:
                    text = self.t("find.expected") if listed else ""
                    return f"{self.t('find.more', n=more)} {text}" if more > 0 else text

                self.message = expected
        elif not self.hits and digits == message.query.strip() and len(digits) != 16:
            self.message = self.words("find.partial_nik", n=len(digits))
        elif not self.hits and self.only_rw:
            self.message = self.words("find.no_results_rw", rw=esc(self.area_rw))
        elif not self.hits:
            self.message = self.words("find.no_results")
        else:
            self.message = self.words("find.results", n=len(self.hits))
        self.query_one("#filter", Static).update(self._scope())
        self._fill_table()
        self.refresh_bindings()
        if self._pick_when_found:
            self._pick_when_found = False
            self.action_pick()

    def on_failed(self, message: Failed) -> None:
        message.stop()
        self._pick_when_found = False
        if message.what == "scan":
            error = message.error
            self.scan_problem = lambda: self.t("find.scan_unavailable",
                                               reason=esc(self.cat.error(error)[1]))
            self.refresh_text()
            return
        self.message = self.error_words(message.error)
        self.query_one("#message", Static).update(self.message())
        if isinstance(message.error, InvitationRefused) and looks_like_token(self.query_text):
            # A refused letter: empty the field so the next scan is not appended to it,
            # and keep the reason on screen.
            self._keep_message = True
            self.query_one("#query", Input).value = ""

    def _fill_table(self) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for key, width in (("find.col.name", None), ("find.col.nik", 16),
                           ("find.col.born", 10), ("find.col.rtrw", 7), ("find.col.state", 6)):
            table.add_column(self.t(key), width=width)
        for hit in self.hits:
            r = hit.resident
            state = self.t("find.enrolled") if hit.enrolled else self.t("find.not_enrolled")
            table.add_row(plain(r.name), plain(r.nik), f"{r.birth_date:%d-%m-%Y}",
                          plain(f"{r.rt}/{r.rw}"),
                          plain(state, "green") if hit.enrolled else state, key=r.nik)
        self.query_one("#message", Static).update(self.message())

    def action_move(self, delta: int) -> None:
        table = self.query_one(DataTable)
        if self.hits:
            row = max(0, min(len(self.hits) - 1, table.cursor_row + delta))
            table.move_cursor(row=row)

    def action_toggle_rw(self) -> None:
        if self.area_rw is None:
            return
        self.only_rw = not self.only_rw
        self.refresh_text()
        self.refresh_bindings()
        self._search(self.query_text, self.area_rw if self.only_rw else None)

    # --- the QR reader -------------------------------------------------------------------

    def _scan(self) -> None:
        if not self._scanning and not self.scan_problem() and self.is_current:
            self._scanning = True
            self._read_code()

    @work(thread=True, exclusive=True, exit_on_error=False, group="scan")
    def _read_code(self) -> None:
        try:
            code = self.services.read_code(timeout=0.0)
            hit = self.services.resident_for_code(code) if code else None
        except InvitationRefused as exc:  # the scanner works; the letter is refused
            self.post_message(Failed("invitation", exc))
            return
        except (HalError, RekamError) as exc:
            self.post_message(Failed("scan", exc))
            return
        finally:
            self._scanning = False
        # The poll runs every SCAN_EVERY seconds: it must not touch _pick_when_found (a
        # keyboard-wedge scanner's Enter, waiting for its search, would be forgotten).
        if code:
            self.post_message(CodeScanned(code, hit))

    def on_code_scanned(self, message: CodeScanned) -> None:
        message.stop()
        self._pick_when_found = False  # the scanned code decides, not a typed Enter
        if message.hit is None:
            self.message = self.words("find.scanned_unknown", code=esc(message.code))
            self.query_one("#message", Static).update(self.message())
            return
        self._open(message.hit)

    # --- picking ---------------------------------------------------------------------------

    def action_pick(self) -> None:
        if not self.hits:
            return
        table = self.query_one(DataTable)
        self._open(self.hits[max(0, min(table.cursor_row, len(self.hits) - 1))])

    def _open(self, hit: SearchHit) -> None:
        if hit.enrolled:
            self.message = self.words("find.already", name=esc(hit.resident.name))
            self.query_one("#message", Static).update(self.message())
            return
        self.happened(flow.ResidentChosen(hit.resident))

    def action_back(self) -> None:
        self.dismiss()
