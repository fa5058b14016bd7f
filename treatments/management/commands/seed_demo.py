from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from treatments.seed.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Create the demo clinic (idempotent). Refuses to run under production settings."

    def handle(self, *args, **options):
        if not settings.CLINIC_DEMO_DATA_ALLOWED:
            raise CommandError("seed_demo refuses to run under production settings.")
        try:
            seed_demo()
        except (IntegrityError, ValidationError) as error:
            # seed_demo is one transaction: nothing of the demo was written.
            raise CommandError(
                "The demo clinic does not fit this database: its visits collide with the "
                f"ones already here ({error}). Seed the demo into an empty database."
            ) from None
        self.stdout.write(
            self.style.SUCCESS(
                "Demo data ready. Logins: reception, dermatologist, manager; "
                f"password {DEMO_PASSWORD}"
            )
        )
