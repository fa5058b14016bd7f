from django.urls import path

from clinic.audit import audited, patient_from, patient_of
from clinic.models import AccessLog

from .models import PhotoCheckImage
from .views import (
    api,
    appointments,
    availability,
    billing,
    billing_documents,
    billing_reports,
    calendar,
    calendar_feed,
    dashboard,
    diagnoses,
    home,
    lesions,
    links,
    patients,
    photo_checks,
    photos,
    records,
    sms,
    waitlist,
)

app_name = "treatments"

# Every look at a chart, a photo, a record or a handout is written to the access log.
_photo_patient = patient_of("treatments.ClinicalPhoto", "pk")


def _photo_check_image_patient(kwargs) -> int | None:
    """The patient who sent the photo-check image the URL names."""
    rows = PhotoCheckImage.objects.filter(pk=kwargs["pk"]).values_list(
        "photo_check__patient_id", flat=True
    )
    return rows.first()


_photo_check_image_viewed = audited(AccessLog.Action.PHOTO_VIEW, patient=_photo_check_image_patient)
_shown_on_refusal = audited(
    AccessLog.Action.RECORD_VIEW,
    patient=patient_of("patients.Guardian", "pk"),
    shown_with_errors=True,
    detail="patient record, edit page",
)

_billing_page_shown = audited(
    AccessLog.Action.RECORD_VIEW,
    patient=patient_from("patient_id"),
    shown_with_errors=True,
    detail="billing page",
)


def _export(model_label: str, detail: str):
    """A document download of the object the URL's pk names: an export of its patient."""
    return audited(AccessLog.Action.EXPORT, patient=patient_of(model_label, "pk"), detail=detail)


urlpatterns = [
    path("", home.home, name="home"),
    path("dashboard/", dashboard.manager_dashboard, name="manager_dashboard"),
    # Patients' signed links from reminders: no login, the token is the permission.
    path("l/<str:token>/", links.patient_link, name="patient_link"),
    path(
        "l/<str:token>/unsubscribe/",
        links.patient_link_unsubscribe,
        name="patient_link_unsubscribe",
    ),
    path("l/<str:token>/visit.ics", links.patient_link_calendar, name="patient_link_calendar"),
    # Patients' texts: the providers' webhooks (signed, no login) and the desk's inbox.
    path("sms/inbound/twilio/", sms.twilio_inbound, name="sms_inbound_twilio"),
    path("sms/inbound/vonage/", sms.vonage_inbound, name="sms_inbound_vonage"),
    path("sms/inbox/", sms.sms_inbox, name="sms_inbox"),
    path("sms/inbox/<int:pk>/handled/", sms.sms_mark_handled, name="sms_mark_handled"),
    # The front desk's patient pages
    path("patients/", patients.patient_search, name="patient_search"),
    path("patients/new/", patients.patient_register, name="patient_register"),
    path(
        "patients/<int:pk>/",
        audited(AccessLog.Action.RECORD_VIEW, patient=patient_from("pk"), detail="patient page")(
            patients.patient_detail
        ),
        name="patient_detail",
    ),
    path(
        "patients/<int:pk>/edit/",
        audited(
            AccessLog.Action.RECORD_VIEW,
            patient=patient_from("pk"),
            shown_with_errors=True,
            detail="patient record, edit page",
        )(patients.patient_edit),
        name="patient_edit",
    ),
    path("patients/<int:patient_id>/guardians/new/", patients.guardian_add, name="guardian_add"),
    # Billing at the desk: the page shows the codes billed, so every look is logged.
    path(
        "patients/<int:patient_id>/billing/",
        _billing_page_shown(billing.patient_billing_page),
        name="patient_billing",
    ),
    path(
        "patients/<int:patient_id>/billing/payments/",
        _billing_page_shown(billing.payment_take),
        name="payment_take",
    ),
    path(
        "patients/<int:patient_id>/billing/refunds/",
        _billing_page_shown(billing.payment_refund),
        name="payment_refund",
    ),
    path(
        "patients/<int:patient_id>/billing/invoices/",
        _billing_page_shown(billing.invoice_issue),
        name="invoice_issue",
    ),
    path("guardians/<int:pk>/edit/", patients.guardian_edit, name="guardian_edit"),
    # A refused guardian step shows the record's edit page with the reason.
    path(
        "guardians/<int:pk>/remove/",
        _shown_on_refusal(patients.guardian_remove),
        name="guardian_remove",
    ),
    path(
        "guardians/<int:pk>/receives-reminders/",
        _shown_on_refusal(patients.guardian_make_recipient),
        name="guardian_make_recipient",
    ),
    path("schedule/day/", calendar.schedule_day, name="schedule_day"),
    path("schedule/week/<int:dermatologist_id>/", calendar.schedule_week, name="schedule_week"),
    path("schedule/day-sheet/", calendar.schedule_day_sheet, name="schedule_day_sheet"),
    path("appointments/new/", appointments.appointment_book, name="appointment_book"),
    path("api/appointments/", api.appointment_book_api, name="appointment_book_api"),
    path("api/first-available/", api.first_available_api, name="first_available_api"),
    path(
        "api/appointments/alternatives/",
        api.alternatives_api,
        name="alternatives_api",
    ),
    path("appointments/slots/", appointments.slot_picker, name="slot_picker"),
    path(
        "appointments/alternatives/",
        appointments.slot_alternatives,
        name="slot_alternatives",
    ),
    path(
        "appointments/first-available/",
        availability.first_available_search,
        name="first_available",
    ),
    path("appointments/<int:pk>/", appointments.appointment_detail, name="appointment_detail"),
    path(
        "appointments/<int:pk>/reschedule/",
        appointments.appointment_reschedule,
        name="appointment_reschedule",
    ),
    path("appointments/<int:pk>/record/", records.procedure_record, name="procedure_record"),
    path(
        "appointments/<int:pk>/<slug:action>/",
        appointments.appointment_action,
        name="appointment_action",
    ),
    path("arrivals/", appointments.arrivals, name="arrivals"),
    path("waitlist/", waitlist.waitlist, name="waitlist"),
    path("waitlist/new/", waitlist.waitlist_add, name="waitlist_add"),
    path("waitlist/<int:pk>/remove/", waitlist.waitlist_remove, name="waitlist_remove"),
    # The dermatologist's records
    path("my-day/", records.my_day, name="my_day"),
    # A dermatologist's calendar feed: the secret URL is the key (no login), and their page.
    path("calendar/<str:token>.ics", calendar_feed.calendar_feed, name="calendar_feed"),
    path("my-calendar-feed/", calendar_feed.my_calendar_feed, name="my_calendar_feed"),
    path("my-calendar-feed/new/", calendar_feed.my_calendar_feed_new, name="my_calendar_feed_new"),
    path(
        "my-calendar-feed/revoke/",
        calendar_feed.my_calendar_feed_revoke,
        name="my_calendar_feed_revoke",
    ),
    path(
        "patients/<int:patient_id>/chart/",
        audited(AccessLog.Action.CHART_VIEW, patient=patient_from("patient_id"))(
            records.patient_chart
        ),
        name="patient_chart",
    ),
    path("patients/<int:patient_id>/alerts/new/", records.alert_add, name="alert_add"),
    path(
        "procedures/<int:pk>/",
        audited(AccessLog.Action.RECORD_VIEW, patient=patient_of("treatments.Procedure", "pk"))(
            records.procedure_detail
        ),
        name="procedure_detail",
    ),
    path("procedures/<int:pk>/sign/", records.procedure_sign, name="procedure_sign"),
    path("procedures/<int:pk>/edit/", records.procedure_revise, name="procedure_revise"),
    path("procedures/<int:pk>/amend/", records.procedure_amend, name="procedure_amend"),
    path(
        "procedures/<int:pk>/handout/",
        audited(AccessLog.Action.HANDOUT_VIEW, patient=patient_of("treatments.Procedure", "pk"))(
            records.procedure_handout
        ),
        name="procedure_handout",
    ),
    path("diagnoses/search/", diagnoses.diagnosis_search, name="diagnosis_search"),
    # Billing documents (PDF) and reports; a download is an export in the access log.
    path(
        "invoices/<int:pk>/pdf/",
        _export("treatments.Invoice", "invoice")(billing_documents.invoice_pdf),
        name="invoice_pdf",
    ),
    path(
        "payments/<int:pk>/receipt/",
        _export("treatments.Payment", "receipt")(billing_documents.receipt_pdf),
        name="receipt_pdf",
    ),
    path(
        "patients/<int:patient_id>/superbill/",
        audited(AccessLog.Action.EXPORT, patient=patient_from("patient_id"), detail="superbill")(
            billing_documents.superbill_pdf
        ),
        name="superbill_pdf",
    ),
    path(
        "patients/<int:patient_id>/billing-email/",
        billing_documents.billing_email,
        name="billing_email",
    ),
    path("billing/takings/", billing_reports.takings, name="takings"),
    path("billing/takings.csv", billing_reports.takings_csv, name="takings_csv"),
    path("billing/charges.csv", billing_reports.charges_csv, name="charges_csv"),
    path("follow-ups/", records.follow_up_list, name="follow_up_list"),
    path("follow-ups/<int:pk>/outcome/", records.follow_up_outcome, name="follow_up_outcome"),
    # Lesions on the body map
    path("patients/<int:patient_id>/lesions/new/", lesions.lesion_add, name="lesion_add"),
    path("lesions/<int:pk>/edit/", lesions.lesion_edit, name="lesion_edit"),
    # Photos, served only through these checked views
    path("patients/<int:patient_id>/photos/new/", photos.photo_upload, name="photo_upload"),
    path(
        "photos/<int:pk>/image/",
        audited(AccessLog.Action.PHOTO_VIEW, patient=_photo_patient)(photos.photo_image),
        name="photo_image",
    ),
    path(
        "photos/<int:pk>/thumbnail/",
        audited(AccessLog.Action.PHOTO_VIEW, patient=_photo_patient)(photos.photo_thumbnail),
        name="photo_thumbnail",
    ),
    path(
        "lesions/<int:lesion_id>/compare/",
        audited(AccessLog.Action.PHOTO_VIEW, patient=patient_of("patients.Lesion", "lesion_id"))(
            photos.lesion_compare
        ),
        name="lesion_compare",
    ),
    # Recurrence checks by photo: the dermatologists' queue, one check and its review
    path("photo-checks/", photo_checks.photo_check_list, name="photo_check_list"),
    path(
        "photo-checks/<int:pk>/",
        audited(
            AccessLog.Action.PHOTO_VIEW,
            patient=patient_of("treatments.PhotoCheck", "pk"),
            shown_with_errors=True,
        )(photo_checks.photo_check_detail),
        name="photo_check_detail",
    ),
    path(
        "photo-checks/images/<int:pk>/",
        _photo_check_image_viewed(photo_checks.photo_check_image),
        name="photo_check_image",
    ),
    path(
        "photo-checks/images/<int:pk>/thumbnail/",
        _photo_check_image_viewed(photo_checks.photo_check_thumbnail),
        name="photo_check_thumbnail",
    ),
]
