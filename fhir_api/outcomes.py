"""FHIR's answers: `application/fhir+json` bodies, and errors as OperationOutcome."""

import json
from typing import Any

from django.http import HttpResponse

FHIR_JSON = "application/fhir+json"


class FhirError(Exception):
    """A request the API refuses; becomes an OperationOutcome with `status`."""

    def __init__(self, status: int, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def fhir_response(resource: dict[str, Any], *, status: int = 200, **headers: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(resource, ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type=f"{FHIR_JSON}; charset=utf-8",
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def operation_outcome(message: str, *, code: str = "invalid", severity: str = "error") -> dict:
    """An OperationOutcome with one issue; `code` is from FHIR's IssueType value set."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": message}],
    }


# The IssueType a status usually answers with.
CODE_OF_STATUS = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    412: "conflict",
    422: "processing",
    429: "throttled",
}


def outcome_response(status: int, message: str, *, code: str = "", **headers: str) -> HttpResponse:
    return fhir_response(
        operation_outcome(message, code=code or CODE_OF_STATUS.get(status, "exception")),
        status=status,
        **headers,
    )
