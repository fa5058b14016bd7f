"""The browser journeys' fixtures: a headless Chromium per window, logging in, screenshots.

The journeys run against pytest-django's live server in a real transaction, with the
migrations' rows (the procedure catalogue, the role groups) restored for each test.
"""

import base64
import shutil
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from treatments.models import ClinicalPhoto, private_photo_storage

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
PASSWORD = "correct-horse-battery"  # tests/factories.py UserFactory's password
WAIT_SECONDS = 10
WINDOW = (1280, 1000)
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",  # containers give /dev/shm only 64 MB
    # Bootstrap scrolls smoothly unless motion is reduced, and a click aimed while the page
    # is still scrolling lands on whatever was under the pointer.
    "--force-prefers-reduced-motion",
]


@pytest.fixture
def new_browser():
    """Open a fresh headless Chromium window (own profile); all are closed after the test."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        # CI installs Debian's chromium and chromium-driver, so there they always run.
        pytest.skip(f"the browser journeys need {CHROMIUM} and {CHROMEDRIVER}")
    drivers, profiles = [], []

    def open_browser() -> webdriver.Chrome:
        profile = tempfile.mkdtemp(prefix="clinic-e2e-chromium-")
        profiles.append(profile)
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        drivers.append(driver)
        return driver

    yield open_browser
    for driver in drivers:
        driver.quit()
    for profile in profiles:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(new_browser):
    return new_browser()


@pytest.fixture
def private_media(settings, tmp_path, monkeypatch):
    """Uploaded photos in this test's own folder (see tests/treatments/test_photos.py)."""
    settings.CLINIC_PRIVATE_MEDIA_ROOT = tmp_path / "private-media"
    for name in ("image", "thumbnail"):
        field = ClinicalPhoto._meta.get_field(name)
        monkeypatch.setattr(field, "storage", private_photo_storage())
    return settings.CLINIC_PRIVATE_MEDIA_ROOT


def wait(driver, seconds: float = WAIT_SECONDS) -> WebDriverWait:
    return WebDriverWait(driver, seconds)


def wait_for(driver, css: str):
    """The element once it is in the page and visible."""
    return wait(driver).until(
        expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css))
    )


def wait_for_text(driver, css: str, text: str):
    wait(driver).until(
        expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
    )
    return driver.find_element(By.CSS_SELECTOR, css)


def gone(element):
    """A wait condition: the element has left the page (replaced by htmx or a new page).

    Selenium's staleness_of only knows StaleElementReferenceException; in the middle of a
    navigation Chromium may instead answer "node does not belong to the document"."""

    def check(_driver) -> bool:
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return True
            raise
        return False

    return check


def submit_and_wait(driver, element) -> None:
    """Click a button that loads a new page, and wait until the old page is gone."""
    old_page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    wait(driver).until(gone(old_page))


def log_in(driver, live_server, username: str, password: str = PASSWORD) -> None:
    """Log in through the login form, as a person would."""
    driver.get(f"{live_server.url}/login/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    submit_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    wait_for_text(driver, "nav", "Log out")


def screenshot(driver, name: str) -> Path:
    """Save the whole page, below the fold too, as docs/screenshots/<name>.png (replacing)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # DevTools captures beyond the viewport without resizing the window (which would
    # move what the next click aims at).
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


@pytest.fixture(scope="session")
def axe_source() -> str:
    return (Path(__file__).parent / "vendor" / "axe.min.js").read_text()


def serious_accessibility_violations(driver, axe_source: str) -> list[dict]:
    """axe-core's serious and critical findings on the page now shown."""
    driver.execute_script(axe_source)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then(r => done(r.violations)).catch(e => done({error: String(e)}));"
    )
    if isinstance(result, dict):
        raise AssertionError(f"axe failed: {result['error']}")
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [
                f"{' '.join(node['target'])}: {node['failureSummary'].splitlines()[-1].strip()}"
                for node in violation["nodes"][:10]
            ],
        }
        for violation in result
        if violation["impact"] in ("serious", "critical")
    ]


def set_value(driver, element, value: str) -> None:
    """Fill a date or time input as its picker would: set the value, fire input and change.

    Typing into these inputs depends on the browser's locale (mm/dd/yyyy or dd/mm/yyyy).
    """
    driver.execute_script(
        "const [input, value] = arguments; input.value = value;"
        "input.dispatchEvent(new Event('input', {bubbles: true}));"
        "input.dispatchEvent(new Event('change', {bubbles: true}));",
        element,
        value,
    )


def after_swap(driver, css: str, action):
    """Do `action`, then wait until htmx has replaced the element at `css`; return the new one."""
    old = driver.find_element(By.CSS_SELECTOR, css)
    action()
    wait(driver).until(gone(old))
    return wait_for(driver, css)


def response_status(driver) -> int:
    """The HTTP status of the page now shown (Chromium's navigation timing has it)."""
    return driver.execute_script(
        "return performance.getEntriesByType('navigation')[0].responseStatus"
    )
