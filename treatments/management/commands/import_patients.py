"""`manage.py import_patients patients.csv --by <manager> [--dry-run]` (docs/import.md)."""

from clinic.imports import CsvImportCommand
from patients.resources import PatientResource


class Command(CsvImportCommand):
    help = "Import patients and their guardians from a CSV file (docs/import.md)."
    resource_class = PatientResource
