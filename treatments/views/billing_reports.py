"""The manager's billing reports: a day's takings (page and CSV) and the charges of a
period as CSV for an external billing service. The CSV downloads are written to the
access log as exports."""

from django.conf import settings
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from clinic.audit import access_log_record_export
from clinic.csv_export import csv_response
from clinic.models import StaffMember
from clinic.permissions import role_required

from ..forms.billing_documents import ChargesExportForm, TakingsDayForm
from ..selectors.billing_reports import charges_for_export, day_takings

MANAGER = StaffMember.Role.MANAGER


def _takings_day(request):
    form = TakingsDayForm(request.GET or {"date": timezone.localdate().isoformat()})
    return form, form.cleaned_data["date"] if form.is_valid() else None


@require_GET
@role_required(MANAGER)
def takings(request):
    """The takings of ?date= (today by default): per method, per staff member, the day's
    total and each receipt. A 400 with the form's error for a date that is not one."""
    form, day = _takings_day(request)
    context = {"form": form, "takings": day_takings(day=day) if day else None}
    return render(request, "treatments/billing/takings.html", context, status=200 if day else 400)


@require_GET
@role_required(MANAGER)
def takings_csv(request):
    """The day's takings as CSV: one row per method, per staff member, and the total."""
    form, day = _takings_day(request)
    if day is None:
        return render(request, "treatments/billing/takings.html", {"form": form}, status=400)
    report = day_takings(day=day)
    rows = [
        *(
            ("method", row.name, row.count, row.payments, row.refunds, row.net)
            for row in report.by_method
        ),
        *(
            ("staff", row.name, row.count, row.payments, row.refunds, row.net)
            for row in report.by_staff
        ),
        (
            "total",
            "",
            report.total.count,
            report.total.payments,
            report.total.refunds,
            report.total.net,
        ),
    ]
    access_log_record_export(request=request, patient_ids=[], detail=f"takings of {day}")
    return csv_response(
        f"takings-{day}.csv",
        ["section", "name", "count", "payments", "refunds", f"net_{report.currency}"],
        rows,
    )


CHARGE_COLUMNS = [
    "charge_id", "patient_mrn", "patient_last_name", "patient_first_name", "date_of_birth",
    "date_of_service", "cpt_code", "modifiers", "units", "icd10_codes", "unit_price",
    "tax_amount", "total", "currency", "payer", "insurer", "member_id", "rendering_npi",
    "billing_npi", "invoice_number",
]  # fmt: skip


@require_GET
@role_required(MANAGER)
def charges_csv(request):
    """The active charge lines of ?from= to ?to= (dates of service, both included, at
    most a year) as CSV for an external billing service; diagnoses in order, separated
    by spaces. One access-log row per patient in it."""
    form = ChargesExportForm(request.GET)
    if not form.is_valid():
        return render(request, "treatments/billing/charges_export.html", {"form": form}, status=400)
    first_day, last_day = form.cleaned_data["first_day"], form.cleaned_data["last_day"]
    charges = charges_for_export(first_day=first_day, last_day=last_day)
    rows = [
        (
            charge.pk,
            charge.patient.mrn,
            charge.patient.last_name,
            charge.patient.first_name,
            charge.patient.date_of_birth,
            charge.service_date,
            charge.cpt_code,
            charge.modifiers,
            charge.units,
            " ".join(charge.diagnosis_codes),
            charge.unit_price,
            charge.tax_amount,
            charge.total,
            settings.CLINIC_CURRENCY,
            charge.payer,
            charge.patient.insurer_name,
            charge.patient.insurance_member_id,
            charge.appointment.dermatologist.npi,
            settings.CLINIC_NPI,
            charge.invoice.number if charge.invoice else "",
        )  # fmt: skip
        for charge in charges
    ]
    access_log_record_export(
        request=request,
        patient_ids=[charge.patient_id for charge in charges],
        detail=f"charges {first_day} to {last_day}",
    )
    return csv_response(f"charges-{first_day}-to-{last_day}.csv", CHARGE_COLUMNS, rows)
