"""The clinic's seed_demo, plus the demo API client. This app comes before treatments in
INSTALLED_APPS, so `manage.py seed_demo` is this command."""

from django.conf import settings
from django.core.management.base import CommandError

from fhir_api.services import api_client_seed_demo
from treatments.management.commands.seed_demo import Command as ClinicSeedDemo


class Command(ClinicSeedDemo):
    def handle(self, *args, **options):
        super().handle(*args, **options)
        if not settings.CLINIC_DEMO_DATA_ALLOWED:  # checked above too; never in production
            raise CommandError("seed_demo refuses to run under production settings.")
        client_id, secret = api_client_seed_demo()
        self.stdout.write(
            self.style.SUCCESS(f"Demo FHIR API client: id {client_id}, secret {secret}")
        )
