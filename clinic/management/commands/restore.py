from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from clinic.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup into the database (DATABASE_URL) and the photo folder configured "
        "here, after checking every checksum. Refuses a database that holds staff or "
        "patients, or a photo folder that holds files, unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup", type=Path, help="The backup's folder.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace what the database and the photo folder hold.",
        )

    def handle(self, *args, backup: Path, force: bool, **options):
        try:
            result = backup_restore(folder=backup, force=force)
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {backup} into the database {result.database} and {result.files} files."
            )
        )
