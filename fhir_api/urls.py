from django.urls import path
from oauth2_provider.views import TokenView

from . import views

app_name = "fhir"

urlpatterns = [
    path("metadata", views.metadata, name="metadata"),
    path("auth/token", TokenView.as_view(), name="token"),
    path("$export", views.export_kick_off, name="export"),
    path("$export-status/<uuid:export_id>", views.export_status, name="export_status"),
    path("$export-file/<uuid:export_id>/<str:file_name>", views.export_file, name="export_file"),
    path("exports/<uuid:export_id>/<str:file_name>", views.export_download, name="export_download"),
    path("Patient/<str:resource_id>/$everything", views.patient_everything, name="everything"),
    path("Media/<str:resource_id>/content", views.media_content, name="media_content"),
    path("<str:resource_type>", views.type_endpoint, name="type"),
    path("<str:resource_type>/<str:resource_id>", views.instance_endpoint, name="instance"),
]
