"""Twenty people book one time online at once: one gets it, the other nineteen are
offered the nearest free times, nobody gets a 5xx, and nobody is left registered without
a visit. On PostgreSQL the exclusion constraint decides between them; on SQLite the write
transactions run one at a time and the overlap check refuses the later ones."""

from functools import partial

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client

from patients.models import Patient
from portal import services
from treatments.models import Appointment, ProcedureType

from ..factories import StaffMemberFactory
from ..treatments.conftest import open_all_week
from ..treatments.services.test_double_booking import run_together
from .conftest import MONDAY_9, TUESDAY_10, last_code, local

BOOKERS = 20


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twenty_online_bookers_for_one_time_get_one_visit_and_nineteen_offers(settings):
    settings.CLINIC_CODES_PER_IP = settings.CLINIC_CODE_CHECKS_PER_IP = 100
    cache.clear()
    with time_machine.travel(MONDAY_9, tick=True):
        dermatologist = open_all_week(StaffMemberFactory())
        consultation = ProcedureType.objects.create(
            slug="consultation",
            name="Consultation",
            is_procedure=False,
            duration_minutes=20,
            needs_treatment_room=False,
            bookable_online=True,
        )
        references = []
        for seat in range(BOOKERS):
            code = services.code_send(
                purpose=services.Purpose.BOOKING,
                channel="email",
                contact=f"booker{seat}@example.com",
                ip_address="127.0.0.1",
                request={
                    "procedure_type": consultation.pk,
                    "dermatologist": dermatologist.pk,
                    "starts_at": local(TUESDAY_10),
                    "for_child": False,
                    "first_name": f"Booker{seat}",
                    "last_name": "Online",
                    "date_of_birth": "1990-01-01",
                    "guardian_first_name": "",
                    "guardian_last_name": "",
                    "language": "en",
                    "reminders": True,
                },
            )
            references.append((code.reference, last_code()))

        def book(reference, digits):
            response = Client().post(f"/book/verify/{reference}/", {"code": digits})
            return response.status_code, response.content.decode().count('class="btn btn-outline')

        outcomes = run_together([partial(book, *entry) for entry in references])

    statuses = sorted(status for status, _ in outcomes)
    assert statuses == [200] + [409] * (BOOKERS - 1), outcomes
    assert all(offers == 3 for status, offers in outcomes if status == 409)
    assert Appointment.objects.filter(starts_at=TUESDAY_10).count() == 1
    assert Patient.objects.count() == 1  # the nineteen registrations were undone
