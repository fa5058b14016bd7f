from django.urls import path

from .views import appointments, calendar, links, waitlist

urlpatterns = [
    # Patients' signed links from reminders: no login, the token is the permission.
    path("l/<str:token>/", links.patient_link, name="patient_link"),
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
    path(
        "appointments/<int:pk>/<slug:action>/",
        appointments.appointment_action,
        name="appointment_action",
    ),
    path("arrivals/", appointments.arrivals, name="arrivals"),
    path("waitlist/", waitlist.waitlist, name="waitlist"),
    path("waitlist/new/", waitlist.waitlist_add, name="waitlist_add"),
    path("waitlist/<int:pk>/remove/", waitlist.waitlist_remove, name="waitlist_remove"),
]
