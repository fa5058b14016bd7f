from django.core.management.base import BaseCommand, CommandError

from clinic.selectors import beat_is_fresh, beat_last_seen


class Command(BaseCommand):
    help = (
        "Exit 0 when beat's heartbeat came back (sent by beat, run by a worker) within "
        "CLINIC_HEARTBEAT_STALE_SECONDS, 1 otherwise: the beat container's healthcheck."
    )

    def handle(self, *args, **options):
        last_seen = beat_last_seen()
        if not beat_is_fresh(last_seen):
            raise CommandError(f"beat's heartbeat is stale (last seen: {last_seen or 'never'})")
        self.stdout.write(f"beat's heartbeat is fresh (last seen: {last_seen.isoformat()})")
