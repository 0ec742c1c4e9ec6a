"""A student at the keyboard: the actions a journey test takes in the app, in Playwright (headless Debian
Chromium, 1280×720 like a classroom projector), each waiting for Streamlit to finish its rerun.

    s = Student(page, base_url)
    s.open("build")
    s.edit_cell("Layers", row=0, column="settings", text="out_channels=8, kernel_size=3")
    assert s.cell("Layers", 0, "settings") == "out_channels=8, kernel_size=3"
    s.sees("338,186")
    s.shot("j1-build")                       # out/screenshots/j1-build.png, the visible 1280×720

Streamlit's tables (st.dataframe / st.data_editor) are drawn on a canvas; their cells are readable from the
accessible table the grid keeps beside it (``td#glide-cell-COL-ROW``, COL 1 being the index column), and a
cell is reached by clicking the grid's first cell and moving there with the arrow keys, as a student would.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import Locator, Page, expect

from tests.e2e_helpers import SCREENSHOT_DIR, assert_no_exception, runs_started, wait_for_app, wait_for_rerun

GRID = '[data-testid="stDataFrame"]'
HEADER_H = 35  # px: Streamlit's grid header and row heights
ROW_H = 35


class Student:
    def __init__(self, page: Page, base_url: str):
        self.page = page
        self.base_url = base_url

    # ------------------------------------------------------------------ pages
    def open(self, path: str = "") -> None:
        self.page.goto(f"{self.base_url}/{path.lstrip('/')}", wait_until="domcontentloaded")
        self.wait()

    def wait(self) -> None:
        wait_for_app(self.page)
        assert_no_exception(self.page)

    def wait_rerun(self, before: int, expected: bool = True) -> None:
        """Waits for the rerun an action sends a moment later (a grid edit), then as wait()."""
        if expected:
            wait_for_rerun(self.page, before)
        self.wait()

    def reload(self) -> None:
        self.page.reload(wait_until="domcontentloaded")
        self.wait()

    def sidebar(self, title: str) -> None:
        """Go to another page through the sidebar navigation."""
        self.page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
        self.wait()

    def new_tab(self, url: str | None = None) -> Student:
        """The same URL (or ``url``) in a second tab of the same browser: a separate Streamlit session."""
        page = self.page.context.new_page()
        other = Student(page, self.base_url)
        page.goto(url or self.page.url, wait_until="domcontentloaded")
        other.wait()
        return other

    # ------------------------------------------------------------------ reading the screen
    def sees(self, text: str | re.Pattern, timeout_ms: int = 30_000) -> Locator:
        """Waits until ``text`` is visible somewhere on the page and returns it."""
        found = self.page.get_by_text(text).first
        expect(found).to_be_visible(timeout=timeout_ms)
        return found

    def does_not_see(self, text: str | re.Pattern) -> None:
        """No text on the page is ``text`` (a whole text, for a string), nor any table cell."""
        expect(self.page.get_by_text(text, exact=True) if isinstance(text, str)
               else self.page.get_by_text(text)).to_have_count(0)

    def errors(self) -> list[str]:
        """The texts of the red error boxes on the page."""
        return [e.inner_text() for e in self.page.locator('[data-testid="stAlertContentError"]').all()]

    def value(self, label: str) -> str:
        """What an input box (text or number) shows."""
        return self.page.get_by_label(label, exact=True).input_value()

    def selected(self, label: str) -> str:
        """The option a selectbox shows."""
        box = self.page.locator('[data-testid="stSelectbox"]').filter(
            has=self.page.get_by_text(label, exact=True)).first
        combo = box.get_by_role("combobox")
        box.locator('[data-baseweb="select"], [role="combobox"]').first.wait_for()  # drawn after a reload
        if not box.locator('[data-baseweb="select"]').count() and combo.count():  # Streamlit ≥ 1.5x
            return combo.first.input_value().strip()
        return box.locator('[data-baseweb="select"]').inner_text().strip()

    def query(self, name: str) -> str | None:
        """A parameter of the address bar (e.g. the watched run, ``?run=``)."""
        from urllib.parse import parse_qs, urlparse

        return parse_qs(urlparse(self.page.url).query).get(name, [None])[0]

    def progress(self) -> tuple[int, int, int, int] | None:
        """(epoch, epochs, step, steps) from the Train page's progress bar, None before the run reports steps."""
        bars = self.page.locator('[data-testid="stProgress"]')
        if bars.count() == 0:
            return None
        match = re.search(r"Epoch (\d+) of (\d+) · step (\d+) of (\d+)", bars.first.inner_text())
        return tuple(int(g) for g in match.groups()) if match else None

    def wait_for_progress(self, condition, timeout_s: float = 90.0) -> tuple[int, int, int, int]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            now = self.progress()
            if now is not None and condition(now):
                return now
            self.page.wait_for_timeout(200)
        raise AssertionError(f"the progress never reached the expected state (last seen: {self.progress()})")

    def error_under(self, label: str) -> str:
        """The text of the error box drawn right after the widget ``label`` (its own message), or ""."""
        widget = self.page.get_by_label(label, exact=True)
        block = self.page.locator('[data-testid="stElementContainer"]').filter(has=widget).last
        after = block.locator('xpath=following-sibling::*[1]').locator('[data-testid="stAlertContentError"]')
        return after.first.inner_text() if after.count() else ""

    def is_enabled(self, name: str | re.Pattern) -> bool:
        return self.page.get_by_role("button", name=name).first.is_enabled()

    def in_view(self, locator: Locator) -> bool:
        """Whether the element is (at least partly) inside the visible 1280×720 window."""
        box = locator.bounding_box()
        view = self.page.viewport_size
        return box is not None and box["y"] < view["height"] and box["y"] + box["height"] > 0 and box["x"] < view["width"]

    # ------------------------------------------------------------------ widgets
    def upload(self, label: str, path) -> None:
        """Puts a file into the file uploader ``label``."""
        box = self.page.locator('[data-testid="stFileUploader"]').filter(
            has=self.page.get_by_text(label, exact=True)).first
        box.locator('input[type="file"]').set_input_files(str(path))
        self.wait()

    def type_into(self, label: str, text: str) -> None:
        """Types into a text or number box and presses Enter (which submits it)."""
        box = self.page.get_by_label(label, exact=True)
        changed = box.input_value() != text
        box.click()
        before = runs_started(self.page)
        box.fill(text)
        box.press("Enter")
        self.wait_rerun(before, changed)

    def choose(self, label: str, option: str) -> None:
        """Picks ``option`` (its visible text, or a part of it) in the selectbox ``label``."""
        box = self.page.locator('[data-testid="stSelectbox"]').filter(
            has=self.page.get_by_text(label, exact=True)).first
        box.wait_for()
        combo = box.get_by_role("combobox")
        if not box.locator('[data-baseweb="select"]').count() and combo.count():
            # Streamlit 1.6x draws a combo box, which takes no clicks on its options: type, then pick it with
            # the keys (fill() does not filter the list); the keys can come too early for it, so check and retry
            for _attempt in range(3):
                combo.first.click()
                combo.first.press("Control+a")
                combo.first.press_sequentially(option, delay=20)
                first = self.page.locator('[role="option"]').first
                expect(first).to_contain_text(option)  # the list is filtered: the option is the first one
                self.page.wait_for_timeout(300)
                self.page.keyboard.press("ArrowDown")
                expect(first).to_have_attribute("data-focused", "true")
                self.page.wait_for_timeout(200)
                self.page.keyboard.press("Enter")
                self.wait()
                self.page.wait_for_timeout(300)
                self.wait()
                if option in self.selected(label):
                    return
            raise AssertionError(f"could not choose {option!r} in {label!r} (it shows {self.selected(label)!r})")
        else:
            box.locator('[data-baseweb="select"]').click()
            self.page.locator('[role="option"]').filter(has_text=option).first.click()
        self.wait()

    def pick_radio(self, label: str, option: str) -> None:
        """Clicks the radio button of ``label`` whose text starts with ``option``."""
        group = self.page.locator('[data-testid="stRadio"]').filter(has=self.page.get_by_text(label, exact=True)).first
        choice = group.get_by_role("radio", name=re.compile(f"^{re.escape(option)}"))
        changed = not choice.first.is_checked()
        before = runs_started(self.page)
        group.locator("label").filter(has_text=re.compile(f"^{re.escape(option)}")).first.click()
        self.wait_rerun(before, changed)

    def slide(self, label: str, *keys: str) -> None:
        """Moves the slider ``label`` with the keyboard, as a student can (ArrowLeft, Home, End, ...)."""
        thumb = self._thumb(label)
        thumb.focus()
        before = runs_started(self.page)
        for key in keys:
            thumb.press(key)
        self.wait_rerun(before)

    def slider_value(self, label: str) -> str:
        """What the slider ``label`` shows on its thumb."""
        return self._thumb(label).get_attribute("aria-valuetext") or ""

    def _thumb(self, label: str) -> Locator:
        box = self.page.locator('[data-testid="stSlider"]').filter(
            has=self.page.get_by_text(label, exact=True)).first
        return box.get_by_role("slider").first

    def click(self, name: str | re.Pattern) -> None:
        """Clicks the visible button whose text is ``name`` (exactly, for a string)."""
        buttons = self.page.get_by_role("button", name=name, exact=isinstance(name, str))
        buttons.filter(visible=True).first.click()
        self.wait()

    def tab(self, name: str) -> None:
        self.page.get_by_role("tab", name=name).first.click()
        self.wait()

    # ------------------------------------------------------------------ tables
    def grid(self, which: int | str = 0) -> Locator:
        """The n-th table on the page, or the table of the widget whose key starts with ``which``
        (Streamlit gives a keyed element the CSS class ``st-key-KEY``)."""
        if isinstance(which, int):
            return self.page.locator(GRID).nth(which)
        return self.page.locator(f'[class*="st-key-{which}"] {GRID}').first

    def columns(self, which: int | str = 0) -> list[str]:
        heads = self.grid(which).locator("thead th")
        heads.first.wait_for(state="attached")
        return [heads.nth(i).inner_text().strip() for i in range(heads.count())]

    def _col(self, which: int | str, column: str | int) -> int:
        if isinstance(column, int):
            return column
        names = self.columns(which)
        assert column in names, f"no column {column!r} in {names}"
        return names.index(column) + self._first_col(which)

    def _first_col(self, which: int | str) -> int:
        """The COL of the grid's first column: 1 after the index column, 0 in a table with hide_index=True."""
        first = self.grid(which).locator("tbody tr").first.locator("td").first
        found = re.fullmatch(r"glide-cell-(\d+)-\d+", first.get_attribute("id") or "") if first.count() else None
        return int(found.group(1)) if found else 1

    def cell(self, which: int | str, row: int, column: str | int) -> str:
        """The text of one cell (row 0 = the first data row)."""
        td = self.grid(which).locator(f"td#glide-cell-{self._col(which, column)}-{row}")
        return td.inner_text().strip() if td.count() else ""

    def rows(self, which: int | str = 0) -> int:
        body = self.grid(which).locator("tbody tr")
        body.first.wait_for(state="attached")
        return body.count()

    def column_values(self, which: int | str, column: str) -> list[str]:
        return [self.cell(which, r, column) for r in range(self.rows(which))]

    def _cursor(self, grid: Locator) -> str | None:
        return grid.evaluate("e => { const c = e.querySelector('td[aria-selected=true]'); return c ? c.id : null; }")

    def _wait_cursor(self, grid: Locator, target: str, timeout_s: float = 3.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._cursor(grid) == target:
                return True
            self.page.wait_for_timeout(50)
        return False

    def select_cell(self, which: int | str, row: int, column: str | int) -> None:
        """Puts the grid's cursor on a cell: a click on the first row's index cell, then arrow keys."""
        grid = self.grid(which)
        col = self._col(which, column)
        start = self._first_col(which)
        for _attempt in range(3):
            grid.evaluate("e => e.scrollIntoView({block: 'center'})")  # not under the app's sticky header
            self.page.wait_for_timeout(100)
            box = grid.locator("canvas").first.bounding_box()
            self.page.mouse.click(box["x"] + (60 if start else 20), box["y"] + HEADER_H + ROW_H // 2)
            if not self._wait_cursor(grid, f"glide-cell-{start}-0"):
                continue
            for c in range(start, col):
                self.page.keyboard.press("ArrowRight")
                self._wait_cursor(grid, f"glide-cell-{c + 1}-0", 1.0)
            for r in range(row):
                self.page.keyboard.press("ArrowDown")
                self._wait_cursor(grid, f"glide-cell-{col}-{r + 1}", 1.0)
            if self._wait_cursor(grid, f"glide-cell-{col}-{row}"):
                return
        raise AssertionError(f"could not move the cursor to row {row}, column {column} (at {self._cursor(grid)})")

    def edit_cell(self, which: int | str, row: int, column: str | int, text: str) -> None:
        """Replaces a cell's text as a student does: select it, Enter, select all, type, Enter."""
        unchanged = row < self.rows(which) and self.cell(which, row, column) == text
        self.select_cell(which, row, column)
        before = runs_started(self.page)
        self.page.keyboard.press("Enter")
        editor = self.page.locator("#portal textarea").first
        expect(editor).to_be_visible(timeout=5000)
        expect(editor).to_be_focused(timeout=5000)
        for _attempt in range(5):  # the grid moves the caret to the end just after opening, which can undo
            editor.fill(text)      # fill's select-all: then Delete clears nothing. Check what is typed first.
            if editor.input_value() == text:
                break
            self.page.wait_for_timeout(100)
        expect(editor).to_have_value(text)
        editor.press("Enter")
        expect(editor).to_have_count(0)
        self.wait_rerun(before, not unchanged)  # an unchanged cell reruns nothing

    def choose_in_cell(self, which: int | str, row: int, column: str | int, option: str) -> None:
        """Picks an option in a selectbox cell (e.g. a layer's type)."""
        self.select_cell(which, row, column)
        before = runs_started(self.page)
        self.page.keyboard.press("Enter")
        self.page.wait_for_timeout(300)
        self.page.keyboard.type(option)
        self.page.locator('#portal [role="option"]').filter(has_text=re.compile(f"^{re.escape(option)}$")).first.click()
        self.wait_rerun(before)

    def add_row(self, which: int | str = 0) -> None:
        """The grid's "+ Add row" toolbar button (it appears when the pointer is over the grid)."""
        grid = self.grid(which)
        grid.hover()
        grid.get_by_role("button", name="Add row").dispatch_event("click")  # the grid overlaps its toolbar
        self.wait()  # an empty new row reaches the script only with its first edit: no rerun to wait for

    # ------------------------------------------------------------------ screenshots
    def shot(self, name: str) -> None:
        """What the student sees now (the 1280×720 window) as out/screenshots/NAME.png."""
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"))
