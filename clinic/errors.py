"""One kind of refusal for every service, and one way to show it.

A service refuses what the clinic's rules do not allow by raising a `ServiceError`: the
message is meant for the person who asked, and may name the form fields it concerns
(`ServiceError({"lesions": "Pick the lesions treated."})`), as Django's ValidationError
does, which it is. `status` is the HTTP answer: 400 for a request that cannot be done,
409 (`StateConflict`) when what it acts on changed since the page was shown.
"""

from http import HTTPStatus

from django.core.exceptions import ValidationError
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
