"""SMART App Launch v2-style system scopes: `system/<Type or *>.<letters>`.

The letters are a subset of c r u d s, in that order (create, read, update, delete,
search), as the SMART v2 scope syntax has them. The manager grants scopes per client
(ApiClient.granted_scopes); a token request may ask for any of them or for fewer letters,
never more: DOT calls `GrantedScopes` to know what a client may ask for.
"""

import re
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from django.core.exceptions import ValidationError

# The resource types the API serves (fhir_api/resources.py), in the CapabilityStatement's order.
RESOURCE_TYPES = (
    "Patient",
    "RelatedPerson",
    "Practitioner",
    "PractitionerRole",
    "Location",
    "HealthcareService",
    "Schedule",
    "Slot",
    "Appointment",
    "Condition",
    "Procedure",
    "Media",
)
LETTERS = "cruds"
SCOPE_PATTERN = re.compile(r"^system/(?P<type>\*|[A-Z][A-Za-z]+)\.(?P<letters>c?r?u?d?s?)$")


@dataclass(frozen=True)
class Scope:
    resource_type: str  # or "*"
    letters: str

    def __str__(self) -> str:
        return f"system/{self.resource_type}.{self.letters}"

    def allows(self, resource_type: str, letter: str) -> bool:
        return self.resource_type in ("*", resource_type) and letter in self.letters


def scope_parse(text: str) -> Scope | None:
    """The scope `text` names, or None when it is not a system scope this API knows."""
    match = SCOPE_PATTERN.match(text)
    if match is None or not match["letters"]:
        return None
    if match["type"] != "*" and match["type"] not in RESOURCE_TYPES:
        return None
    return Scope(match["type"], match["letters"])


def scopes_parse(text: str) -> list[Scope]:
    """The known scopes among the space-separated `text`; the others are ignored."""
    return [scope for word in text.split() if (scope := scope_parse(word)) is not None]


def validate_scopes(text: str) -> None:
    """For the admin: every word must be a scope this API knows."""
    unknown = [word for word in text.split() if scope_parse(word) is None]
    if unknown:
        raise ValidationError(
            "Not a scope of this API: %(scopes)s. Write e.g. system/Patient.rs or system/*.rs.",
            params={"scopes": ", ".join(unknown)},
        )


def scopes_allow(scopes: list[Scope], resource_type: str, letter: str) -> bool:
    return any(scope.allows(resource_type, letter) for scope in scopes)


def requestable(granted: list[Scope]) -> set[str]:
    """Every scope a client with `granted` may ask for: each granted scope with the same
    or fewer letters, and a wildcard's letters for each resource type."""
    names: set[str] = set()
    for scope in granted:
        types = [scope.resource_type]
        if scope.resource_type == "*":
            types += list(RESOURCE_TYPES)
        for size in range(1, len(scope.letters) + 1):
            for letters in combinations(scope.letters, size):
                names |= {str(Scope(type_, "".join(letters))) for type_ in types}
    return names


class GrantedScopes:
    """django-oauth-toolkit's scopes backend (OAUTH2_PROVIDER["SCOPES_BACKEND_CLASS"]):
    a client may ask for what the manager granted it; asking for nothing gets all of it."""

    def get_all_scopes(self) -> dict[str, str]:
        return {f"system/{type_}.{LETTERS}": type_ for type_ in ("*", *RESOURCE_TYPES)}

    def _granted(self, application: Any) -> list[Scope]:
        api_client = getattr(application, "api_client", None)
        return scopes_parse(api_client.granted_scopes) if api_client is not None else []

    def get_available_scopes(self, application: Any = None, request: Any = None) -> list[str]:
        return sorted(requestable(self._granted(application)))

    def get_default_scopes(self, application: Any = None, request: Any = None) -> list[str]:
        return [str(scope) for scope in self._granted(application)]
