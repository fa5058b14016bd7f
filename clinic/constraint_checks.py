"""A model's check constraints, evaluated in Python on the instance about to be saved.

`Model.full_clean()` checks each CheckConstraint with a query of its own (in a savepoint:
three statements each). On a write path that saves many constrained rows, such as a
procedure record with its nine checks, that is most of the request's queries. Here the
same conditions are read in Python, with SQL's three-valued logic (a comparison with
NULL is unknown, and a CHECK passes unless its condition is false, as in the database).
The database constraints stay the guard: this is only the early, friendly error. A
condition using a lookup this module does not know is checked by the database as
before, one query for that constraint.
"""

import re
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.constants import LOOKUP_SEP

# None is SQL's "unknown".
Truth = bool | None


class UnknownLookup(Exception):
    """A lookup or value this module does not evaluate; the database checks it instead."""


def _compare(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Truth]:
    return lambda value, other: None if value is None or other is None else test(value, other)


LOOKUPS: dict[str, Callable[[Any, Any], Truth]] = {
    "exact": _compare(lambda value, other: value == other),
    "gt": _compare(lambda value, other: value > other),
    "gte": _compare(lambda value, other: value >= other),
    "lt": _compare(lambda value, other: value < other),
    "lte": _compare(lambda value, other: value <= other),
    "in": _compare(lambda value, other: value in other),
    "regex": _compare(lambda value, other: re.search(other, str(value)) is not None),
    "isnull": lambda value, other: (value is None) == bool(other),
}


def _attribute(instance: models.Model, name: str) -> Any:
    field = instance._meta.get_field(name)
    if not field.concrete or getattr(field, "many_to_many", False):
        raise UnknownLookup(name)
    return getattr(instance, field.attname)  # the column: a foreign key's id


def _leaf(instance: models.Model, lookup: str, other: Any) -> Truth:
    name, _, operator = lookup.partition(LOOKUP_SEP)
    operator = operator or "exact"
    if operator not in LOOKUPS or LOOKUP_SEP in operator:
        raise UnknownLookup(lookup)
    if isinstance(other, F):
        other = _attribute(instance, str(other.name))  # type: ignore[attr-defined]
    elif hasattr(other, "resolve_expression"):
        raise UnknownLookup(lookup)
    if operator == "exact" and other is None:
        operator, other = "isnull", True
    return LOOKUPS[operator](_attribute(instance, name), other)


def _all(values: Iterable[Truth]) -> Truth:
    values = list(values)
    return False if False in values else (None if None in values else True)


def _any(values: Iterable[Truth]) -> Truth:
    values = list(values)
    return True if True in values else (None if None in values else False)


def evaluate(condition: Q, instance: models.Model) -> Truth:
    """The condition's value for the instance, as the database would compute it."""
    values: list[Truth] = []
    for child in condition.children:
        if isinstance(child, Q):
            values.append(evaluate(child, instance))
        elif isinstance(child, tuple):
            values.append(_leaf(instance, *child))
        else:  # an expression as a condition: the database's to evaluate
            raise UnknownLookup(str(child))
    value = _all(values) if condition.connector == Q.AND else _any(values)
    if condition.negated:
        value = None if value is None else not value
    return value


def check_constraints_hold(instance: models.Model) -> None:
    """Raise a ValidationError, with each violated constraint's message, as
    `Model.validate_constraints()` would; the instance's other constraints (unique ones)
    are not checked here."""
    errors: list[ValidationError] = []
    for constraint in instance._meta.constraints:
        if not isinstance(constraint, models.CheckConstraint):
            continue
        try:
            if not isinstance(constraint.condition, Q):
                raise UnknownLookup(str(constraint.condition))
            holds = evaluate(constraint.condition, instance) is not False
        except UnknownLookup:
            try:
                constraint.validate(type(instance), instance)
            except ValidationError as error:
                errors.append(error)
            continue
        if not holds:
            errors.append(
                ValidationError(
                    constraint.get_violation_error_message(),
                    code=constraint.violation_error_code,
                )
            )
    if errors:
        raise ValidationError(errors)


def violated_constraint(error: Exception) -> str:
    """The name of the constraint a database refused a row for, without the row's values
    (PostgreSQL's message quotes the failing row): for logs."""
    diagnostics = getattr(error.__cause__, "diag", None)
    name = getattr(diagnostics, "constraint_name", None)
    if name:
        return str(name)
    found = re.search(r"constraint failed: (\w+)", str(error))
    return found.group(1) if found else "a constraint"
