"""What the CSV imports of a clinic moving in share (docs/import.md): each row's fate for
the dry-run page and the command's report, and the admin pages' rules.

django-import-export's admin pages run the import, through each resource's import_data
(the patients resource has its own, which writes new rows in batches). Its admin offers
"Confirm" only for a file with no row in error; here the rows in error are reported and
the others imported, so the dry run of a file with bad rows can be confirmed too. A fault
that is not a row's (a broken file, an unexpected error) still rolls the whole import
back, and cannot be confirmed.
"""

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import tablib
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from import_export.admin import ImportMixin
from import_export.formats.base_formats import CSV
from import_export.resources import Resource
from import_export.results import Result, RowResult

from patients.resources import PatientResource

from .models import StaffMember
from .permissions import has_role
from .schedule_version import schedule_changed_everywhere

# import-export's row types, as the dry-run page and the command name them.
FATES = {
    RowResult.IMPORT_TYPE_NEW: "new",
    RowResult.IMPORT_TYPE_UPDATE: "updated",
    RowResult.IMPORT_TYPE_SKIP: "skipped",
    RowResult.IMPORT_TYPE_INVALID: "error",
    RowResult.IMPORT_TYPE_ERROR: "error",
}


@dataclass(frozen=True)
class RowFate:
    number: int  # the row's number in the file, 1 for the first row after the header
    fate: str
    label: str
    reasons: list[str]


def _reasons(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [
            f"{field}: {message}" if field != "__all__" else message
            for field, messages in error.message_dict.items()
            for message in messages
        ]
    return list(error.messages)


def import_fates(result: Result) -> list[RowFate]:
    """Every row's fate, in the file's order (the resources report skipped rows too)."""
    fates = []
    for number, row in enumerate(result.rows, start=1):
        if row.validation_error is not None:
            reasons = _reasons(row.validation_error)
        else:
            reasons = [str(error.error) for error in row.errors]
        fates.append(
            RowFate(
                number=number,
                fate=FATES.get(row.import_type, row.import_type),
                label=row.object_repr or "",
                reasons=reasons,
            )
        )
    return fates


def import_counts(result: Result) -> dict[str, int]:
    counts = Counter(dict.fromkeys(("new", "updated", "skipped", "error"), 0))
    counts.update(FATES.get(row.import_type, row.import_type) for row in result.rows)
    return dict(counts)


class ClinicImportMixin(ImportMixin):
    """The admin's CSV import for managers: the dry run lists every row's fate and may be
    confirmed with rows in error (they are reported again, and skipped)."""

    import_template_name = "admin/clinic/import.html"
    # CSV only: the format the columns in docs/import.md are written for.
    import_formats = [CSV]
    # Each row's history names the manager; an admin log row per imported row adds nothing.
    skip_admin_log = True

    def has_import_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, [StaffMember.Role.MANAGER])

    def get_import_resource_kwargs(self, request, **kwargs):
        return {"by": request.user}

    def import_action(self, request, **kwargs):
        response = super().import_action(request, **kwargs)
        if isinstance(response, TemplateResponse) and response.context_data is not None:
            context = response.context_data
            result = context.get("result")
            if result is not None:
                context["fates"] = import_fates(result)
                context["counts"] = import_counts(result)
                if not result.has_errors() and "confirm_form" not in context:
                    context["confirm_form"] = self.create_confirm_form(
                        request, import_form=context["form"]
                    )
        return response

    def add_success_message(self, result: Result, request: HttpRequest) -> None:
        if result.has_errors():
            self.message_user(
                request,
                _(
                    "Nothing was imported: an error that is not a row's stopped the import. "
                    "Run the dry run again to see it."
                ),
                messages.ERROR,
            )
            return
        counts = import_counts(result)
        self.message_user(
            request,
            "Imported: {new} new, {updated} updated, {skipped} unchanged; "
            "{error} row(s) in error, not imported.".format(**counts),
        )


def import_user(username: str) -> User:
    """The manager a command-line import is attributed to (each row's history names them)."""
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None or not has_role(user, [StaffMember.Role.MANAGER]):
        raise ValidationError(f"{username} is not an active manager.")
    return user


def csv_dataset(path: Path) -> tablib.Dataset:
    """A CSV file as import-export reads it (UTF-8, a byte-order mark allowed)."""
    with path.open(encoding="utf-8-sig", newline="") as file:
        return tablib.Dataset().load(file.read(), format="csv")


class CsvImportCommand(BaseCommand):
    """`manage.py import_<what> file.csv --by <manager> [--dry-run]`: the admin's import for
    files too large to upload, through the same resource; prints every row in error and
    the counts."""

    resource_class: type[Resource]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--by", required=True, help="the manager the import is made by")
        parser.add_argument("--dry-run", action="store_true", help="report, write nothing")

    def handle(self, *args, file: Path, by: str, dry_run: bool, **options) -> None:
        try:
            user = import_user(by)
            dataset = csv_dataset(file)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(str(error)) from None
        started = time.monotonic()
        result = self.resource_class(by=user).import_data(dataset, dry_run=dry_run)
        seconds = time.monotonic() - started
        for fault in result.base_errors:
            self.stderr.write(f"error: {fault.error}")
        for row in import_fates(result):
            if row.fate == "error":
                self.stdout.write(f"row {row.number}: {'; '.join(row.reasons)}")
        counts = import_counts(result)
        summary = (
            f"{len(dataset)} rows in {seconds:.1f} s: {counts['new']} new, "
            f"{counts['updated']} updated, {counts['skipped']} unchanged, "
            f"{counts['error']} in error (not imported)."
        )
        self.stdout.write(("Dry run, nothing written. " if dry_run else "Imported. ") + summary)
        if result.has_errors():
            raise CommandError("Nothing was imported: an error that is not a row's.")


class PatientImportResource(PatientResource):
    """The patients' import of the admin and of `manage.py import_patients`: a file that
    renames a known patient also bumps every day's schedule version in the import's
    transaction, for the schedule pages show patients' names (clinic/schedule_version.py)."""

    def names_changed(self) -> None:
        schedule_changed_everywhere()
