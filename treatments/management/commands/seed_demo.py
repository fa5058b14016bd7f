from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from treatments.seed.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Create the demo clinic (idempotent). Refuses to run under production settings."

    def handle(self, *args, **options):
        if not settings.CLINIC_DEMO_DATA_ALLOWED:
            raise CommandError("seed_demo refuses to run under production settings.")
        seed_demo()
        self.stdout.write(
            self.style.SUCCESS(
                "Demo data ready. Logins: reception, dermatologist, manager; "
                f"password {DEMO_PASSWORD}"
            )
        )
