"""The app's URLs and the benchmark's reference: a trivial page behind the same login."""

from django.urls import include, path

from . import views

urlpatterns = [
    path("bench/trivial/", views.trivial, name="bench_trivial"),
    path("", include("clinic.urls")),
]
