"""The access log of the gunicorn the Procfile, Dockerfile and compose start: requests are
logged, patient-link tokens and query strings (a surname in a search) are not."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from clinic.gunicorn_conf import redacted_path

BASE_DIR = Path(__file__).resolve().parents[2]
TOKEN = "eyJhIjo0Mn0:1tSECRETsignature"
SURNAME = "Wrightson"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> None:
    # A 400 for a bad link, or the login page after a redirect: logged all the same.
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(url, timeout=10)


@pytest.fixture
def gunicorn(tmp_path):
    """A real gunicorn with clinic.gunicorn_conf, its access log in a file."""
    port, log = free_port(), tmp_path / "access.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "clinic.wsgi:application",
            "--config",
            "python:clinic.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-logfile",
            str(log),
        ],  # fmt: skip
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "clinic.settings.test"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", log
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_access_log_keeps_the_request_but_no_token_and_no_query_string(gunicorn):
    base, log = gunicorn
    get(f"{base}/l/{TOKEN}/")
    get(f"{base}/patients/?q={SURNAME}&after=abc")
    get(f"{base}/healthz?probe=1")

    # The search is redirected to the login page with ?next=/patients/?q=…: four lines.
    deadline = time.monotonic() + 10
    while len(log.read_text().splitlines()) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text()

    assert len(text.splitlines()) == 4
    for request in ("/l/<token>/", "/patients/", "/login/", "/healthz"):
        assert f'"GET {request} HTTP/1.1"' in text
    assert TOKEN not in text and "SECRET" not in text
    assert SURNAME not in text and "?" not in text and "probe" not in text and "next" not in text


def test_only_a_patient_links_path_is_masked():
    assert redacted_path("/l/abc.def:ghi/") == "/l/<token>/"
    assert redacted_path("/l/abc") == "/l/<token>"
    assert redacted_path("/patients/12/") == "/patients/12/"
    assert redacted_path("/lesions/3/edit/") == "/lesions/3/edit/"
