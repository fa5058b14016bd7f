"""The public pages: for everyone, no login (tests/clinic/test_url_access.py, PUBLIC)."""

from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("robots.txt", views.robots_txt, name="robots_txt"),
    path("book/", views.book_start, name="book_start"),
    path("book/details/", views.book_details, name="book_details"),
    path("book/verify/<str:reference>/", views.booking_verify, name="booking_verify"),
    path("book/verify/<str:reference>/choose/", views.booking_choose, name="booking_choose"),
    path("portal/", views.portal_home, name="portal_home"),
    path("portal/verify/<str:reference>/", views.portal_verify, name="portal_verify"),
    path(
        "portal/patients/<int:patient_id>/preferences/",
        views.portal_preferences,
        name="portal_preferences",
    ),
    path("portal/logout/", views.portal_logout, name="portal_logout"),
]
