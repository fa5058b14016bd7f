from django.urls import path

from .views import (
    appointments,
    calendar,
    dashboard,
    home,
    lesions,
    links,
    patients,
    photos,
    records,
    waitlist,
)

urlpatterns = [
    path("", home.home, name="home"),
    path("dashboard/", dashboard.manager_dashboard, name="manager_dashboard"),
    # Patients' signed links from reminders: no login, the token is the permission.
    path("l/<str:token>/", links.patient_link, name="patient_link"),
    # The front desk's patient pages
    path("patients/", patients.patient_search, name="patient_search"),
    path("patients/new/", patients.patient_register, name="patient_register"),
    path("patients/<int:pk>/", patients.patient_detail, name="patient_detail"),
    path("schedule/day/", calendar.schedule_day, name="schedule_day"),
    path("schedule/week/<int:dermatologist_id>/", calendar.schedule_week, name="schedule_week"),
    path("appointments/new/", appointments.appointment_book, name="appointment_book"),
    path("appointments/slots/", appointments.slot_picker, name="slot_picker"),
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
    path("patients/<int:patient_id>/chart/", records.patient_chart, name="patient_chart"),
    path("patients/<int:patient_id>/alerts/new/", records.alert_add, name="alert_add"),
    path("procedures/<int:pk>/", records.procedure_detail, name="procedure_detail"),
    path("procedures/<int:pk>/sign/", records.procedure_sign, name="procedure_sign"),
    path("procedures/<int:pk>/amend/", records.procedure_amend, name="procedure_amend"),
    path("procedures/<int:pk>/handout/", records.procedure_handout, name="procedure_handout"),
    path("follow-ups/", records.follow_up_list, name="follow_up_list"),
    path("follow-ups/<int:pk>/outcome/", records.follow_up_outcome, name="follow_up_outcome"),
    # Lesions on the body map
    path("patients/<int:patient_id>/lesions/new/", lesions.lesion_add, name="lesion_add"),
    path("lesions/<int:pk>/edit/", lesions.lesion_edit, name="lesion_edit"),
    # Photos, served only through these checked views
    path("patients/<int:patient_id>/photos/new/", photos.photo_upload, name="photo_upload"),
    path("photos/<int:pk>/image/", photos.photo_image, name="photo_image"),
    path("photos/<int:pk>/thumbnail/", photos.photo_thumbnail, name="photo_thumbnail"),
    path("lesions/<int:lesion_id>/compare/", photos.lesion_compare, name="lesion_compare"),
]
