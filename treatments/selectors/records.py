"""Reads of the clinical record: the chart, a procedure, follow-ups due."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict, cast

from django.db.models import (
    Aggregate,
    Count,
    F,
    JSONField,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import JSONObject
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from clinic.models import StaffMember
from patients.models import Guardian, Lesion, Patient, PatientAlert

from ..models import (
    Amendment,
    Appointment,
    ClinicalPhoto,
    FollowUp,
    Procedure,
    ProcedureLesion,
    ProcedureType,
)
from .appointments import appointments_of_day

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType
    from django_stubs_ext import WithAnnotations

# A short list read in its parent's query, as JSON objects; None when it is empty.
JsonRows = list[dict[str, Any]] | None


class _ChartLists(TypedDict):
    guardian_rows: JsonRows
    alert_rows: JsonRows
    photo_rows: JsonRows
    chart_guardians: list[Guardian]
    chart_alerts: list[PatientAlert]
    chart_photos: list[ClinicalPhoto]


# A patient as the chart reads them: with the lists above.
ChartPatient: TypeAlias = "WithAnnotations[Patient, _ChartLists]"

# The chart's first screen shows this many visits; "Older visits" pages back as many at a time.
TIMELINE_VISITS = 20
FOLLOW_UPS_SHOWN = 50
FOLLOW_UPS_AHEAD_DAYS = 30
# What the chart shows of a lesion (only these columns are read).
LESION_FIELDS_SHOWN = [
    "site",
    "milia_type",
    "size_mm",
    "count",
    "colour",
    "first_noted",
    "status",
    "resolved_on",
    "last_treated_on",
]


def chart_for_patient(*, patient_id: int, before: int | None = None) -> dict[str, Any]:
    """Everything the chart shows, in four queries whatever the length of the history.

    1. the patient, with guardians, active alerts and photos;
    2. the timeline's visits: the latest TIMELINE_VISITS, or with `before` (a visit's id)
       those before that visit, a key rather than an offset; each with its procedure and
       the procedure's number of lesions, amendments and follow-ups;
    3. the lesions;
    4. the latest FOLLOW_UPS_SHOWN follow-ups by due date.
    Raises Patient.DoesNotExist.
    """
    patient = _patient_with_lists(patient_id)
    visits = _timeline_visits(patient_id, before=before)
    lesions = list(
        Lesion.objects.filter(patient_id=patient_id)
        .only(*LESION_FIELDS_SHOWN)
        .order_by("status", "site", "pk")
    )
    follow_ups = (
        FollowUp.objects.filter(patient_id=patient_id)
        .order_by("-due_on", "-pk")
        .values("pk", "kind", "due_on", "status")
    )
    return {
        "patient": patient,
        "guardians": patient.chart_guardians,
        "alerts": patient.chart_alerts,
        "photos": patient.chart_photos,
        "lesions": lesions,
        "follow_ups": list(follow_ups[:FOLLOW_UPS_SHOWN]),
        "visits": visits[:TIMELINE_VISITS],
        "before": before,
        # Where the next page back starts: after the oldest visit shown, if any are older.
        "older_than": visits[TIMELINE_VISITS - 1]["pk"] if len(visits) > TIMELINE_VISITS else None,
    }


class _JSONList(Aggregate):
    """The group's values as one JSON array, on SQLite and on PostgreSQL."""

    function = "JSON_GROUP_ARRAY"  # SQLite
    output_field = JSONField()

    def as_postgresql(
        self, compiler: "SQLCompiler", connection: "BaseDatabaseWrapper", **extra_context: Any
    ) -> "_AsSqlType":
        return super().as_sql(compiler, connection, function="JSONB_AGG", **extra_context)


def _json_rows(queryset: QuerySet[Model], *, of: str, **fields: str) -> Subquery:
    """The rows of `queryset` (which filters `of` on an OuterRef) as a list of objects with
    `fields`, in one column: so a short list comes in the query of the row it belongs to.
    None when there are none."""
    rows = _JSONList(JSONObject(**fields))
    return Subquery(queryset.order_by().values(of).annotate(rows=rows).values("rows"))


def _aware(value: str) -> datetime:
    """A time from a JSON list: PostgreSQL writes it with its offset, SQLite in UTC without."""
    at = parse_datetime(value)
    if at is None:
        raise ValueError(f"Not a time: {value!r}")
    return at if timezone.is_aware(at) else at.replace(tzinfo=UTC)


@cache
def _patients_with_lists() -> QuerySet[Patient]:
    """Patients with their guardians, active alerts and photos as JSON lists. Built once
    (resolving the subqueries took longer than the database took to run them) and never
    evaluated itself: each chart filters a copy."""
    return Patient.objects.annotate(
        guardian_rows=_json_rows(
            Guardian.objects.filter(patient=OuterRef("pk")),
            of="patient",
            first_name="first_name",
            last_name="last_name",
            relationship="relationship",
            receives_reminders="receives_reminders",
        ),
        alert_rows=_json_rows(
            PatientAlert.objects.filter(patient=OuterRef("pk"), is_active=True),
            of="patient",
            kind="kind",
            description="description",
        ),
        photo_rows=_json_rows(
            ClinicalPhoto.objects.filter(patient=OuterRef("pk")),
            of="patient",
            id="id",
            lesion_id="lesion_id",
            taken_on="taken_on",
            caption="caption",
        ),
    )


def _patient_with_lists(patient_id: int) -> ChartPatient:
    """The patient, with chart_guardians, chart_alerts (the active ones) and chart_photos."""
    # The lists are set just below (a cast: no conversion).
    patient = cast(ChartPatient, _patients_with_lists().get(pk=patient_id))
    # In each model's own order. Photos are uploaded in id order: (taken_on, id) is
    # (taken_on, uploaded_at).
    patient.chart_guardians = sorted(
        (Guardian(**row) for row in patient.guardian_rows or []),
        key=lambda guardian: (
            not guardian.receives_reminders,
            guardian.last_name,
            guardian.first_name,
        ),
    )
    patient.chart_alerts = sorted(
        (PatientAlert(**row) for row in patient.alert_rows or []),
        key=lambda alert: (alert.kind, alert.description),
    )
    patient.chart_photos = sorted(
        (
            ClinicalPhoto(**{**row, "taken_on": date.fromisoformat(row["taken_on"])})
            for row in patient.photo_rows or []
        ),
        key=lambda photo: (photo.taken_on, photo.pk),
    )
    return patient


@cache
def _timeline_rows() -> QuerySet[Appointment, Any]:  # rows: dicts, from values()
    """Visits, latest first, as rows of what the timeline shows of them and of their
    procedure: the names of their types, the number of lesions treated, amendments and
    follow-ups. Built once, like _patients_with_lists(). Rows rather than models, and the
    types' names from subqueries rather than joins: the query was the chart's slowest
    part, for Django to build and for PostgreSQL to plan."""
    of_the_procedure = {"procedure": OuterRef("procedure")}
    return (
        Appointment.objects.order_by("-starts_at", "-pk")
        .annotate(
            type_name=_name_of_type("procedure_type"),
            procedure_type_name=_name_of_type("procedure__procedure_type"),
            lesion_count=Subquery(
                ProcedureLesion.objects.filter(**of_the_procedure)
                .values("procedure")
                .annotate(count=Count("pk"))
                .values("count")
            ),
            amendment_rows=_json_rows(
                Amendment.objects.filter(**of_the_procedure),
                of="procedure",
                created_at="created_at",
                reason="reason",
                first_name="author__first_name",
                last_name="author__last_name",
                username="author__username",
            ),
            follow_up_rows=_json_rows(
                FollowUp.objects.filter(**of_the_procedure),
                of="procedure",
                kind="kind",
                due_on="due_on",
                created_at="created_at",
            ),
        )
        .values(
            "pk",
            "starts_at",
            "status",
            "type_name",
            "procedure_type_name",
            "lesion_count",
            "amendment_rows",
            "follow_up_rows",
            title=F("dermatologist__title"),
            first_name=F("dermatologist__user__first_name"),
            last_name=F("dermatologist__user__last_name"),
            username=F("dermatologist__user__username"),
            procedure_id=F("procedure__id"),
            performed_at=F("procedure__performed_at"),
            procedure_code=F("procedure__procedure_code"),
            procedure_status=F("procedure__status"),
            on_behalf=F("procedure__recorded_on_behalf"),
            author_title=F("procedure__created_by__staff_member__title"),
            author_first_name=F("procedure__created_by__first_name"),
            author_last_name=F("procedure__created_by__last_name"),
            author_username=F("procedure__created_by__username"),
        )
    )


def _name_of_type(field: str) -> Subquery:
    return Subquery(ProcedureType.objects.filter(pk=OuterRef(field)).values("name"))


def _timeline_visits(patient_id: int, *, before: int | None) -> list[dict[str, Any]]:
    """The latest TIMELINE_VISITS visits (before the visit `before`), and one more if there
    is one, so the chart knows whether to offer older visits.

    Each is a dict: pk, starts_at, status, type_name, dermatologist (the name), and when
    it has a procedure, procedure_id, performed_at, procedure_type_name, procedure_code,
    procedure_status, lesion_count, recorded_on_behalf_by (its author's name when another
    dermatologist recorded it on behalf, else ""), amendments (at, reason, author) and
    follow_ups (kind, due_on, at); procedure_id is None otherwise.
    """
    visits = _timeline_rows().filter(patient_id=patient_id)
    if before is not None:
        # The key is (start, id): two visits may start at the same time, e.g. a cancelled
        # one and the visit booked in its place.
        start = Subquery(
            Appointment.objects.filter(pk=before, patient_id=patient_id).values("starts_at")
        )
        visits = visits.filter(Q(starts_at__lt=start) | Q(starts_at=start, pk__lt=before))
    rows = list(visits[: TIMELINE_VISITS + 1])
    for visit in rows:
        visit["dermatologist"] = _staff_name(
            visit.pop("title"),
            visit.pop("first_name"),
            visit.pop("last_name"),
            visit.pop("username"),
        )
        author = [visit.pop(f"author_{part}") for part in STAFF_NAME_PARTS]
        # A record made on behalf names its author; others are the dermatologist's own.
        visit["recorded_on_behalf_by"] = (
            _staff_name(*[part or "" for part in author]) if visit.pop("on_behalf") else ""
        )
        visit["amendments"] = [
            {
                "at": _aware(row["created_at"]),
                "reason": row["reason"],
                "author": _staff_name("", row["first_name"], row["last_name"], row["username"]),
            }
            for row in visit.pop("amendment_rows") or []
        ]
        visit["follow_ups"] = [
            {
                "kind": row["kind"],
                "due_on": date.fromisoformat(row["due_on"]),
                "at": _aware(row["created_at"]),
            }
            for row in visit.pop("follow_up_rows") or []
        ]
    return rows


STAFF_NAME_PARTS = ("title", "first_name", "last_name", "username")


def _staff_name(title: str, first_name: str, last_name: str, username: str) -> str:
    """As StaffMember and User say it: the title, then the full name or the username."""
    name = f"{first_name} {last_name}".strip() or username
    return f"{title} {name}".strip()


def procedure_of_visit(*, appointment: Appointment) -> Procedure | None:
    """The visit's record, if it has one (a visit has at most one)."""
    return Procedure.objects.filter(appointment=appointment).first()


def procedure_for_page(*, pk: int) -> Procedure:
    return (
        Procedure.objects.select_related(
            "patient", "procedure_type", "dermatologist__user", "signed_by", "appointment"
        )
        .prefetch_related(
            "lesions",
            Prefetch("amendments", queryset=Amendment.objects.select_related("author")),
            "follow_ups",
        )
        .get(pk=pk)
    )


FOLLOW_UPS_PAGE = 100  # the follow-ups list shows this many at a time


@dataclass(frozen=True)
class FollowUpsPage:
    follow_ups: list[FollowUp]
    next_after: int | None  # the id the next page starts after; None on the last page


def follow_ups_due_page(*, today: date | None = None, after: int | None = None) -> FollowUpsPage:
    """A page of the open and booked follow-ups due by a month from now, overdue first.

    In (due_on, pk) order; with `after`, the page starts after that follow-up, whose due
    date a subquery reads: the list pages by key, however long the backlog. One follow-up
    more than the page is read to know whether another page follows.
    """
    today = today or timezone.localdate()
    due = FollowUp.objects.filter(
        status__in=[FollowUp.Status.OPEN, FollowUp.Status.BOOKED],
        due_on__lte=today + timedelta(days=FOLLOW_UPS_AHEAD_DAYS),
    )
    if after is not None:
        due_on = Subquery(FollowUp.objects.filter(pk=after).values("due_on")[:1])
        due = due.filter(Q(due_on__gt=due_on) | Q(due_on=due_on, pk__gt=after))
    follow_ups = list(
        due.select_related("patient", "appointment__dermatologist__user").order_by("due_on", "pk")[
            : FOLLOW_UPS_PAGE + 1
        ]
    )
    more = len(follow_ups) > FOLLOW_UPS_PAGE
    return FollowUpsPage(
        follow_ups[:FOLLOW_UPS_PAGE], follow_ups[FOLLOW_UPS_PAGE - 1].pk if more else None
    )


def my_day(*, staff_member: StaffMember, day: date | None = None) -> QuerySet[Appointment]:
    return (
        appointments_of_day(day=day).filter(dermatologist=staff_member).select_related("procedure")
    )
