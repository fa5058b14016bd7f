"""`python manage.py seed_scale`: a busy clinic after ten years, for the benchmark."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from treatments.seed.scale import AlreadySeeded, ScaleSizes, seed_scale


class Command(BaseCommand):
    help = (
        "Fill an empty database with ten years of a busy clinic (deterministic). "
        "Refuses to run under production settings or on a database with appointments."
    )

    def add_arguments(self, parser):
        defaults = ScaleSizes()
        for name in ("dermatologists", "patients", "appointments", "lesions", "reminders"):
            parser.add_argument(f"--{name}", type=int, default=getattr(defaults, name))
        parser.add_argument(
            "--due-now", type=int, default=defaults.due_now, help="Reminders due at once"
        )
        parser.add_argument("--seed", type=int, default=defaults.seed)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        if not settings.CLINIC_DEMO_DATA_ALLOWED:
            raise CommandError("seed_scale refuses to run under production settings.")
        sizes = ScaleSizes(
            dermatologists=options["dermatologists"],
            patients=options["patients"],
            appointments=options["appointments"],
            lesions=options["lesions"],
            reminders=options["reminders"],
            due_now=min(options["due_now"], options["reminders"]),
            seed=options["seed"],
        )
        started = time.monotonic()
        try:
            written = seed_scale(sizes, progress=not options["no_progress"])
        except (AlreadySeeded, ValueError) as error:
            raise CommandError(str(error)) from None
        seconds = time.monotonic() - started
        for label, count in written.items():
            self.stdout.write(f"{label:28} {count:>10,}")
        self.stdout.write(self.style.SUCCESS(f"Seeded in {seconds:.1f} s."))
