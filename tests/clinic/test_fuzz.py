"""No input gives a 500: every form and JSON endpoint of the app, fed hostile values.

Hypothesis changes one to three fields of a valid request at a time to a NUL byte, control
characters, a string of a million characters, years 1 and 9999, negative and huge numbers,
wrong JSON types or arbitrary text. Every answer must be 2xx, 3xx or 4xx, a 4xx must carry a
message, and a refused request must leave every table of the app as it found it. Each
example runs in a savepoint that is rolled back, so they all start from the same clinic.

The examples are derandomized (the same ones on every run, so CI is reproducible) and few
enough that the module takes well under a minute; `--hypothesis-show-statistics` prints
how many each endpoint ran.
"""

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from urllib.parse import quote

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from treatments.models import ProcedureType

from ..factories import AppointmentFactory, LesionFactory, PatientFactory
from .test_access_matrix import clinic, private_media  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

settings.register_profile(
    "clinic-fuzz",
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
FUZZ = settings.get_profile("clinic-fuzz")

MILLION = "x" * 10**6
NASTY_TEXT = st.sampled_from(
    [
        "\x00",
        "Smith\x00",
        "\x01\x08\x1b[31m\x7f",
        MILLION,
        "",
        " ",
        "0",
        "-1",
        "-2147483649",
        "2147483648",
        "9223372036854775808",
        str(-(10**30)),
        "1e309",
        "NaN",
        "-0.0",
        "²",
        "١٢",
        "0001-01-01",
        "9999-12-31",
        "0000-00-00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:00+00:00",
        "24:00",
        "=1+1",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "1|9999-12-31T23:59:00+00:00|",
        "1|0001-01-01T00:00:00+14:00|1",
    ]
)
ANY_TEXT = st.one_of(
    NASTY_TEXT,
    st.text(max_size=20),
    st.integers().map(str),
    st.dates(min_value=date(1, 1, 1)).map(date.isoformat),
    st.datetimes(timezones=st.just(UTC)).map(lambda instant: instant.isoformat()),
)
JSON_VALUE = st.one_of(
    ANY_TEXT,
    st.integers(min_value=-(10**30), max_value=10**30),
    st.just(10**400),
    st.floats(),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@dataclass(frozen=True)
class Endpoint:
    """One form or JSON endpoint: who uses it, how, and a valid request to spoil."""

    role: str
    method: str  # GET (a query), POST (a form), MULTIPART (a form with a file) or JSON
    url: Callable[[dict], str]
    valid: Callable[[dict], dict]
    # The URL keyword that Hypothesis also spoils, for a token in the path.
    path_value: str = ""


def _jpeg() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 150, 140)).save(buffer, "JPEG")
    return SimpleUploadedFile("lesion.jpg", buffer.getvalue(), content_type="image/jpeg")


def _tomorrow(objects: dict) -> str:
    return (timezone.localdate() + timedelta(days=1)).isoformat()


def _slot(objects: dict) -> str:
    starts_at = timezone.now().replace(microsecond=0, second=0) + timedelta(days=2)
    return f"{objects['dermatologist'].pk}|{starts_at.isoformat()}|"


ENDPOINTS = {
    "login": Endpoint(
        "anonymous",
        "POST",
        lambda o: reverse("login"),
        lambda o: {"username": "dermatologist", "password": "not-the-password"},
    ),
    "patient search": Endpoint(
        "receptionist",
        "GET",
        lambda o: reverse("treatments:patient_search"),
        lambda o: {"q": o["patient"].last_name, "after": ""},
    ),
    "patient register": Endpoint(
        "receptionist",
        "POST",
        lambda o: reverse("treatments:patient_register"),
        lambda o: {
            "first_name": "Ines",
            "last_name": "Fuzzed",
            "date_of_birth": "1990-04-02",
            "sex": "F",
            "email": "ines@example.org",
            "phone": "+12025550123",
            "preferred_channel": "email",
            "language": "en",
            "reminder_consent": "on",
            "guardian_first_name": "",
            "guardian_last_name": "",
            "guardian_relationship": "",
            "guardian_email": "",
            "guardian_phone": "",
        },
    ),
    "booking form": Endpoint(
        "receptionist",
        "POST",
        lambda o: reverse("treatments:appointment_book"),
        lambda o: {
            "patient": o["patient"].pk,
            "procedure_type": o["cryotherapy"].pk,
            "dermatologist": o["dermatologist"].pk,
            "date": _tomorrow(o),
            "slot": _slot(o),
            "reason": "Milia on the cheek",
            "waitlist_entry": o["waiting"].pk,
            "follow_up": o["follow_up"].pk,
        },
    ),
    "slot picker": Endpoint(
        "receptionist",
        "GET",
        lambda o: reverse("treatments:slot_picker"),
        lambda o: {
            "procedure_type": o["cryotherapy"].pk,
            "dermatologist": o["dermatologist"].pk,
            "date": _tomorrow(o),
            "exclude": o["upcoming"].pk,
        },
    ),
    "JSON booking API": Endpoint(
        "receptionist",
        "JSON",
        lambda o: reverse("treatments:appointment_book_api"),
        lambda o: {
            "patient": o["patient"].pk,
            "dermatologist": o["dermatologist"].pk,
            "procedure_type": o["cryotherapy"].pk,
            "starts_at": _slot(o).split("|")[1],
            "room": None,
            "reason": "Milia",
        },
    ),
    "reschedule": Endpoint(
        "receptionist",
        "POST",
        lambda o: reverse("treatments:appointment_reschedule", args=[o["upcoming"].pk]),
        lambda o: {"dermatologist": o["dermatologist"].pk, "date": _tomorrow(o), "slot": _slot(o)},
    ),
    "cancel": Endpoint(
        "receptionist",
        "POST",
        lambda o: reverse("treatments:appointment_action", args=[o["upcoming"].pk, "cancel"]),
        lambda o: {"reason": "Patient is unwell", "from": "arrivals"},
    ),
    "waitlist add": Endpoint(
        "receptionist",
        "POST",
        lambda o: reverse("treatments:waitlist_add"),
        lambda o: {
            "patient": o["patient"].pk,
            "procedure_type": o["cryotherapy"].pk,
            "dermatologist": o["dermatologist"].pk,
            "earliest_date": _tomorrow(o),
            "latest_date": (timezone.localdate() + timedelta(days=20)).isoformat(),
            "earliest_time": "09:00",
            "latest_time": "12:00",
            "note": "Mornings",
        },
    ),
    "day schedule": Endpoint(
        "receptionist",
        "GET",
        lambda o: reverse("treatments:schedule_day"),
        lambda o: {"date": _tomorrow(o)},
    ),
    "week schedule": Endpoint(
        "receptionist",
        "GET",
        lambda o: reverse("treatments:schedule_week", args=[o["dermatologist"].pk]),
        lambda o: {"date": _tomorrow(o), "dermatologist": o["dermatologist"].pk},
    ),
    "record procedure": Endpoint(
        "dermatologist",
        "POST",
        lambda o: reverse("treatments:procedure_record", args=[o["checked_in"].pk]),
        lambda o: {
            "procedure_type": o["cryotherapy"].pk,
            "lesions": [o["open_lesion"].pk],
            "cryo_method": "spray",
            "freeze_seconds": "5",
            "freeze_thaw_cycles": "2",
            "halo_mm": "1",
            "needle_gauge": "",
            "lesions_cleared": "",
            "anesthetic_volume_ml": "",
            "consent_obtained": "on",
            "consent_given_by": "patient",
            "diagnosis_code": "L72.0",
            "procedure_code": "",
            "complication_note": "",
            "note": "Tolerated well.",
        },
    ),
    "amend record": Endpoint(
        "dermatologist",
        "POST",
        lambda o: reverse("treatments:procedure_amend", args=[o["procedure"].pk]),
        lambda o: {"reason": "Site", "text": "Left cheek, not right."},
    ),
    "alert add": Endpoint(
        "dermatologist",
        "POST",
        lambda o: reverse("treatments:alert_add", args=[o["patient"].pk]),
        lambda o: {"kind": "allergy", "description": "Latex"},
    ),
    "follow-up outcome": Endpoint(
        "dermatologist",
        "POST",
        lambda o: reverse("treatments:follow_up_outcome", args=[o["follow_up"].pk]),
        lambda o: {
            f"lesion-{o['lesion'].pk}-outcome": "resolved",
            f"lesion-{o['lesion'].pk}-complication": "",
            f"lesion-{o['lesion'].pk}-note": "Clear",
        },
    ),
    "follow-up list": Endpoint(
        "receptionist",
        "GET",
        lambda o: reverse("treatments:follow_up_list"),
        lambda o: {"after": ""},
    ),
    "chart": Endpoint(
        "dermatologist",
        "GET",
        lambda o: reverse("treatments:patient_chart", args=[o["patient"].pk]),
        lambda o: {"before": ""},
    ),
    "lesion add": Endpoint(
        "dermatologist",
        "POST",
        lambda o: reverse("treatments:lesion_add", args=[o["patient"].pk]),
        lambda o: {
            "site": "left_cheek",
            "milia_type": "primary",
            "size_mm": "1.5",
            "count": "3",
            "colour": "white",
            "first_noted": (timezone.localdate() - timedelta(days=30)).isoformat(),
            "note": "",
        },
    ),
    "lesion edit": Endpoint(
        "dermatologist",
        "POST",
        lambda o: reverse("treatments:lesion_edit", args=[o["lesion"].pk]),
        lambda o: {
            "site": o["lesion"].site,
            "milia_type": o["lesion"].milia_type,
            "size_mm": "1.0",
            "count": "2",
            "colour": "white",
            "first_noted": o["lesion"].first_noted.isoformat(),
            "status": "resolved",
            "resolved_on": "",
            "note": "",
        },
    ),
    "photo upload": Endpoint(
        "dermatologist",
        "MULTIPART",
        lambda o: reverse("treatments:photo_upload", args=[o["patient"].pk]),
        lambda o: {
            "image": _jpeg(),
            "lesion": o["lesion"].pk,
            "appointment": "",
            "caption": "Before",
            "taken_on": timezone.localdate().isoformat(),
        },
    ),
    "patient link": Endpoint(
        "anonymous",
        "POST",
        # Built by hand: reverse() refuses the empty token that Hypothesis may try.
        lambda o: "/l/" + quote(o["token"], safe="") + "/",
        lambda o: {"reason": "Cannot come", "token": o["token"]},
        path_value="token",
    ),
}


@pytest.fixture
def objects(clinic, receptionist_client):  # noqa: F811 (the fixture imported above)
    """The access matrix's clinic, plus a checked-in visit with a lesion still to treat."""
    cryotherapy = ProcedureType.objects.get(slug="cryotherapy")
    checked_in = AppointmentFactory(
        patient=PatientFactory(),
        dermatologist=clinic["dermatologist"],
        procedure_type=cryotherapy,
        status="checked_in",
        # Just before the clinic's own visit of this dermatologist, which starts now.
        starts_at=clinic["visit"].starts_at - timedelta(minutes=30),
    )
    open_lesion = LesionFactory(patient=checked_in.patient)
    return {
        **clinic,
        "cryotherapy": cryotherapy,
        "checked_in": checked_in,
        "open_lesion": open_lesion,
        "token": "not-a-real-token",
    }


def row_counts() -> dict[str, int]:
    """Rows of every table of the app's three apps (history tables included), but the access
    log: a refused form still shows the page, and that look is recorded on purpose."""
    return {
        model._meta.label: model._default_manager.count()
        for app in ("clinic", "patients", "treatments")
        for model in apps.get_app_config(app).get_models()
        if model._meta.label != "clinic.AccessLog"
    }


def send(client, endpoint: Endpoint, url: str, data: dict):
    if endpoint.method == "GET":
        return client.get(url, data)
    if endpoint.method == "JSON":
        return client.post(url, json.dumps(data), content_type="application/json")
    return client.post(url, data)  # urlencoded, or multipart when a file is in it


def spoiled(endpoint: Endpoint, valid: dict) -> st.SearchStrategy[dict]:
    """One to three of the request's fields (an unknown one too) set to hostile values."""
    values = JSON_VALUE if endpoint.method == "JSON" else ANY_TEXT
    fields = sorted({*valid, "unexpected"} | ({endpoint.path_value} - {""}))
    return st.dictionaries(st.sampled_from(fields), values, min_size=1, max_size=3)


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
@given(data=st.data())
@FUZZ
def test_no_input_gives_a_500(objects, as_role, name, data):
    endpoint = ENDPOINTS[name]
    valid = endpoint.valid(objects)
    changes = data.draw(spoiled(endpoint, valid), label="changes")
    client = as_role(endpoint.role)
    request_data = {**valid, **changes}
    path_objects = dict(objects)
    if endpoint.path_value:
        path_objects[endpoint.path_value] = str(request_data.pop(endpoint.path_value))
    with transaction.atomic():
        before = row_counts()
        response = send(client, endpoint, endpoint.url(path_objects), request_data)
        after = row_counts()
        transaction.set_rollback(True)

    assert response.status_code < 500
    if response.status_code >= 400:
        assert response.content.strip(), "a refusal without a message"
        written = {
            label: after[label] - before[label] for label in after if after[label] != before[label]
        }
        assert not written, f"a refused request ({response.status_code}) wrote {written}"


def test_a_nul_byte_in_the_patient_search_is_a_400_with_a_message(receptionist_client):
    response = receptionist_client.get("/patients/?q=%00")

    assert response.status_code == 400
    assert "control character" in response.content.decode()


@pytest.mark.parametrize(
    ("starts_at", "message"),
    [
        ("9999-12-31T23:59:00+00:00", "too far ahead"),
        ("9999-12-31T23:59:00-14:00", "too far ahead"),
        ("0001-01-01T00:00:00+14:00", "too far in the past"),
    ],
)
def test_a_json_booking_in_year_1_or_9999_is_a_field_error(
    objects, receptionist_client, starts_at, message
):
    body = {**ENDPOINTS["JSON booking API"].valid(objects), "starts_at": starts_at}
    response = receptionist_client.post(
        reverse("treatments:appointment_book_api"),
        json.dumps(body),
        content_type="application/json",
    )

    assert response.status_code == 400
    assert message in response.json()["fields"]["starts_at"][0]["message"]
