"""One refusal type for the services, and one mapping to forms and HTTP statuses."""

from django import forms
from django.core.exceptions import ValidationError

from clinic.errors import ServiceError, StateConflict, error_status, form_add_error
from clinic.links import LinkExpired, LinkInvalid
from treatments.services import SlotTaken, TransitionNotAllowed
from treatments.services.records import RecordError, RecordLocked


class VisitForm(forms.Form):
    lesions = forms.CharField(required=False)
    slot = forms.CharField(required=False)


def bound_form() -> VisitForm:
    form = VisitForm({"lesions": "", "slot": ""})
    assert form.is_valid()
    return form


def test_a_refusal_reads_as_its_message():
    assert str(ServiceError("Give a reason for the cancellation.")) == (
        "Give a reason for the cancellation."
    )


def test_each_service_refusal_answers_with_its_status():
    assert [
        error_status(error)
        for error in (
            RecordError("Pick the lesions treated."),
            ValidationError("A model's own rule."),
            SlotTaken("Taken."),
            TransitionNotAllowed("Cancelled meanwhile."),
            RecordLocked("Signed."),
            LinkInvalid("Not ours."),
            LinkExpired("Too old."),
        )
    ] == [400, 400, 409, 409, 409, 400, 410]
    assert isinstance(SlotTaken("Taken."), StateConflict)


def test_a_refusal_that_names_fields_lands_beside_them_and_the_rest_on_top():
    form = bound_form()
    status = form_add_error(
        form, RecordError({"lesions": "Pick the lesions treated.", "note": "Too long."})
    )
    assert status == 400
    assert form.errors["lesions"] == ["Pick the lesions treated."]
    assert form.non_field_errors() == ["Too long."]  # the form has no note field


def test_a_plain_refusal_lands_beside_the_field_given_or_on_top():
    beside = bound_form()
    assert form_add_error(beside, SlotTaken("Dr. Ortiz is booked then."), field="slot") == 409
    assert beside.errors["slot"] == ["Dr. Ortiz is booked then."]
    on_top = bound_form()
    form_add_error(on_top, TransitionNotAllowed("This follow-up is booked."))
    assert on_top.non_field_errors() == ["This follow-up is booked."]
