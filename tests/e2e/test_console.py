"""The console page in a real headless Chromium: create a backup, see it Created, restore it after the confirm
step, and read a failed backup's cause from its hover and its timeline under the record."""
import shutil
import time

import pytest

from tests.support.product import ADMIN

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="Debian's chromium and chromium-driver are "
                                                                   "needed (scripts/setup-browser)")


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


def wait_text(driver, css, text, timeout=60):
    from selenium.webdriver.common.by import By
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in driver.find_elements(By.CSS_SELECTOR, css) if text in e.text]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no {css} with {text!r}; page: {driver.find_element(By.TAG_NAME, 'body').text[:2000]}")


def test_backup_restore_and_failure_cause_in_the_console(product, control, si, browser):
    from selenium.webdriver.common.by import By
    disks = control.seed(ServiceInstanceId=si, Disks=2, DiskSize="8MiB")["Disks"]
    browser.get(product.endpoint + "/api/console")
    browser.find_element(By.ID, "token").send_keys(ADMIN)
    browser.find_element(By.ID, "instance").send_keys(si)
    browser.find_element(By.ID, "load").click()
    browser.find_element(By.ID, "create").click()
    wait_text(browser, "#backups td.Created", "Created")

    browser.find_element(By.CSS_SELECTOR, "#backups button.restore").click()
    dialog = browser.find_element(By.ID, "confirm")
    assert dialog.is_displayed() and "stopped" in dialog.text
    browser.find_element(By.ID, "confirm-yes").click()
    wait_text(browser, "#restores td.Restored", "Restored", timeout=120)

    control.faults(fail=[disks[0]["DiskId"]])
    browser.find_element(By.ID, "create").click()
    failed = wait_text(browser, "#backups td.CreateFailed", "CreateFailed")
    hover = failed.get_attribute("title")                               # the hover text is the record's cause
    assert hover.startswith(f"{disks[0]['DiskId']} SnapshotFailed") and "2 of 2 resources failed" in hover
    assert f"{disks[1]['DiskId']} GroupMemberFailed" in hover              # the other one says why it does not count
    wait_text(browser, "#backups tr.detail div.Failed", "SnapshotFailed")
    browser.find_elements(By.CSS_SELECTOR, "#backups button.timeline")[0].click()     # newest first
    wait_text(browser, "#backups ol.events li", f"{disks[0]['DiskId']} Failed · SnapshotFailed")
    wait_text(browser, "#backups ol.events li", "CreateFailed")
