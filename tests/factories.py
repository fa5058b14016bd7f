"""factory_boy factories for the clinic's models."""

from datetime import date, time, timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from clinic.models import Room, StaffMember, TimeOff, WorkingHours
from clinic.services import staff_member_save
from patients.models import Guardian, Lesion, Patient
from treatments.models import Appointment, FeeScheduleEntry, ProcedureType


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@clinic.example.com")
    password = factory.django.Password("correct-horse-battery")


class StaffMemberFactory(factory.django.DjangoModelFactory):
    """A staff member saved through the service, so their user is in their role's group."""

    class Meta:
        model = StaffMember

    user = factory.SubFactory(UserFactory)
    role = StaffMember.Role.DERMATOLOGIST
    title = factory.LazyAttribute(
        lambda s: "Dr." if s.role == StaffMember.Role.DERMATOLOGIST else ""
    )

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return staff_member_save(staff_member=model_class(*args, **kwargs))


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    name = factory.Sequence(lambda n: f"Treatment room {n}")
    kind = Room.Kind.TREATMENT


class WorkingHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkingHours

    staff_member = factory.SubFactory(StaffMemberFactory)
    weekday = 0
    starts_at = time(9, 0)
    ends_at = time(17, 0)


class TimeOffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimeOff

    staff_member = factory.SubFactory(StaffMemberFactory)
    starts_at = factory.LazyFunction(timezone.now)
    ends_at = factory.LazyAttribute(lambda t: t.starts_at + timedelta(days=1))


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = date(1990, 5, 17)
    email = factory.Sequence(lambda n: f"patient{n}@example.com")
    phone = factory.Sequence(lambda n: f"+1212555{n % 10000:04d}")


class GuardianFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Guardian

    patient = factory.SubFactory(PatientFactory, date_of_birth=date(2024, 1, 1), phone="")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    relationship = Guardian.Relationship.MOTHER
    email = factory.Sequence(lambda n: f"guardian{n}@example.com")


class LesionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lesion

    patient = factory.SubFactory(PatientFactory)
    site = Lesion.Site.LEFT_UPPER_EYELID
    milia_type = Lesion.MiliaType.PRIMARY
    size_mm = "1.5"
    count = 3
    first_noted = date(2026, 1, 10)


class ProcedureTypeFactory(factory.django.DjangoModelFactory):
    """The catalogue's entries (loaded by a migration); get_or_create keeps them unique."""

    class Meta:
        model = ProcedureType
        django_get_or_create = ["slug"]

    slug = "cryotherapy"
    name = factory.LazyAttribute(lambda p: p.slug.replace("-", " ").capitalize())
    duration_minutes = 15
    code = "17110"
    code_15_or_more = "17111"
    follow_up_weeks = 6


class AppointmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Appointment

    patient = factory.SubFactory(PatientFactory)
    dermatologist = factory.SubFactory(StaffMemberFactory)
    room = factory.SubFactory(RoomFactory)
    procedure_type = factory.SubFactory(ProcedureTypeFactory)
    starts_at = factory.LazyFunction(lambda: timezone.now().replace(microsecond=0, second=0))
    ends_at = factory.LazyAttribute(
        lambda a: a.starts_at + timedelta(minutes=a.procedure_type.duration_minutes)
    )


class FeeScheduleEntryFactory(factory.django.DjangoModelFactory):
    """A price for a CPT code (give procedure_type and cpt_code="" for a visit type's)."""

    class Meta:
        model = FeeScheduleEntry

    cpt_code = "17110"
    description = factory.LazyAttribute(lambda e: f"CPT {e.cpt_code}" if e.cpt_code else "Visit")
    self_pay_price = Decimal("100.00")
    insured_price = Decimal("80.00")
    tax_rate = Decimal("0")
    effective_from = date(2020, 1, 1)
