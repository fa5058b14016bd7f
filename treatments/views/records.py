"""The dermatologist's records: the chart, recording and signing procedures, follow-ups.

Clinical notes are the dermatologists' (managers read them); receptionists get 403.
"""

import re
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from clinic.audit import audited, patient_of
from clinic.errors import form_add_error
from clinic.models import AccessLog
from clinic.params import id_param
from clinic.permissions import (
    CLINICAL_READERS,
    CLINICIANS,
    EVERY_ROLE,
    FRONT_DESK,
    has_role,
    role_required,
)
from patients.bodymap import body_map_context
from patients.models import Lesion, Patient
from patients.selectors import patient_reader_language

from ..chart_lists import chart_lists
from ..forms.records import (
    AlertForm,
    AmendmentForm,
    OutcomeForm,
    ProcedureForm,
    ProcedureReviseForm,
)
from ..models import Appointment, FollowUp, Procedure, ProcedureType
from ..selectors.billing import charges_of_record
from ..selectors.photo_checks import photo_checks_waiting_count
from ..selectors.records import (
    chart_for_patient,
    follow_ups_due_page,
    procedure_for_page,
    procedure_of_visit,
)
from ..selectors.records import my_day as my_day_appointments
from ..services import records
from ..services.records import technique_fields
from .calendar import BadDate, bad_date_page, requested_day

# A row's id in a paging link (the chart's ?before=, the follow-ups' ?after=): 1 to 18
# digits, a bigint's range.
ID_IN_LINK = re.compile(r"[1-9][0-9]{0,17}")


class DamagedPageLink(ValueError):
    """A paging link's id that is not one: the user's to fix, not a server error."""


def _page_key(request, name: str) -> int | None:
    """The row id a paging link carries in ?<name>=, None on the first page."""
    value = request.GET.get(name)
    if value is None:
        return None
    if not ID_IN_LINK.fullmatch(value):
        raise DamagedPageLink(value)
    return int(value)


def _damaged_page_link(request, *, what: str, again: str, url: str, back_to: str):
    context = {"what": what, "again": again, "url": url, "back_to": back_to}
    return render(request, "treatments/damaged_page_link.html", context, status=400)


@require_GET
@role_required(*CLINICIANS)
def my_day(request):
    """The dermatologist's own visits of a day (?date=, today by default), with the way
    to each chart and record, and to the days before and after."""
    try:
        day = requested_day(request)
    except BadDate as error:
        return bad_date_page(request, error)
    return render(
        request,
        "treatments/my_day.html",
        {
            "appointments": my_day_appointments(staff_member=request.user.staff_member, day=day),
            "day": day,
            "today": timezone.localdate(),
            "previous_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
            "photo_checks_waiting": photo_checks_waiting_count(),
        },
    )


def _chart_context(request, patient_id, before: int | None) -> dict:
    try:
        chart = chart_for_patient(patient_id=patient_id, before=before)
    except Patient.DoesNotExist:
        raise Http404(_("No such patient.")) from None
    can_edit = has_role(request.user, CLINICIANS)
    return {
        **chart,
        **chart_lists(chart, can_edit=can_edit),
        **body_map_context(patient=chart["patient"], lesions=chart["lesions"], can_edit=can_edit),
        "can_edit": can_edit,
        "can_upload": can_edit,
    }


@require_GET
@role_required(*CLINICAL_READERS)
def patient_chart(request, patient_id):
    """The chart; ?before=<visit id> pages the timeline back to the visits older than that."""
    try:
        before = _page_key(request, "before")
    except DamagedPageLink:
        return _damaged_page_link(
            request,
            what=_("The chart cannot show those visits"),
            again=_(
                "This link to older visits is damaged. Open the chart and choose “Older visits” "
                "again."
            ),
            url=reverse("treatments:patient_chart", args=[patient_id]),
            back_to=_("Open the chart"),
        )
    return render(request, "treatments/chart.html", _chart_context(request, patient_id, before))


def _appointment(pk) -> Appointment:
    try:
        return Appointment.objects.select_related(
            "patient", "procedure_type", "dermatologist__user"
        ).get(pk=pk)
    except Appointment.DoesNotExist:
        raise Http404(_("No such appointment.")) from None


@audited(
    AccessLog.Action.RECORD_VIEW,
    patient=patient_of("treatments.Appointment", "pk"),  # the page shows the patient's alerts
    shown_with_errors=True,
)
@role_required(*CLINICIANS)
def procedure_record(request, pk):
    """Record the procedure of a checked-in visit: lesions, technique, consent, note, code."""
    appointment = _appointment(pk)
    # A POST meets an existing record in the service (RecordExists), under the visit's lock.
    existing = procedure_of_visit(appointment=appointment) if request.method != "POST" else None
    if existing is not None:
        return redirect("treatments:procedure_detail", pk=existing.pk)
    data = request.POST if request.method == "POST" else None
    initial = {"procedure_type": request.GET.get("procedure_type") or appointment.procedure_type_id}
    own_visit = getattr(request.user, "staff_member", None) == appointment.dermatologist
    form = ProcedureForm(
        data,
        patient=appointment.patient,
        on_behalf_of=None if own_visit else appointment.dermatologist,
        initial=initial,
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            procedure = records.procedure_record(
                appointment=appointment,
                procedure_type=form.cleaned_data["procedure_type"],
                lesions=form.cleaned_data["lesions"],
                technique=form.technique(),
                consent=form.consent(),
                complications=form.complications(),
                note=form.cleaned_data["note"],
                diagnosis_code=form.cleaned_data["diagnosis_code"],
                secondary_diagnosis_codes=form.cleaned_data["secondary_diagnosis_codes"],
                procedure_code=form.cleaned_data["procedure_code"].strip(),
                by=request.user,
                on_behalf=form.cleaned_data.get("on_behalf", False),
            )
        except records.RecordExists as exists:  # recorded meanwhile, from another screen
            return _record_exists(request, exists)
        except ValidationError as error:
            status = form_add_error(form, error)
        else:
            messages.success(request, _("Recorded. Review and sign it."))
            return redirect("treatments:procedure_detail", pk=procedure.pk)
    elif request.method == "POST":
        existing = procedure_of_visit(appointment=appointment)
        if existing is not None:  # recorded already: that, rather than this form's errors
            return _record_exists(request, records.RecordExists(existing))
        status = 400
    chosen = _chosen_type(form, appointment)
    context = {
        "form": form,
        "appointment": appointment,
        "patient": appointment.patient,
        "technique_fields": [
            form[name] for name in sorted(technique_fields(chosen)) if name in form.fields
        ]
        if chosen
        else [],
        "procedure_type": chosen,
        "alerts": appointment.patient.alerts.filter(is_active=True),
        "own_visit": own_visit,
    }
    return render(request, "treatments/procedure_record.html", context, status=status)


def _record_exists(request, exists):
    """A record is written once; after signing only an amendment may change it."""
    context = {"procedure": exists.procedure, "message": str(exists)}
    return render(request, "treatments/procedure_locked.html", context, status=409)


def _chosen_type(form, appointment) -> ProcedureType | None:
    procedure_type_id = id_param(form["procedure_type"].value())
    if procedure_type_id is not None:
        return ProcedureType.objects.filter(pk=procedure_type_id).first()
    return appointment.procedure_type


def _procedure(pk) -> Procedure:
    try:
        return procedure_for_page(pk=pk)
    except Procedure.DoesNotExist:
        raise Http404(_("No such record.")) from None


@require_GET
@role_required(*CLINICAL_READERS)
def procedure_detail(request, pk):
    """The record, with who wrote it (and for whom), its history, and signing for its
    dermatologist."""
    procedure = _procedure(pk)
    own = getattr(request.user, "staff_member", None) == procedure.dermatologist
    author = procedure.created_by_id == request.user.pk
    return render(
        request,
        "treatments/procedure_detail.html",
        {
            "procedure": procedure,
            "can_sign": own and not procedure.is_signed,
            "can_revise": (own or author) and not procedure.is_signed,
            "can_amend": has_role(request.user, CLINICIANS) and procedure.is_signed,
            "amendment_form": AmendmentForm(),
            "follow_up": procedure.follow_ups.all()[:1],
            "history": _record_history(procedure),
            # Read-only here: the lines signing wrote, and the trail of their amendments.
            "charges": charges_of_record(procedure=procedure),
        },
    )


def _person(user) -> str:
    """A user as the staff pages name them: "Dr. Ana Ortiz", else their name or login."""
    if user is None:
        return "the system"
    staff_member = getattr(user, "staff_member", None)
    return str(staff_member) if staff_member else user.get_full_name() or user.get_username()


def _record_history(procedure: Procedure) -> list[dict]:
    """The record's changes from its history rows, oldest first: when, what, by whom."""
    rows = list(
        procedure.history.select_related("history_user__staff_member").order_by(
            "history_date", "history_id"
        )
    )
    entries = []
    for previous, row in zip([None, *rows], rows, strict=False):
        if previous is None:
            what = _("Recorded")
            if row.recorded_on_behalf:
                what = _("Recorded on behalf of %(name)s") % {"name": procedure.dermatologist}
        elif previous.status != row.status and row.status == Procedure.Status.SIGNED:
            what = _("Signed and locked")
        elif previous.note != row.note:
            what = _("Note changed")
        else:
            what = _("Changed")
        entries.append({"at": row.history_date, "what": what, "by": _person(row.history_user)})
    return entries


@audited(AccessLog.Action.RECORD_VIEW, patient=patient_of("treatments.Procedure", "pk"))
@require_http_methods(["GET", "POST"])
@role_required(*CLINICIANS)
def procedure_sign(request, pk):
    """Signing asks first: GET shows what will be locked and who signs; POST signs."""
    procedure = _procedure(pk)
    if procedure.is_signed:
        messages.info(request, _("This record is already signed. Add an amendment to correct it."))
        return redirect("treatments:procedure_detail", pk=pk)
    if request.method == "GET":
        if getattr(request.user, "staff_member", None) != procedure.dermatologist:
            raise PermissionDenied(
                _("Only the dermatologist who did the procedure signs its record.")
            )
        return render(request, "treatments/procedure_sign.html", {"procedure": procedure})
    try:
        records.procedure_sign(procedure=procedure, by=request.user)
    except records.RecordLocked as error:
        messages.error(request, str(error))
        return redirect("treatments:procedure_detail", pk=pk)
    except PermissionError as error:
        raise PermissionDenied(str(error)) from None
    messages.success(request, _("Signed. The record is now locked."))
    return redirect("treatments:procedure_detail", pk=pk)


@audited(
    AccessLog.Action.RECORD_VIEW,
    patient=patient_of("treatments.Procedure", "pk"),
    shown_with_errors=True,
)
@require_http_methods(["GET", "POST"])
@role_required(*CLINICIANS)
def procedure_revise(request, pk):
    """Change a draft record until it is signed: the record's dermatologist or its author."""
    try:
        procedure = Procedure.objects.select_related(
            "patient", "procedure_type", "appointment__dermatologist", "created_by"
        ).get(pk=pk)
    except Procedure.DoesNotExist:
        raise Http404(_("No such record.")) from None
    if procedure.is_signed:
        return _record_exists(request, records.RecordExists(procedure))
    form = ProcedureReviseForm(request.POST or None, procedure=procedure)
    status = 200
    try:
        records.check_may_revise(procedure, request.user)
        if request.method == "POST" and form.is_valid():
            records.procedure_revise(
                procedure=procedure,
                lesions=form.cleaned_data["lesions"],
                technique=form.technique(),
                consent=form.consent(),
                complications=form.complications(),
                note=form.cleaned_data["note"],
                diagnosis_code=form.cleaned_data["diagnosis_code"],
                secondary_diagnosis_codes=form.cleaned_data["secondary_diagnosis_codes"],
                procedure_code=form.cleaned_data["procedure_code"].strip(),
                by=request.user,
            )
            messages.success(request, _("Draft changed. Review and sign it."))
            return redirect("treatments:procedure_detail", pk=pk)
        if request.method == "POST":
            status = 400
    except PermissionError as error:
        raise PermissionDenied(str(error)) from None
    except records.RecordLocked:  # signed meanwhile, from another screen
        procedure.refresh_from_db()
        return _record_exists(request, records.RecordExists(procedure))
    except ValidationError as error:
        status = form_add_error(form, error)
    appointment = procedure.appointment
    context = {
        "form": form,
        "draft": procedure,
        "appointment": appointment,
        "patient": procedure.patient,
        "technique_fields": [
            form[name]
            for name in sorted(technique_fields(procedure.procedure_type))
            if name in form.fields
        ],
        "procedure_type": procedure.procedure_type,
        "alerts": procedure.patient.alerts.filter(is_active=True),
    }
    return render(request, "treatments/procedure_record.html", context, status=status)


@audited(
    AccessLog.Action.RECORD_VIEW,
    patient=patient_of("treatments.Procedure", "pk"),
    shown_with_errors=True,
)
@role_required(*CLINICIANS)
def procedure_amend(request, pk):
    """Correct a signed record with an amendment (author, time and reason kept)."""
    procedure = _procedure(pk)
    form = AmendmentForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            records.procedure_amend(procedure=procedure, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            status = form_add_error(form, error)
        else:
            messages.success(request, _("Amendment added beside the original."))
            return redirect("treatments:procedure_detail", pk=pk)
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "treatments/procedure_amend.html",
        {"procedure": procedure, "form": form},
        status=status,
    )


@require_GET
@role_required(*CLINICAL_READERS)
def procedure_handout(request, pk):
    """The aftercare handout to print and give the patient: one clean page, in the
    patient's language (the aftercare text itself is the one stored with the record)."""
    procedure = _procedure(pk)
    with translation.override(patient_reader_language(procedure.patient)):
        return render(
            request,
            "treatments/handout.html",
            {"procedure": procedure, "follow_up": procedure.follow_ups.first()},
        )


@require_GET
@role_required(*EVERY_ROLE)
def follow_up_list(request):
    """Follow-ups due and overdue across the clinic, a page at a time (?after=<follow-up
    id> pages on by key); the desk books the check from here."""
    try:
        after = _page_key(request, "after")
    except DamagedPageLink:
        return _damaged_page_link(
            request,
            what=_("The follow-ups list cannot show that page"),
            again=_(
                "This link to more follow-ups is damaged. Open the list and choose “Next "
                "follow-ups” again."
            ),
            url=reverse("treatments:follow_up_list"),
            back_to=_("Open the follow-ups due"),
        )
    today = timezone.localdate()
    page = follow_ups_due_page(today=today, after=after)
    return render(
        request,
        "treatments/follow_ups.html",
        {
            "follow_ups": page.follow_ups,
            "next_after": page.next_after,
            "later_page": after is not None,
            "today": today,
            "front_desk": has_role(request.user, FRONT_DESK),
            "clinician": has_role(request.user, CLINICIANS),
            "check_type": ProcedureType.objects.filter(slug="watchful-waiting").first(),
        },
    )


@audited(
    AccessLog.Action.RECORD_VIEW,
    patient=patient_of("treatments.FollowUp", "pk"),  # the page lists the treated lesions
    shown_with_errors=True,
)
@role_required(*CLINICIANS)
def follow_up_outcome(request, pk):
    """What became of each lesion; resolved lesions close, recurring ones earn a recheck."""
    follow_up = get_object_or_404(FollowUp.objects.select_related("patient", "procedure"), pk=pk)
    lesions = list(
        follow_up.procedure.lesions.all()
        if follow_up.procedure
        else Lesion.objects.filter(patient=follow_up.patient, status__in=Lesion.CURRENT)
    )
    data = request.POST if request.method == "POST" else None
    forms = [(lesion, OutcomeForm(data, prefix=f"lesion-{lesion.pk}")) for lesion in lesions]
    status = 200
    if request.method == "POST":
        if all(form.is_valid() for _, form in forms):
            outcomes = [
                {"lesion": lesion, **form.cleaned_data}
                for lesion, form in forms
                if form.cleaned_data.get("outcome")
            ]
            try:
                records.follow_up_record_outcomes(
                    follow_up=follow_up, outcomes=outcomes, by=request.user
                )
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
                status = 400
            else:
                messages.success(request, _("Outcomes recorded."))
                return redirect("treatments:patient_chart", patient_id=follow_up.patient_id)
        else:
            status = 400
    return render(
        request,
        "treatments/follow_up_outcome.html",
        {"follow_up": follow_up, "forms": forms},
        status=status,
    )


@role_required(*CLINICIANS)
def alert_add(request, patient_id):
    patient = get_object_or_404(Patient, pk=patient_id)
    form = AlertForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        records.alert_add(patient=patient, by=request.user, **form.cleaned_data)
        messages.success(request, _("Alert added."))
        return redirect("treatments:patient_chart", patient_id=patient.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "treatments/alert_form.html", {"form": form, "patient": patient}, status=status
    )
