"""One kind of refusal for every service, and one way to show it.

A service refuses what the clinic's rules do not allow by raising a `ServiceError`: the
message is meant for the person who asked, and may name the form fields it concerns
(`ServiceError({"lesions": "Pick the lesions treated."})`), as Django's ValidationError
does, which it is. `status` is the HTTP answer: 400 for a request that cannot be done,
409 (`StateConflict`) when what it acts on changed since the page was shown.
"""

from http import HTTPStatus
from typing import TypeGuard

from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.forms import BaseForm


class ServiceError(ValidationError):
    status = HTTPStatus.BAD_REQUEST

    def __str__(self) -> str:
        return " ".join(self.messages)


class StateConflict(ServiceError):
    """Taken, booked, signed or closed meanwhile: the request met a newer state."""

    status = HTTPStatus.CONFLICT


def error_status(error: ValidationError) -> int:
    """The HTTP status a refusal answers with; a model's own validation is a 400."""
    return int(getattr(error, "status", HTTPStatus.BAD_REQUEST))


def form_add_error(form: BaseForm, error: ValidationError, *, field: str | None = None) -> int:
    """Show a service's refusal on the form: beside the fields it names, else beside
    `field`, else atop the form. Returns the HTTP status to answer with."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(field if field in form.fields else None, error.messages)
    return error_status(error)


# deadlock_detected, serialization_failure: PostgreSQL aborted one of two writes that met;
# the loser may try again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
# unique_violation, exclusion_violation: a write met a row that another wrote meanwhile.
_CONFLICT_SQLSTATES = RETRYABLE_SQLSTATES | {"23505", "23P01"}
# SQLite's names for the same (its overlap triggers abort with a constraint error).
_SQLITE_CONFLICTS = frozenset(
    {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_TRIGGER"}
)


def is_retryable_write_conflict(error: BaseException) -> bool:
    """Whether the database aborted this write because another one met it at the same
    moment (a deadlock, a serialization failure), so that the loser may try again."""
    return getattr(error.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES


def is_write_conflict(error: BaseException | None) -> TypeGuard[DatabaseError]:
    """Whether a database error is one that two concurrent writes can meet: the above, or
    a unique or exclusion constraint refusing a row that another write took meanwhile.
    A service that expects one turns it into its own refusal; what none expected is
    answered 409 by the error handler (clinic.views.server_error), never 500."""
    if not isinstance(error, DatabaseError):
        return False
    cause = error.__cause__
    return (
        getattr(cause, "sqlstate", None) in _CONFLICT_SQLSTATES
        or getattr(cause, "sqlite_errorname", None) in _SQLITE_CONFLICTS
    )
