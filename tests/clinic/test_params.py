"""Ids from query strings and forms: anything but a plain id is no id, never a 500."""

import pytest
from django.urls import reverse

from clinic.params import id_param

NOT_IDS = ["", None, "abc", "2026-05-04", "²", "١٢", "-3", "1.0", " 7", "9" * 19, "9" * 5000]


@pytest.mark.parametrize("value", NOT_IDS)
def test_what_is_not_a_plain_id_is_none(value):
    assert id_param(value) is None


@pytest.mark.parametrize(("value", "expected"), [("7", 7), (42, 42), ("9" * 18, int("9" * 18))])
def test_a_plain_id_is_its_number(value, expected):
    assert id_param(value) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["²", "9" * 5000, "2026-05-04"])
def test_the_booking_page_and_the_slot_picker_read_a_strange_id_as_none(receptionist_client, value):
    book = receptionist_client.get(reverse("treatments:appointment_book"), {"patient": value})
    slots = receptionist_client.get(
        reverse("treatments:slot_picker"),
        {"procedure_type": value, "dermatologist": value, "exclude": value, "date": "2026-05-04"},
    )

    assert book.status_code == 200  # no patient: the page asks who the visit is for
    assert "who is it for?" in book.content.decode()
    assert slots.status_code < 500
