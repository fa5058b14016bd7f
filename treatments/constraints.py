"""No double booking, enforced by the database on PostgreSQL and on SQLite alike.

PostgreSQL: an exclusion constraint (btree_gist) refuses two active appointments whose
[start, end) ranges overlap for the same dermatologist, or for the same room.
SQLite has no exclusion constraints, so the same rule is a pair of triggers per resource
(insert and update) that abort the write; with `transaction_mode: IMMEDIATE` every write
transaction holds the database's write lock from its first statement, so a check and its
insert cannot interleave with another writer's.
"""

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import (
    DateRangeField,
    DateTimeRangeField,
    RangeBoundary,
    RangeOperators,
)
from django.db import connections, migrations
from django.db.models import Func, Q

ACTIVE_STATUSES = ("booked", "confirmed", "checked_in", "completed")
DERMATOLOGIST_OVERLAP = "appointment_no_dermatologist_overlap"
ROOM_OVERLAP = "appointment_no_room_overlap"
OVERLAP_CONSTRAINTS = (DERMATOLOGIST_OVERLAP, ROOM_OVERLAP)


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class PostgresExclusionConstraint(ExclusionConstraint):
    """An exclusion constraint that is silently absent on other databases.

    Django would otherwise emit PostgreSQL-only SQL on SQLite (also when SQLite rebuilds
    the table in a later migration). There the triggers below carry the same rule.
    """

    def constraint_sql(self, model, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().constraint_sql(model, schema_editor)

    def create_sql(self, model, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().create_sql(model, schema_editor)

    def remove_sql(self, model, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().remove_sql(model, schema_editor)

    def validate(self, model, instance, exclude=None, using="default"):
        if connections[using].vendor != "postgresql":
            return
        super().validate(model, instance, exclude=exclude, using=using)


def no_overlap(name: str, resource: str) -> PostgresExclusionConstraint:
    return PostgresExclusionConstraint(
        name=name,
        expressions=[
            (TsTzRange("starts_at", "ends_at", RangeBoundary()), RangeOperators.OVERLAPS),
            (resource, RangeOperators.EQUAL),
        ],
        condition=Q(status__in=ACTIVE_STATUSES),
        violation_error_message="This time is already taken.",
    )


def _sqlite_trigger_sql(name: str, column: str, event: str) -> str:
    statuses = ", ".join(f"'{status}'" for status in ACTIVE_STATUSES)
    other_row = "" if event == "INSERT" else "AND other.id != NEW.id"
    return f"""
        CREATE TRIGGER IF NOT EXISTS {name}_{event.lower()}
        BEFORE {event} ON treatments_appointment
        WHEN NEW.status IN ({statuses}) AND NEW.{column} IS NOT NULL
        BEGIN
            SELECT RAISE(ABORT, '{name}')
            WHERE EXISTS (
                SELECT 1 FROM treatments_appointment AS other
                WHERE other.{column} = NEW.{column} {other_row}
                  AND other.status IN ({statuses})
                  AND other.starts_at < NEW.ends_at AND NEW.starts_at < other.ends_at
            );
        END
    """


SQLITE_TRIGGERS = {
    f"{name}_{event.lower()}": _sqlite_trigger_sql(name, column, event)
    for name, column in ((DERMATOLOGIST_OVERLAP, "dermatologist_id"), (ROOM_OVERLAP, "room_id"))
    for event in ("INSERT", "UPDATE")
}


def _create_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for sql in SQLITE_TRIGGERS.values():
            schema_editor.execute(sql)


def _drop_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


def create_sqlite_overlap_triggers() -> migrations.RunPython:
    """A migration operation. SQLite drops a table's triggers when a migration rebuilds
    the table, so a later migration that alters Appointment must run this again
    (tests/treatments/test_double_booking.py checks that the triggers exist)."""
    return migrations.RunPython(_create_sqlite_triggers, _drop_sqlite_triggers)


# The fee schedule: one price per procedure type, and per CPT code, on any day.
FEE_TYPE_OVERLAP = "fee_entry_no_type_overlap"
FEE_CODE_OVERLAP = "fee_entry_no_code_overlap"
FEE_OVERLAP_CONSTRAINTS = (FEE_TYPE_OVERLAP, FEE_CODE_OVERLAP)
# The key column of each rule, and the condition under which an entry has that key.
_FEE_KEYS = {
    FEE_TYPE_OVERLAP: ("procedure_type_id", "NEW.procedure_type_id IS NOT NULL"),
    FEE_CODE_OVERLAP: ("cpt_code", "NEW.cpt_code != ''"),
}


class DateRange(Func):
    function = "DATERANGE"
    output_field = DateRangeField()


def fee_periods_do_not_overlap(name: str, key: str) -> PostgresExclusionConstraint:
    """No two fee schedule entries for one key (a procedure type, or a CPT code) whose
    periods [effective_from, effective_to] share a day; an empty effective_to is open."""
    condition = Q(procedure_type__isnull=False) if key == "procedure_type" else ~Q(cpt_code="")
    return PostgresExclusionConstraint(
        name=name,
        expressions=[
            (
                DateRange("effective_from", "effective_to", RangeBoundary(inclusive_upper=True)),
                RangeOperators.OVERLAPS,
            ),
            (key, RangeOperators.EQUAL),
        ],
        condition=condition,
        violation_error_message="Another price for this applies on some of these days.",
    )


def _sqlite_fee_trigger_sql(name: str, event: str) -> str:
    column, has_key = _FEE_KEYS[name]
    other_row = "" if event == "INSERT" else "AND other.id != NEW.id"
    # NULL effective_to is open-ended: compare with a date after every real one.
    return f"""
        CREATE TRIGGER IF NOT EXISTS {name}_{event.lower()}
        BEFORE {event} ON treatments_feescheduleentry
        WHEN {has_key}
        BEGIN
            SELECT RAISE(ABORT, '{name}')
            WHERE EXISTS (
                SELECT 1 FROM treatments_feescheduleentry AS other
                WHERE other.{column} = NEW.{column} {other_row}
                  AND other.effective_from <= COALESCE(NEW.effective_to, '9999-12-31')
                  AND NEW.effective_from <= COALESCE(other.effective_to, '9999-12-31')
            );
        END
    """


SQLITE_FEE_TRIGGERS = {
    f"{name}_{event.lower()}": _sqlite_fee_trigger_sql(name, event)
    for name in FEE_OVERLAP_CONSTRAINTS
    for event in ("INSERT", "UPDATE")
}


def _create_sqlite_fee_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for sql in SQLITE_FEE_TRIGGERS.values():
            schema_editor.execute(sql)


def _drop_sqlite_fee_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for name in SQLITE_FEE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


def create_sqlite_fee_triggers() -> migrations.RunPython:
    """A migration operation: the fee schedule's overlap rule on SQLite. As with the
    appointment triggers, a later migration that rebuilds the fee schedule's table must
    run this again (tests/treatments/test_billing_fee_schedule.py checks they exist)."""
    return migrations.RunPython(_create_sqlite_fee_triggers, _drop_sqlite_fee_triggers)


def is_fee_overlap_violation(error: Exception) -> bool:
    """Whether an IntegrityError is the fee schedule's overlap rule refusing an entry."""
    return any(name in str(error) for name in FEE_OVERLAP_CONSTRAINTS)


def is_overlap_violation(error: Exception) -> str | None:
    """The name of the overlap rule an IntegrityError broke, or None."""
    text = str(error)
    return next((name for name in OVERLAP_CONSTRAINTS if name in text), None)
