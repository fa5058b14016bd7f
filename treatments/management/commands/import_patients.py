"""`manage.py import_patients patients.csv --by <manager> [--dry-run]` (docs/import.md)."""

from clinic.imports import CsvImportCommand, PatientImportResource


class Command(CsvImportCommand):
    help = "Import patients and their guardians from a CSV file (docs/import.md)."
    resource_class = PatientImportResource
