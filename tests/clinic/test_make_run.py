"""`make run` on another port: the links in reminders lead to that port (issue 14)."""

import os
import subprocess

import pytest
from django.conf import settings


def planned_run(port: int, **env: str) -> str:
    """What `make run` would do, without doing it (make -n)."""
    environment = {k: v for k, v in os.environ.items() if k != "CLINIC_BASE_URL"} | env
    return subprocess.run(
        ["make", "-n", "run", f"PORT={port}"],
        cwd=settings.BASE_DIR, env=environment, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


@pytest.mark.parametrize("port", [8000, 8821])
def test_links_in_reminders_lead_to_the_port_make_run_serves(port):
    assert f"Links in reminders: http://127.0.0.1:{port}/" in planned_run(port)


def test_a_base_url_the_clinic_sets_wins_over_the_port():
    plan = planned_run(8821, CLINIC_BASE_URL="https://clinic.example.com")
    assert "Links in reminders: https://clinic.example.com/" in plan
