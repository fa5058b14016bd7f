from django.urls import path

from . import views

urlpatterns = [
    path("", views.patient_search, name="patient_search"),
    path("new/", views.patient_register, name="patient_register"),
    path("<int:pk>/", views.patient_detail, name="patient_detail"),
]
