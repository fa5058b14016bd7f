"""Writes of the FHIR API: registering clients and granting their scopes, the API's
bookings and patient records (through the clinic's own services, never around them),
and bulk exports."""

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import Application

from clinic.errors import ServiceError, StateConflict
from clinic.services import patient_details_change
from patients import services as patient_services
from patients.models import Patient
from treatments import services as treatment_services
from treatments.models import Appointment

from .everything import export_chunks
from .models import ApiClient, BulkExport
from .parse import AppointmentChange, BookingRequest
from .resources import version_of
from .scopes import validate_scopes

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewClient:
    api_client: ApiClient
    client_id: str
    client_secret: str  # shown once: only its hash is stored


def api_client_register(
    *,
    name: str,
    scopes: str,
    rate_limit_per_minute: int | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
) -> NewClient:
    """A new API client with the scopes granted: a client-credentials Application and
    its service account (`api-<name>`, which cannot log in), named in the history of
    what the client writes and in the access log of what it reads. The id and secret are
    generated unless given (the demo's are fixed)."""
    validate_scopes(scopes)
    username = f"api-{slugify(name)}"[:150]
    if not slugify(name):
        raise ServiceError({"name": "Give the client a name with letters or digits."})
    if User.objects.filter(username=username).exists():
        raise ServiceError({"name": f"A client or user named {username} exists already."})
    secret = client_secret or generate_client_secret()
    with transaction.atomic():
        user = User(username=username, first_name=name[:150], is_active=False)
        user.set_unusable_password()
        user.save()
        application = Application(
            name=name,
            user=user,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            client_secret=secret,
            hash_client_secret=True,
        )
        if client_id:
            application.client_id = client_id
        application.full_clean()
        application.save()
        api_client = ApiClient(
            application=application,
            granted_scopes=" ".join(scopes.split()),
            rate_limit_per_minute=rate_limit_per_minute,
        )
        api_client.full_clean()
        api_client.save()
    return NewClient(api_client, application.client_id, secret)


DEMO_CLIENT_ID = "demo-fhir-client"
DEMO_CLIENT_SECRET = "demo-fhir-secret"  # the demo's only: seed_demo refuses production
DEMO_SCOPES = "system/*.rs system/Appointment.cu system/Patient.cu"


def api_client_seed_demo() -> tuple[str, str]:
    """The demo clinic's API client (idempotent): its id and secret, to print."""
    if not Application.objects.filter(client_id=DEMO_CLIENT_ID).exists():
        api_client_register(
            name="Demo client",
            scopes=DEMO_SCOPES,
            client_id=DEMO_CLIENT_ID,
            client_secret=DEMO_CLIENT_SECRET,
        )
    return DEMO_CLIENT_ID, DEMO_CLIENT_SECRET


def api_client_grant(
    *, api_client: ApiClient, scopes: str, rate_limit_per_minute: int | None
) -> ApiClient:
    """Change what a client may do; tokens issued before keep their scopes until they
    expire, but never beyond the client's grant: `fhir_api.auth` checks both."""
    api_client.granted_scopes = " ".join(scopes.split())
    api_client.rate_limit_per_minute = rate_limit_per_minute
    api_client.full_clean()
    api_client.save(update_fields=["granted_scopes", "rate_limit_per_minute"])
    return api_client


def fhir_appointment_book(*, booking: BookingRequest, by: User) -> Appointment:
    """Book through the desk's service: the same rules, the same database guarantee."""
    return treatment_services.appointment_book(
        patient=booking.patient,
        dermatologist=booking.dermatologist,
        procedure_type=booking.procedure_type,
        starts_at=booking.starts_at,
        booked_by=by,
        reason=booking.reason,
    )


class VersionConflict(StateConflict):
    """The client's If-Match names an older version: 412 Precondition Failed."""

    status = HTTPStatus.PRECONDITION_FAILED


def _check_version(updated_at: datetime, version: str | None) -> None:
    if version is not None and version != version_of(updated_at):
        raise VersionConflict("The resource changed since that version; read it again.")


def fhir_appointment_update(
    *, appointment: Appointment, change: AppointmentChange, by: User, version: str | None
) -> Appointment:
    """Cancel or move an appointment; `version` (If-Match) must be the current one."""
    _check_version(appointment.updated_at, version)
    if change.cancel_reason is not None:
        return treatment_services.appointment_cancel(
            appointment=appointment, reason=change.cancel_reason, by=by
        )
    if change.starts_at is not None:
        return treatment_services.appointment_reschedule(
            appointment=appointment, starts_at=change.starts_at, by=by
        )
    return appointment


class PossibleDuplicate(StateConflict):
    """The patient to create may be registered already."""


def fhir_patient_create(*, fields: dict[str, Any], by: User) -> Patient:
    """Register a patient (an adult: a minor needs a guardian, which the desk adds)."""
    try:
        return patient_services.patient_register(
            patient=Patient(**fields), guardian=None, allow_duplicate=False, by=by
        )
    except patient_services.LikelyDuplicate as duplicate:
        found = ", ".join(f"Patient/{patient.pk}" for patient in duplicate.patients)
        raise PossibleDuplicate(f"This patient may be registered already: {found}.") from None


def fhir_patient_update(
    *, patient: Patient, fields: dict[str, Any], by: User, version: str | None
) -> Patient:
    """Change the record; with `version` (If-Match), only if it is still current, also
    against a change that lands between this read and the service's lock."""
    _check_version(patient.updated_at, version)
    seen_at = patient.updated_at if version is not None else None
    try:
        return patient_details_change(patient=patient, by=by, seen_at=seen_at, **fields)
    except patient_services.ConcurrentChange:
        raise VersionConflict("The resource changed since that version; read it again.") from None


# --- Bulk Data export -------------------------------------------------------------------


def bulk_export_request(
    *,
    requested_by: User,
    client: Application | None,
    request_url: str,
    types: list[str] | None = None,
    since: datetime | None = None,
) -> BulkExport:
    """Accept an export of `types` (every exported type when empty), changed after
    `since` (everything when None); the worker writes it once the request's transaction
    commits."""
    from .tasks import bulk_export_task

    export = BulkExport(
        requested_by=requested_by,
        client=client,
        request_url=request_url[:500],
        types=list(types or []),
        since=since,
    )
    export.full_clean(exclude=["requested_by", "client"])
    export.save()
    transaction.on_commit(lambda: bulk_export_task.delay(str(export.pk)))
    return export


def export_folder(export: BulkExport) -> Path:
    return Path(settings.FHIR_EXPORT_ROOT) / str(export.pk)


def bulk_export_run(*, export_id: str) -> BulkExport | None:
    """Write the export's NDJSON files, one per resource type. Claims the export with a
    conditional update, so a task delivered twice writes it once; None when another
    worker has it or it is finished."""
    claimed = BulkExport.objects.filter(pk=export_id, status=BulkExport.Status.ACCEPTED).update(
        status=BulkExport.Status.IN_PROGRESS
    )
    if claimed != 1:
        return None
    export = BulkExport.objects.get(pk=export_id)
    folder = export_folder(export)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    patient_ids: set[int] = set()
    try:
        for resource_type, chunks in export_chunks(types=export.types, since=export.since):
            count = 0
            path = folder / f"{resource_type}.ndjson"
            with path.open("w", encoding="utf-8") as ndjson:
                for resources, patients in chunks:
                    for resource in resources:
                        ndjson.write(
                            json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
                        )
                        ndjson.write("\n")
                    count += len(resources)
                    patient_ids.update(patients)
            files.append({"type": resource_type, "name": path.name, "count": count})
    except (OSError, ValidationError) as error:
        logger.exception("bulk export %s failed", export_id)
        BulkExport.objects.filter(pk=export_id).update(
            status=BulkExport.Status.FAILED, finished_at=timezone.now(), error=str(error)[:300]
        )
        raise
    BulkExport.objects.filter(pk=export_id, status=BulkExport.Status.IN_PROGRESS).update(
        status=BulkExport.Status.COMPLETED,
        finished_at=timezone.now(),
        files=files,
        patient_ids=sorted(patient_ids),
    )
    export.refresh_from_db()
    return export
