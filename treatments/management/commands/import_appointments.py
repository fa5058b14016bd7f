"""`manage.py import_appointments visits.csv --by <manager> [--dry-run]` (docs/import.md)."""

from clinic.imports import CsvImportCommand

from ...resources import AppointmentResource


class Command(CsvImportCommand):
    help = "Import future visits from a CSV file, booked as at the desk (docs/import.md)."
    resource_class = AppointmentResource
