"""The check constraints read in Python agree with the database, value for value."""

from datetime import date, time
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import CheckConstraint, Q
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from clinic.constraint_checks import check_constraints_hold, evaluate
from treatments.models import Procedure, WaitlistEntry

NOW = timezone.make_aware(timezone.datetime(2026, 5, 4, 10, 0))
maybe = st.none().__or__
small_ints = maybe(st.integers(min_value=-5, max_value=100))
decimals = maybe(
    st.decimals(min_value=Decimal("-1"), max_value=Decimal("25"), places=1, allow_nan=False)
)
procedures = st.builds(
    Procedure,
    freeze_seconds=small_ints,
    freeze_thaw_cycles=small_ints,
    halo_mm=decimals,
    anesthetic_volume_ml=decimals,
    needle_gauge=small_ints,
    consent_obtained=st.booleans(),
    consent_given_by=st.sampled_from(["", "patient", "guardian"]),
    consent_at=maybe(st.just(NOW)),
    status=st.sampled_from(["draft", "signed"]),
    signed_at=maybe(st.just(NOW)),
    signed_by_id=maybe(st.just(1)),
    diagnosis_code=st.sampled_from(["", "L72.0"]),
    procedure_code=st.sampled_from(["", "17110", "3008F", "0479T", "1711", "17110\n", "abcde"]),
    recorded_on_behalf=st.booleans(),
    created_by_id=maybe(st.just(1)),
)
days = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 1, 10))
waitlist_entries = st.builds(
    WaitlistEntry,
    earliest_date=days,
    latest_date=days,
    earliest_time=maybe(st.sampled_from([time(9), time(12)])),
    latest_time=maybe(st.sampled_from([time(9), time(12), time(17)])),
    status=st.sampled_from(["waiting", "booked", "removed", "lost"]),
)


def database_holds(constraint, instance) -> bool:
    try:
        constraint.validate(type(instance), instance)
    except ValidationError:
        return False
    return True


class PythonAndDatabaseAgree(TestCase):
    """Each constraint of a procedure record (ranges, who-and-when, codes) and of a
    waitlist entry (one field against another, F()), for generated values."""

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(procedures)
    def test_procedure_records(self, procedure):
        for constraint in Procedure._meta.constraints:
            python = evaluate(constraint.condition, procedure) is not False
            assert python == database_holds(constraint, procedure), constraint.name

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(waitlist_entries)
    def test_waitlist_entries(self, entry):
        for constraint in WaitlistEntry._meta.constraints:
            if hasattr(constraint, "condition"):
                python = evaluate(constraint.condition, entry) is not False
                assert python == database_holds(constraint, entry), constraint.name


def test_a_comparison_with_null_is_unknown_and_a_check_passes_on_unknown():
    procedure = Procedure(freeze_seconds=None)
    assert evaluate(Q(freeze_seconds__gte=1), procedure) is None
    assert evaluate(~Q(freeze_seconds__gte=1), procedure) is None
    assert evaluate(Q(freeze_seconds__gte=1) | Q(freeze_seconds__isnull=True), procedure) is True


@pytest.mark.django_db
def test_every_violated_constraint_is_named_in_one_error():
    procedure = Procedure(
        freeze_seconds=90, freeze_thaw_cycles=1, diagnosis_code="", procedure_code="1711"
    )
    with pytest.raises(ValidationError) as refused:
        check_constraints_hold(procedure)
    messages = " ".join(refused.value.messages)
    for name in (
        "procedure_freeze_seconds_range",
        "procedure_has_diagnosis",
        "procedure_code_is_cpt",
    ):
        assert name in messages
    assert "procedure_freeze_cycles_range" not in messages


@pytest.mark.django_db
def test_a_condition_it_cannot_read_is_left_to_the_database(monkeypatch, django_assert_num_queries):
    mondays_only = CheckConstraint(condition=Q(latest_date__week_day=2), name="mondays_only")
    monkeypatch.setattr(WaitlistEntry._meta, "constraints", [mondays_only])
    monday, tuesday = date(2026, 1, 5), date(2026, 1, 6)

    # The database's own check, for that one: SAVEPOINT, SELECT, RELEASE.
    with django_assert_num_queries(3):
        check_constraints_hold(WaitlistEntry(earliest_date=monday, latest_date=monday))
    with django_assert_num_queries(3), pytest.raises(ValidationError, match="mondays_only"):
        check_constraints_hold(WaitlistEntry(earliest_date=monday, latest_date=tuesday))
