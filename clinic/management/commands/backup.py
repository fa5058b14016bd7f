from django.core.management.base import BaseCommand, CommandError

from clinic.backup import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Back up the database and the clinical photos, with SHA-256 checksums, into "
        "CLINIC_BACKUP_DIR/<UTC time>/, and keep the newest CLINIC_BACKUP_KEEP backups."
    )

    def handle(self, *args, **options):
        try:
            folder = backup_create()
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(f"Backup written to {folder}"))
