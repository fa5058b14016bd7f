from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "fhir_api"
    verbose_name = "FHIR API"
