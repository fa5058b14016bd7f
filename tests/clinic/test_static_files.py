"""Static files as `make run` serves them (CLINIC_STATIC_COLLECTED=1): collected gzipped and
named by their hash, linked by that name under DEBUG too, and served compressed and
cached for good."""

import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def collected(settings, tmp_path):
    """The settings of `make run` (DEBUG on), with the files collected into tmp_path."""
    settings.DEBUG = True
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "clinic.staticfiles.CollectedStaticFilesStorage"},
    }
    settings.WHITENOISE_AUTOREFRESH = False
    settings.WHITENOISE_USE_FINDERS = False
    call_command("collectstatic", interactive=False, verbosity=0)
    return tmp_path


def linked_static_files(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', page)


def test_pages_link_the_hashed_names_of_the_static_files_under_debug(collected):
    page = Client().get(reverse("login")).content.decode()

    assert "/static/vendor/htmx/htmx.min.js" not in page
    assert re.search(r"/static/vendor/htmx/htmx\.min\.[0-9a-f]{12}\.js", page)
    assert len(linked_static_files(page)) == 5


def test_the_linked_files_are_served_gzipped_and_cached_for_good(collected):
    client = Client()
    page = client.get(reverse("login")).content.decode()

    for url in linked_static_files(page):
        response = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200, url
        assert "immutable" in response["Cache-Control"], url
        if url.endswith((".css", ".js")):
            assert response["Content-Encoding"] == "gzip", url


def test_bootstrap_and_htmx_travel_at_under_a_third_of_their_size(collected):
    page = Client().get(reverse("login")).content.decode()
    vendored = [url for url in linked_static_files(page) if "/vendor/" in url]

    for url in vendored:
        name = url.removeprefix("/static/")
        plain = (collected / name).stat().st_size
        gzipped = (collected / f"{name}.gz").stat().st_size
        assert gzipped < plain / 3, url
    assert len(vendored) == 3


def test_without_collected_files_the_pages_link_static_as_it_is():
    page = Client().get(reverse("login")).content.decode()

    assert '<script src="/static/vendor/htmx/htmx.min.js">' in page
