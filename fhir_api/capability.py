"""The CapabilityStatement (`/fhir/metadata`): exactly what this server supports."""

from typing import Any

from django.conf import settings

from .scopes import RESOURCE_TYPES
from .search import search_parameters

# Beyond read and search-type (every type): what else a type supports.
WRITES = {"Appointment": ["create", "update"], "Patient": ["create", "update"]}
OPERATIONS = {
    "Patient": [("everything", "http://hl7.org/fhir/OperationDefinition/Patient-everything")]
}
SEARCH_TYPES = {
    "_id": "token",
    "name": "string",
    "family": "string",
    "given": "string",
    "birthdate": "date",
    "identifier": "token",
    "phone": "token",
    "patient": "reference",
    "practitioner": "reference",
    "actor": "reference",
    "active": "token",
    "schedule": "reference",
    "service-type": "token",
    "start": "date",
    "status": "token",
    "date": "date",
    "clinical-status": "token",
    "code": "token",
}


def _resource(resource_type: str) -> dict[str, Any]:
    interactions = ["read", "search-type", *WRITES.get(resource_type, [])]
    entry: dict[str, Any] = {
        "type": resource_type,
        "interaction": [{"code": code} for code in interactions],
        "versioning": "versioned-update" if resource_type in WRITES else "no-version",
        "searchParam": [
            {"name": name, "type": SEARCH_TYPES[name]} for name in search_parameters(resource_type)
        ],
    }
    if resource_type in WRITES:
        entry["updateCreate"] = False
        entry["conditionalUpdate"] = False
    if resource_type == "Appointment":
        entry["searchInclude"] = ["Appointment:patient"]
    if resource_type in OPERATIONS:
        entry["operation"] = [
            {"name": name, "definition": definition}
            for name, definition in OPERATIONS[resource_type]
        ]
    return entry


def capability_statement(*, base: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-03",
        "publisher": settings.CLINIC_NAME,
        "kind": "instance",
        "software": {"name": "milia-clinic"},
        "implementation": {
            "description": f"{settings.CLINIC_NAME} FHIR API",
            "url": base.rstrip("/"),
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "description": "OAuth 2 client credentials at auth/token; SMART v2 "
                    "system scopes (system/<Type>.cruds) granted per client.",
                },
                "resource": [_resource(resource_type) for resource_type in RESOURCE_TYPES],
                "operation": [
                    {
                        "name": "export",
                        "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                    }
                ],
            }
        ],
    }
