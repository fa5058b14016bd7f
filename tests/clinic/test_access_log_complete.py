"""The access log is complete: every page that shows a patient's clinical data writes a row
for that patient.

One patient's clinical texts are unique markers (a lesion note, a diagnosis, a procedure
note, an alert, a photo caption, an amendment, a follow-up outcome). The walk requests
every URL pattern of the app, as each role, and every page of every model in the admin
(list, add, change, history, old version, delete), as a superuser, with real ids; a page
whose response shows a marker and left no access-log row for the patient fails. A new
page fails here until it logs.
"""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from clinic.admin import AccessLoggedAdminMixin
from clinic.models import AccessLog, ChannelHealth, Heartbeat, ScheduleVersion, UsedPatientLink
from patients.models import Lesion, PatientAlert
from treatments.models import (
    AftercareText,
    Amendment,
    Appointment,
    BillingSequence,
    Charge,
    ClinicalPhoto,
    FollowUp,
    FollowUpOutcome,
    PhotoCheck,
    PhotoCheckImage,
    Procedure,
    ProcedureLesion,
)
from treatments.services import records
from treatments.services.photos import photo_add

from ..factories import AppointmentFactory, UserFactory
from .test_access_matrix import EXPECTED, clinic, image_upload, private_media, url_for  # noqa: F401

pytestmark = pytest.mark.django_db

MARKERS = {
    "lesion note": "Qx7 pearly papule under the lash line",
    "diagnosis": "Q7Z9.X1",
    "procedure note": "Qx7 extracted with a 25G needle, minimal bleeding",
    "complication note": "Qx7 transient erythema at the site",
    "alert": "Qx7 allergy to chlorhexidine wipes",
    "photo caption": "Qx7 left lid before cryotherapy",
    "amendment reason": "Qx7 wrong lesion count dictated",
    "amendment text": "Qx7 four lesions treated, not three",
    "outcome note": "Qx7 no recurrence, skin smooth",
    "photo check answer": "Qx7 a new bump beside the left nostril",
}
# The models whose rows are a patient's health data: their admins log every page.
HEALTH_DATA_MODELS = {
    Lesion,
    PatientAlert,
    Procedure,
    Amendment,
    FollowUp,
    FollowUpOutcome,
    ClinicalPhoto,
    PhotoCheck,
    Charge,  # the codes billed, with their diagnoses
}
# Written and read by the app itself; nobody needs a page for them (the billing number
# series among them). Edited on their parent's admin page: aftercare texts on the
# procedure type's. A patient's photo-check images: shown only through the app's checked
# views. The schedule's version counters: read by the schedule pages, bumped by writes.
INTERNAL_MODELS = {
    Heartbeat,
    UsedPatientLink,
    ChannelHealth,
    ProcedureLesion,
    AftercareText,
    BillingSequence,
    PhotoCheckImage,
    ScheduleVersion,
}
# Pages that a GET must not be sent to (it would end the walk's session).
NOT_WALKED = {"logout", "admin:logout"}


@pytest.fixture
def marked(clinic):  # noqa: F811
    """The small clinic of the access matrix, its clinical texts replaced by markers, plus a
    checked-in visit still to record (its recording page shows the patient's alerts)."""
    patient, lesion, user = clinic["patient"], clinic["lesion"], clinic["dermatologist"].user
    lesion.note = MARKERS["lesion note"]
    lesion.save()
    PhotoCheck.objects.filter(pk=clinic["photo_check"].pk).update(
        where=MARKERS["photo check answer"]
    )
    Procedure.objects.filter(pk=clinic["procedure"].pk).update(
        note=MARKERS["procedure note"],
        diagnosis_code=MARKERS["diagnosis"],
        complication_note=MARKERS["complication note"],
    )
    records.alert_add(patient=patient, kind="allergy", description=MARKERS["alert"], by=user)
    photo_add(
        patient=patient,
        uploaded_file=image_upload(),
        uploaded_by=user,
        lesion=lesion,
        caption=MARKERS["photo caption"],
    )
    records.procedure_amend(
        procedure=clinic["procedure"],
        reason=MARKERS["amendment reason"],
        text=MARKERS["amendment text"],
        by=user,
    )
    FollowUpOutcome.objects.create(
        follow_up=clinic["follow_up"],
        lesion=lesion,
        outcome="resolved",
        note=MARKERS["outcome note"],
        recorded_by=user,
    )
    earlier = clinic["visit"].starts_at - timedelta(hours=3)
    to_record = AppointmentFactory(
        patient=patient,
        dermatologist=clinic["dermatologist"],
        room=clinic["visit"].room,
        procedure_type=clinic["visit"].procedure_type,
        starts_at=earlier,
        status=Appointment.Status.CHECKED_IN,
    )
    return {**clinic, "visit": to_record}


def shown_markers(response) -> list[str]:
    if response.streaming:
        return []  # a photo's bytes: logged by its view, no text to look for
    page = response.content.decode(errors="replace")
    return [name for name, marker in MARKERS.items() if marker in page]


def check_page(client, url: str, user, patient) -> tuple[int, list[str], bool]:
    """GET the page with an empty log: its status, the markers it shows, whether it logged."""
    AccessLog.objects.all().delete()
    response = client.get(url)
    logged = AccessLog.objects.filter(user=user, patient=patient).exists()
    return response.status_code, shown_markers(response), logged


# --- The app's pages --------------------------------------------------------------------


def app_pages(patterns, namespace=""):
    """(name as `reverse` takes it, pattern) of each page outside the admin."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if getattr(pattern, "app_name", None) == "admin":
                continue  # walked below, model by model
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from app_pages(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            yield namespace + pattern.name, pattern


def app_url(name: str, pattern: URLPattern, objects: dict) -> str:
    """The page with real ids: the access matrix's for the pages it lists; for another,
    an id named after its object (`patient_id`) or any text for a text argument (a token)."""
    if name in EXPECTED:
        return url_for(name, objects)
    by_name = {
        "patient_id": objects["patient"].pk,
        "lesion_id": objects["lesion"].pk,
        "dermatologist_id": objects["dermatologist"].pk,
    }
    kwargs = {}
    for kwarg, converter in pattern.pattern.converters.items():
        if kwarg in by_name:
            kwargs[kwarg] = by_name[kwarg]
        else:
            assert converter.regex != "[0-9]+", f"{name}: which object does <{kwarg}> name?"
            kwargs[kwarg] = "not-a-real-one"
    return reverse(name, kwargs=kwargs)


def test_every_app_page_that_shows_clinical_data_logs_it(marked, as_role):
    pages = [page for page in app_pages(get_resolver().url_patterns) if page[0] not in NOT_WALKED]
    urls = {name: app_url(name, pattern, marked) for name, pattern in pages}
    unlogged, showing = [], set()
    for role in ("receptionist", "dermatologist", "manager"):
        client = as_role(role)
        user = client.staff_member.user
        for name, url in urls.items():
            status, markers, logged = check_page(client, url, user, marked["patient"])
            if markers:
                showing.add(name)
                if not logged:
                    unlogged.append(f"{name} as {role} ({status}) shows {', '.join(markers)}")
    assert unlogged == []
    # The walk saw clinical data where it is: the check above could fail.
    assert {
        "treatments:patient_chart",
        "treatments:procedure_detail",
        "treatments:lesion_edit",
        "treatments:procedure_record",
        "treatments:schedule_day_sheet",
        "treatments:photo_check_list",
        "treatments:photo_check_detail",
    } <= showing


# The dermatologist's form pages that the issue found unlogged, and two more like them.
FORM_PAGES_WITH_RECORDS = [
    "treatments:lesion_edit",
    "treatments:procedure_amend",
    "treatments:photo_upload",
    "treatments:follow_up_outcome",
    "treatments:procedure_record",
]


@pytest.mark.parametrize("name", FORM_PAGES_WITH_RECORDS)
def test_a_form_page_that_shows_records_logs_the_patient(marked, dermatologist_client, name):
    AccessLog.objects.all().delete()
    assert dermatologist_client.get(url_for(name, marked)).status_code == 200
    entry = AccessLog.objects.get()
    assert (entry.action, entry.patient, entry.user) == (
        AccessLog.Action.RECORD_VIEW,
        marked["patient"],
        dermatologist_client.staff_member.user,
    )


def test_a_form_shown_again_with_its_errors_logs_again(marked, dermatologist_client):
    AccessLog.objects.all().delete()
    url = url_for("treatments:lesion_edit", marked)
    response = dermatologist_client.post(url, {"count": "many"})
    assert response.status_code == 400
    assert f"Edit lesion: {marked['lesion'].get_site_display()}" in response.content.decode()
    assert list(AccessLog.objects.values_list("patient", "path")) == [(marked["patient"].pk, url)]


def test_a_refused_form_page_logs_nothing(marked, receptionist_client):
    AccessLog.objects.all().delete()
    assert receptionist_client.get(url_for("treatments:lesion_edit", marked)).status_code == 403
    assert not AccessLog.objects.exists()


# --- The admin's pages ------------------------------------------------------------------


def admin_pages(objects_of) -> list[tuple[str, str]]:
    """(page name, URL) of every named page of every registered model's admin, with the
    first row of the model (and its latest old version) for the pages of one object."""
    pages = []
    for model, model_admin in admin.site._registry.items():
        row = objects_of(model)
        for pattern in model_admin.get_urls():
            if not pattern.name:
                continue  # the bare `<id>/` address redirects to the change page
            regex = pattern.pattern.regex
            if regex.groups == 0:
                pages.append((pattern.name, reverse(f"admin:{pattern.name}")))
            elif row is None:
                continue
            elif regex.groupindex:  # `<path:object_id>/change/`, `<id>/password/`
                (kwarg,) = regex.groupindex
                pages.append(
                    (pattern.name, reverse(f"admin:{pattern.name}", kwargs={kwarg: row.pk}))
                )
            else:  # django-simple-history's old version: (object id, version id)
                version = row.history.latest("history_id").history_id
                pages.append(
                    (pattern.name, reverse(f"admin:{pattern.name}", args=[row.pk, version]))
                )
    return pages


def test_every_admin_page_that_shows_clinical_data_logs_it(marked):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(superuser)

    def first_row(model):
        return model._default_manager.order_by("pk").first()

    pages = admin_pages(first_row)
    unlogged, showing = [], set()
    for name, url in pages:
        status, markers, logged = check_page(client, url, superuser, marked["patient"])
        if markers:
            showing.add(name)
            if not logged:
                unlogged.append(f"{name} ({status}) shows {', '.join(markers)}")
    assert unlogged == []
    # Every health-data model's list, change and history pages were walked and showed data.
    for model in HEALTH_DATA_MODELS:
        label = f"{model._meta.app_label}_{model._meta.model_name}"
        assert {f"{label}_change", f"{label}_history", f"{label}_delete"} <= {n for n, _ in pages}
    assert "treatments_procedure_change" in showing
    assert "treatments_amendment_changelist" in showing


def test_every_health_data_admin_writes_the_access_log():
    for model in HEALTH_DATA_MODELS:
        assert isinstance(admin.site._registry[model], AccessLoggedAdminMixin), model.__name__


def test_an_admin_list_logs_each_patient_on_the_page_once(marked, admin_client):
    other = AppointmentFactory().patient
    Lesion.objects.create(
        patient=other,
        site="nose",
        milia_type="primary",
        count=1,
        first_noted=marked["lesion"].first_noted,
    )
    AccessLog.objects.all().delete()
    response = admin_client.get(reverse("admin:patients_lesion_changelist"))
    assert response.status_code == 200
    rows = AccessLog.objects.all()
    assert sorted(row.patient_id for row in rows) == sorted([marked["patient"].pk, other.pk])
    assert {(row.action, row.detail) for row in rows} == {("record_view", "admin: lesions list")}


def test_an_actions_confirmation_page_logs_the_patients_it_lists(marked, admin_client):
    AccessLog.objects.all().delete()
    response = admin_client.post(
        reverse("admin:treatments_followup_changelist"),
        {"action": "delete_selected", "_selected_action": [marked["follow_up"].pk]},
    )
    assert response.status_code == 200  # "Are you sure?", listing the follow-up
    assert FollowUp.objects.filter(pk=marked["follow_up"].pk).exists()
    entry = AccessLog.objects.get()
    assert (entry.patient, entry.detail) == (marked["patient"], "admin: follow ups list")


def test_a_refused_or_missing_admin_page_logs_nothing(marked, admin_client, manager_client):
    AccessLog.objects.all().delete()
    missing = admin_client.get(reverse("admin:treatments_procedure_change", args=[999999]))
    assert missing.status_code == 302  # the admin sends a missing object back to its index
    refused = admin_client.get(
        reverse("admin:treatments_procedure_delete", args=[marked["procedure"].pk])
    )
    assert refused.status_code == 403  # clinical records are read-only
    assert not AccessLog.objects.exists()


# --- The admin index: no internal tables, one "Access logs" -------------------------------


def test_internal_tables_are_off_the_admin_index(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    for model in INTERNAL_MODELS:
        assert model not in admin.site._registry, model.__name__
        assert f"/{model._meta.app_label}/{model._meta.model_name}/" not in page
    assert page.count(">Access logs<") == 1


def test_every_clinic_model_has_an_admin_or_is_internal():
    from django.apps import apps

    for label in ("clinic", "patients", "treatments"):
        for model in apps.get_app_config(label).get_models():
            if hasattr(model, "instance_type") or model in INTERNAL_MODELS:
                continue  # a history table, or one the app keeps for itself
            assert model in admin.site._registry, f"{model.__name__} has no admin"


def test_a_procedure_shows_its_lesions_inline(marked, admin_client):
    page = admin_client.get(
        reverse("admin:treatments_procedure_change", args=[marked["procedure"].pk])
    )
    assert str(marked["lesion"]) in page.content.decode()
    assert ProcedureLesion.objects.filter(procedure=marked["procedure"]).exists()


def test_a_used_link_cannot_be_deleted_through_the_admin(admin_client):
    used = UsedPatientLink.objects.create(nonce="n" * 32, action="cancel", subject_id=1)
    response = admin_client.post(
        f"/admin/clinic/usedpatientlink/{used.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 404
    assert UsedPatientLink.objects.filter(pk=used.pk).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL trigger")
def test_postgresql_refuses_to_delete_a_used_link_even_by_hand():
    used = UsedPatientLink.objects.create(nonce="m" * 32, action="cancel", subject_id=1)
    refused = pytest.raises(IntegrityError, match="would let the link work again")
    with refused, transaction.atomic():
        UsedPatientLink.objects.filter(pk=used.pk).delete()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM clinic_usedpatientlink")
    assert UsedPatientLink.objects.filter(pk=used.pk).exists()
