"""The FHIR R4 REST API: parse → one service or selector → a FHIR resource or Bundle.

Every view but the CapabilityStatement is wrapped by `fhir_api` (token, scope, rate limit,
errors as OperationOutcome); every answer that shows a patient's data writes access-log
rows naming the client."""

import json
from typing import Any
from urllib.parse import urlencode

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from clinic.audit import access_log_record_export, access_log_record_patients
from clinic.models import AccessLog, StaffMember
from clinic.permissions import role_required
from patients.models import Patient
from treatments.models import Appointment, ClinicalPhoto
from treatments.views.photos import serve_photo_file

from . import everything, parse, search, services
from .auth import ApiCaller, fhir_api
from .capability import capability_statement
from .models import BulkExport
from .outcomes import FhirError, fhir_response, outcome_response
from .resources import patient_resource
from .scopes import RESOURCE_TYPES


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("fhir:metadata")).removesuffix("metadata")


def _log_reads(
    request: HttpRequest,
    caller: ApiCaller,
    patient_ids: list[int],
    detail: str,
    *,
    action: str = AccessLog.Action.API_READ,
) -> None:
    if patient_ids:
        access_log_record_patients(
            request=request,
            action=action,
            patient_ids=list(patient_ids),
            detail=detail,
            client_id=caller.application.pk,
        )


@require_GET
def metadata(request: HttpRequest) -> HttpResponse:
    """The CapabilityStatement: public, as FHIR asks, and about no patient."""
    return fhir_response(capability_statement(base=_base(request)))


def _bundle(request: HttpRequest, resource_type: str, page: search.SearchPage) -> dict[str, Any]:
    base = _base(request)
    count, offset = search.paging(request.GET)
    params = [
        (key, value)
        for key in request.GET
        for value in request.GET.getlist(key)
        if key != "_offset"
    ]
    links = [{"relation": "self", "url": request.build_absolute_uri()}]
    if count and offset + count < page.total:
        query = urlencode([*params, ("_offset", str(offset + count))])
        links.append({"relation": "next", "url": f"{base}{resource_type}?{query}"})
    entries = [
        {
            "fullUrl": f"{base}{resource['resourceType']}/{resource['id']}",
            "resource": resource,
            "search": {"mode": mode},
        }
        for resources, mode in ((page.resources, "match"), (page.included, "include"))
        for resource in resources
    ]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": timezone.now().isoformat(timespec="seconds"),
        "total": page.total,
        "link": links,
        "entry": entries,
    }


@fhir_api(letters={"GET": "s", "POST": "c"})
def type_endpoint(request: HttpRequest, resource_type: str, caller: ApiCaller) -> HttpResponse:
    """Search (GET) or create (POST: Appointment and Patient)."""
    if request.method == "POST":
        return _create(request, resource_type, caller)
    page = search.search(resource_type, request.GET)
    included = [int(resource["id"]) for resource in page.included]
    _log_reads(request, caller, [*page.patient_ids, *included], f"FHIR {resource_type} search")
    return fhir_response(_bundle(request, resource_type, page))


def _created(request: HttpRequest, resource: dict[str, Any], *, status: int = 201) -> HttpResponse:
    location = f"{_base(request)}{resource['resourceType']}/{resource['id']}"
    headers = {"Location": location} if status == 201 else {}
    if "meta" in resource:
        headers["ETag"] = f'W/"{resource["meta"]["versionId"]}"'
    return fhir_response(resource, status=status, **headers)


def _create(request: HttpRequest, resource_type: str, caller: ApiCaller) -> HttpResponse:
    if resource_type == "Appointment":
        booking = parse.booking_request(parse.body_of(request, "Appointment"))
        appointment = services.fhir_appointment_book(booking=booking, by=caller.user)
        resource, _ = search.read("Appointment", str(appointment.pk))
        return _created(request, resource)
    if resource_type == "Patient":
        fields = parse.patient_fields(parse.body_of(request, "Patient"))
        patient = services.fhir_patient_create(fields=fields, by=caller.user)
        return _created(request, patient_resource(patient))
    raise FhirError(
        405, f"{resource_type} cannot be created through this API.", code="not-supported"
    )


@fhir_api(letters={"GET": "r", "PUT": "u"})
def instance_endpoint(
    request: HttpRequest, resource_type: str, resource_id: str, caller: ApiCaller
) -> HttpResponse:
    """Read (GET) or update (PUT: Appointment and Patient)."""
    if request.method == "PUT":
        return _update(request, resource_type, resource_id, caller)
    resource, patient_id = search.read(resource_type, resource_id)
    _log_reads(request, caller, [patient_id] if patient_id else [], f"FHIR {resource_type} read")
    return _created(request, resource, status=200)


@fhir_api(resource_type="Media", letters={"GET": "r"})
def media_content(request: HttpRequest, resource_id: str, caller: ApiCaller) -> HttpResponseBase:
    """A clinical photo's bytes (its Media's content.url), for a token that may read
    Media: never cached, never sniffed, logged as a read of the patient's record."""
    photo = (
        ClinicalPhoto.objects.filter(pk=int(resource_id)).first() if resource_id.isdigit() else None
    )
    if photo is None:
        raise FhirError(404, f"Media/{resource_id} does not exist.")
    try:
        response = serve_photo_file(photo.image, photo.content_type)
    except Http404:
        raise FhirError(404, f"The file of Media/{resource_id} is missing.") from None
    _log_reads(request, caller, [photo.patient_id], "FHIR Media content")
    return response


def _if_match(request: HttpRequest) -> str | None:
    """The version in `If-Match: W/"<version>"`, if the client sent one."""
    header = request.headers.get("If-Match")
    return header.removeprefix("W/").strip('"') if header else None


def _update(
    request: HttpRequest, resource_type: str, resource_id: str, caller: ApiCaller
) -> HttpResponse:
    if resource_type not in ("Appointment", "Patient"):
        raise FhirError(
            405, f"{resource_type} cannot be updated through this API.", code="not-supported"
        )
    body = parse.body_of(request, resource_type)
    if body.get("id") != resource_id:
        raise FhirError(400, "The body's id must be the id in the URL.")
    model = Appointment if resource_type == "Appointment" else Patient
    row = model.objects.filter(pk=int(resource_id)).first() if resource_id.isdigit() else None
    if row is None:
        raise FhirError(404, f"{resource_type}/{resource_id} does not exist.")
    version = _if_match(request)
    if isinstance(row, Appointment):
        change = parse.appointment_change(body, row)
        services.fhir_appointment_update(
            appointment=row, change=change, by=caller.user, version=version
        )
    else:
        fields = parse.patient_fields(body)
        services.fhir_patient_update(patient=row, fields=fields, by=caller.user, version=version)
    resource, _ = search.read(resource_type, resource_id)
    return _created(request, resource, status=200)


@fhir_api(resource_type="Patient", letters={"GET": "r"})
def patient_everything(request: HttpRequest, resource_id: str, caller: ApiCaller) -> HttpResponse:
    """The patient's whole record as a Bundle (their right of access), of the types the
    token may read; logged as an export of their record."""
    resource, patient_id = search.read("Patient", resource_id)
    readable = [type_ for type_ in RESOURCE_TYPES if caller.may(type_, "r")]
    resources = everything.patient_everything(
        patient_id=int(resource["id"]), resource_types=readable
    )
    _log_reads(
        request,
        caller,
        [int(resource["id"])],
        "FHIR Patient $everything",
        action=AccessLog.Action.EXPORT,
    )
    base = _base(request)
    return fhir_response(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(resources),
            "link": [{"relation": "self", "url": request.build_absolute_uri()}],
            "entry": [
                {
                    "fullUrl": f"{base}{item['resourceType']}/{item['id']}",
                    "resource": item,
                    "search": {"mode": "match"},
                }
                for item in resources
            ],
        }
    )


# --- Bulk Data export -------------------------------------------------------------------

NDJSON = "application/fhir+ndjson"


@fhir_api(resource_type="*", letters={"GET": "rs"})
def export_kick_off(request: HttpRequest, caller: ApiCaller) -> HttpResponse:
    """`$export`: 202 with the status URL in Content-Location."""
    output_format = request.GET.get("_outputFormat", NDJSON)
    if output_format not in (NDJSON, "application/ndjson", "ndjson"):
        raise FhirError(400, "Only NDJSON exports are offered.")
    unknown = set(request.GET) - {"_outputFormat", "_type", "_since"}
    if unknown:
        raise FhirError(
            400,
            f"Not supported here: {', '.join(sorted(unknown))}. "
            "An export takes _outputFormat, _type and _since.",
        )
    since = request.GET.get("_since")
    export = services.bulk_export_request(
        requested_by=caller.user,
        client=caller.application,
        request_url=request.build_absolute_uri(),
        types=_export_types(request.GET.getlist("_type")),
        since=parse.instant_of(since, "_since") if since is not None else None,
    )
    status_url = request.build_absolute_uri(reverse("fhir:export_status", args=[export.pk]))
    return HttpResponse(status=202, headers={"Content-Location": status_url})


def _export_types(values: list[str]) -> list[str]:
    """The `_type` parameter's types (comma-separated, or the parameter repeated), each one
    the export holds; none: every type."""
    types = [name.strip() for value in values for name in value.split(",") if name.strip()]
    unknown = [name for name in types if name not in everything.EXPORT_TYPES]
    if unknown:
        raise FhirError(
            400,
            f"This server exports no {', '.join(unknown)}; "
            f"it exports {', '.join(everything.EXPORT_TYPES)}.",
        )
    return list(dict.fromkeys(types))


def _own_export(export_id: Any, caller: ApiCaller) -> BulkExport:
    export = BulkExport.objects.filter(pk=export_id, client=caller.application).first()
    if export is None:
        raise FhirError(404, "This client has no such export.")
    return export


@fhir_api(resource_type="*", letters={"GET": "rs"})
def export_status(request: HttpRequest, export_id: Any, caller: ApiCaller) -> HttpResponse:
    """202 while the export is written; then its manifest, or an OperationOutcome."""
    export = _own_export(export_id, caller)
    if export.status in (BulkExport.Status.ACCEPTED, BulkExport.Status.IN_PROGRESS):
        return HttpResponse(
            status=202, headers={"X-Progress": export.get_status_display(), "Retry-After": "5"}
        )
    if export.status == BulkExport.Status.FAILED:
        return outcome_response(422, "The export failed; ask again.", code="exception")
    return HttpResponse(_manifest(request, export), content_type="application/json", status=200)


def _manifest(request: HttpRequest, export: BulkExport) -> str:
    return json.dumps(
        {
            "transactionTime": export.created_at.isoformat(),
            "request": export.request_url,
            "requiresAccessToken": True,
            "output": [
                {
                    "type": item["type"],
                    "url": request.build_absolute_uri(
                        reverse("fhir:export_file", args=[export.pk, item["name"]])
                    ),
                    "count": item["count"],
                }
                for item in export.files
            ],
            "error": [],
        }
    )


def _export_file(export: BulkExport, file_name: str) -> Any:
    names = {item["name"] for item in export.files}
    if export.status != BulkExport.Status.COMPLETED or file_name not in names:
        return None
    return (services.export_folder(export) / file_name).open("rb")


@fhir_api(resource_type="*", letters={"GET": "rs"})
def export_file(
    request: HttpRequest, export_id: Any, file_name: str, caller: ApiCaller
) -> HttpResponseBase:
    """One NDJSON file of the client's own export; logged for every patient in it."""
    opened = _export_file(_own_export(export_id, caller), file_name)
    if opened is None:
        raise FhirError(404, "The export has no such file.")
    export = BulkExport.objects.get(pk=export_id)
    access_log_record_export(
        request=request,
        patient_ids=export.patient_ids,
        detail=f"FHIR bulk export {file_name}",
        client_id=caller.application.pk,
    )
    return FileResponse(opened, content_type=NDJSON, as_attachment=True, filename=file_name)


@require_GET
@role_required(StaffMember.Role.MANAGER)
def export_download(request: HttpRequest, export_id: Any, file_name: str) -> HttpResponseBase:
    """The manager downloads any export's file from the admin; logged like a client's."""
    export = BulkExport.objects.filter(pk=export_id).first()
    opened = _export_file(export, file_name) if export else None
    if export is None or opened is None:
        return HttpResponse("No such export file.", status=404, content_type="text/plain")
    access_log_record_export(
        request=request, patient_ids=export.patient_ids, detail=f"FHIR bulk export {file_name}"
    )
    return FileResponse(opened, content_type=NDJSON, as_attachment=True, filename=file_name)
