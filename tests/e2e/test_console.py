"""The console page in a real headless Chromium, at a desktop width and at a phone's (390 px), on the local cloud:
running work pinned at the top with its progress; cancel and delete asked first; a cancelled backup neutral; Restore
disabled while a restore runs on the instance; the restore's summary; its undo, asked first with until when and what
changed since, and the undo's own record (origin undo); a failed disk's cause inline on its one line, and red only on
that disk; no horizontal scroll and touch-sized controls at 390 px. Each width leaves screenshots in
build/test-artifacts/ (console-desktop.png, console-phone.png and their -running.png and -undo.png)."""
from __future__ import annotations

import base64
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.support.product import ADMIN

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="Debian's chromium and chromium-driver are "
                                                                   "needed (scripts/setup-browser)")
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
RED = "rgb(207, 34, 46)"
RECORDS = """return [...document.querySelectorAll(arguments[0] + ' .record')].map(r => ({
  id: r.dataset.id, status: r.dataset.status, text: r.innerText}))"""
# The resources of a record drawn in red, and any other red element of it (outside its badge, cause and items).
REDS = """const rec = document.querySelector(arguments[0]), red = e => {
  const s = getComputedStyle(e); return s.color === arguments[1] || s.borderLeftColor === arguments[1]
    || s.backgroundColor === arguments[1]; };
return {items: [...rec.querySelectorAll('.item')].filter(red).map(i => i.dataset.resource),
        badge: red(rec.querySelector('.badge')), cause: [...rec.querySelectorAll('.cause')].some(red),
        other: [...rec.querySelectorAll('*')].filter(e => red(e) && !e.closest('.badge, .cause, .item'))
                                            .map(e => e.outerHTML.slice(0, 80))};"""
SMALL_CONTROLS = """return [...document.querySelectorAll('button, input')].filter(e => e.offsetParent !== null)
  .map(e => [e.id || e.className || e.textContent, e.getBoundingClientRect()])
  .filter(([_, r]) => r.height < 44 || r.width < 44).map(([name, r]) => name + ' ' + r.width + 'x' + r.height);"""


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--no-proxy-server"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


class Console:
    """The page at one width, read through the DOM (re-rendered while work runs: every read is retried)."""

    def __init__(self, driver, endpoint: str, name: str) -> None:
        self.driver, self.name = driver, name
        self.width, height = WIDTHS[name]
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": self.width, "height": height, "deviceScaleFactor": 1, "mobile": self.width < 600})
        driver.get(endpoint + "/api/console")

    def body(self) -> str:
        return self.driver.execute_script("return document.body.innerText")

    def wait(self, what: str, condition: Callable[[], Any], timeout: float = 60) -> Any:
        from selenium.common.exceptions import WebDriverException
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                found = condition()
            except WebDriverException:           # an element replaced by a refresh under the read: read again
                found = None
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{what}: not within {timeout} s; page:\n{self.body()[:3000]}")

    def click(self, css: str) -> None:
        from selenium.webdriver.common.by import By

        def clicked() -> bool:
            element = self.driver.find_element(By.CSS_SELECTOR, css)
            if not (element.is_displayed() and element.is_enabled()):
                return False
            element.click()
            return True
        self.wait(f"click {css}", clicked)

    def type(self, css: str, text: str) -> None:
        from selenium.webdriver.common.by import By
        self.driver.find_element(By.CSS_SELECTOR, css).send_keys(text)

    def records(self, where: str) -> list[dict]:
        return self.driver.execute_script(RECORDS, where)

    def record(self, where: str, test: Callable[[dict], bool], what: str, timeout: float = 60) -> dict:
        return self.wait(what, lambda: next((r for r in self.records(where) if test(r)), None), timeout)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def dialog(self) -> str:
        """The confirmation dialog's text once open."""
        return self.wait("the confirmation dialog", lambda: self.js(
            "const d = document.getElementById('confirm'); return d.open && d.innerText"), timeout=10)

    def closed(self) -> None:
        self.wait("the dialog closed", lambda: self.js("return !document.getElementById('confirm').open"), 10)

    def fits(self) -> None:
        """At a phone's width: no horizontal scroll, and every control a finger can hit (44 px, WCAG 2.5.5)."""
        if self.width > 600:
            return
        assert self.js("return window.innerWidth") == self.width
        assert self.js("return document.documentElement.scrollWidth") <= self.width
        assert self.js(SMALL_CONTROLS) == []

    def screenshot(self, suffix: str = "") -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path = ARTIFACTS / f"console-{self.name}{suffix}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_console_at_a_desktop_and_a_phone_width(product, api, control, si, pg_db, browser, width):
    seeded = control.seed(ServiceInstanceId=si, Disks=2, DiskSize="8MiB", Postgres=pg_db[1])
    disks, rds = [d["DiskId"] for d in seeded["Disks"]], seeded["DBInstances"][0]["DBInstanceId"]
    page = Console(browser, product.endpoint, width)
    page.type("#token", ADMIN)
    page.type("#instance", si + "-unknown")                # an instance nothing knows: said so, not an empty list
    page.click("#load")
    page.wait("the unknown instance refused", lambda: "NotFound" in page.js(
        "return document.getElementById('error').innerText"))
    assert "No backups of" not in page.body() and "Not loaded" in page.body()
    page.js("document.getElementById('instance').value = ''")
    page.type("#instance", si)
    page.click("#load")
    page.wait("the empty states", lambda: f"No backups of {si} yet" in page.body() and "No restores of" in page.body())
    page.fits()

    # A running backup is pinned at the top with its progress; cancel asks first; the cancelled record is neutral.
    control.faults(stuck=disks)
    page.click("#create")
    stuck = page.record("#running", lambda r: r["status"] == "Creating", "a running backup at the top")
    assert "%" in stuck["text"] and page.js("return document.querySelectorAll('#running [role=progressbar]').length")
    page.wait("its disks running", lambda: all(i["Status"] == "Running" for i in api.call(
        "GET", f"/backups/{stuck['id']}")[1]["Resources"] if i["ResourceType"] == "disk"))
    cancel = f'#running .record[data-id="{stuck["id"]}"] button.cancel'
    page.click(cancel)
    assert "Cancel backup" in page.dialog()
    page.click("#confirm-no")
    page.closed()
    assert api.call("GET", f"/backups/{stuck['id']}")[1]["Status"] == "Creating"       # nothing was done
    page.wait("its progress, live", lambda: "disk" in (text := page.js(
        f"return document.querySelector('#running .record[data-id=\"{stuck['id']}\"]').innerText"))
        and "Pending" not in text and "Running" in text)
    page.fits()
    page.screenshot("-running")
    page.click(cancel)
    page.dialog()
    page.click("#confirm-yes")
    cancelled = page.record("#backups", lambda r: r["id"] == stuck["id"] and r["status"] == "Cancelled",
                            "the cancelled backup")
    control.clear_faults()
    assert "Cancelled by the caller" in cancelled["text"]
    page.click(f'#backups .record[data-id="{stuck["id"]}"] button.toggle')        # its resources too: Cancelled
    page.wait("its resources", lambda: page.js(
        f"return document.querySelectorAll('#backups .record[data-id=\"{stuck['id']}\"] .item').length") == 3)
    reds = page.js(REDS, f'#backups .record[data-id="{stuck["id"]}"]', RED)
    assert reds == {"items": [], "badge": False, "cause": False, "other": []}, reds

    # A good backup; while a restore of it runs, Restore is disabled; then the restore's summary.
    page.click("#create")
    good = page.record("#backups", lambda r: r["status"] == "Created", "a Created backup", timeout=90)
    assert "restorable" in good["text"]
    page.wait("the latest restorable backup named first", lambda: page.js(
        "return document.getElementById('overview').innerText").startswith(f"Latest restorable backup: {good['id']}"))
    control.faults(stuck=[rds])                 # the restore's safety backup waits on RDS: the restore keeps running
    page.click(f'#backups .record[data-id="{good["id"]}"] button.delete')
    assert f"it is the newest backup of {si} that can" in page.dialog()      # what a delete would lose, said first
    page.click("#confirm-no")
    page.closed()
    page.click(f'#backups .record[data-id="{good["id"]}"] button.restore')
    asked = page.dialog()                       # the restore's preview, said first
    assert "will be stopped" in asked and "expected downtime" in asked and "kept aside" in asked, asked
    page.click("#confirm-yes")
    page.record("#running", lambda r: r["status"] == "Restoring", "the running restore at the top")
    page.wait("Restore disabled while it runs", lambda: page.js(
        "const b = [...document.querySelectorAll('#backups button.restore')];"
        "return b.length > 0 && b.every(x => x.disabled && x.title.includes('a restore is running'))"))
    control.clear_faults()
    restored = page.record("#restores", lambda r: r["status"] == "Restored", "the restore done", timeout=120)
    assert "verified" in restored["text"] and "safety backup" in restored["text"]
    page.click(f'#restores .record[data-id="{restored["id"]}"] button.toggle')
    summary = page.wait("the restore's summary", lambda: page.js(
        f"const s = document.querySelector('#restores .record[data-id=\"{restored['id']}\"] .summary');"
        "return s && s.innerText"))
    assert "Safety backup" in summary and "Instances stopped for" in summary and "passed" in summary
    assert "Undo puts back just what this restore changed until" in summary, summary
    assert f'DROP DATABASE "{pg_db[0]}' in summary                     # the live database kept aside, and its drop

    # Undo: until when and what changed since, asked first; the undo is a restore record of its own.
    assert "undoable until" in restored["text"], restored["text"]
    page.click(f'#restores .record[data-id="{restored["id"]}"] button.undo')
    asked = page.dialog()
    assert "Possible until" in asked and "ran since the restore" in asked and "Undo anyway" in asked, asked
    page.fits()
    page.screenshot("-undo")
    page.click("#confirm-yes")                  # the changes shown were confirmed: the API got Confirm: true
    undo = page.record("#restores", lambda r: r["status"] == "Restored" and f"undo of {restored['id']}" in r["text"],
                       "the undo done", timeout=120)
    record = api.call("GET", f"/restores/{undo['id']}")[1]
    assert (record["Origin"], record["Undoes"]) == ("undo", restored["id"]), record

    # A failed disk: its cause on the record's one line, as text; red only on that disk.
    control.faults(fail=[disks[0]])
    known = {r["id"] for r in page.records("#backups")}
    page.click("#create")
    failed = page.record("#backups", lambda r: r["id"] not in known and r["status"] in ("PartiallyCreated",
                                                                                       "CreateFailed"),
                         "the failed backup", timeout=90)
    control.clear_faults()
    row = f'#backups .record[data-id="{failed["id"]}"]'
    cause = page.js(f"return document.querySelector('{row} > .cause').innerText")
    assert cause.startswith(f"{disks[0]} SnapshotFailed"), cause
    page.click(f"{row} button.toggle")
    page.wait("its resources", lambda: page.js(f"return document.querySelectorAll('{row} .item').length") == 3)
    reds = page.js(REDS, row, RED)
    assert reds["items"] == [disks[0]] and reds["cause"] and reds["other"] == [], reds
    page.click(f"{row} button.timeline")
    page.wait("its timeline", lambda: f"{disks[0]} Failed · SnapshotFailed" in page.js(
        f"return document.querySelector('{row} ol.events').innerText"))
    page.fits()
    print(page.screenshot())

    # Delete asks first.
    page.click(f"{row} button.delete")
    assert "Delete backup" in page.dialog()
    page.fits()
    page.click("#confirm-no")
    page.closed()
    assert api.call("GET", f"/backups/{failed['id']}")[1]["Status"] == failed["status"]
    page.click(f"{row} button.delete")
    page.dialog()
    page.click("#confirm-yes")
    page.record("#backups", lambda r: r["id"] == failed["id"] and r["status"] == "Deleted", "the deleted backup")
    page.fits()

    # Without an instance id, the admin sees every instance: each record names its own.
    page.js("document.getElementById('instance').value = ''")
    page.click("#load")
    page.record("#backups", lambda r: r["id"] == good["id"] and si in r["text"], "the admin's view across instances")
    assert page.js("return document.getElementById('create').disabled")
