from django.urls import path

from .views import appointments, calendar, waitlist

urlpatterns = [
    path("schedule/day/", calendar.schedule_day, name="schedule_day"),
    path("schedule/week/<int:dermatologist_id>/", calendar.schedule_week, name="schedule_week"),
    path("appointments/new/", appointments.appointment_book, name="appointment_book"),
    path("appointments/<int:pk>/", appointments.appointment_detail, name="appointment_detail"),
    path("arrivals/", appointments.arrivals, name="arrivals"),
    path("waitlist/", waitlist.waitlist, name="waitlist"),
]
