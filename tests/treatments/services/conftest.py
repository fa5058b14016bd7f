import pytest

from treatments.models import Appointment, ProcedureType

from ...factories import AppointmentFactory


@pytest.fixture
def visit(dermatologist, treatment_room):
    """A checked-in visit for cryotherapy."""
    return AppointmentFactory(
        dermatologist=dermatologist,
        room=treatment_room,
        procedure_type=ProcedureType.objects.get(slug="cryotherapy"),
        status=Appointment.Status.CHECKED_IN,
    )
