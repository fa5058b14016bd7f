"""Instants as whole seconds since the epoch, read straight from the database.

Django reads a timestamp column through a loader written in Python, several
microseconds a value; a schedule or a slot search reads hundreds of them. As an
integer the same instant costs next to nothing to read, and `datetime.fromtimestamp`
turns it into an aware datetime in C. The database session is in UTC, and epoch
seconds have no zone to get wrong. Appointments sit on whole minutes, so dropping
fractions of a second loses nothing.
"""

from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from django.db.models import BigIntegerField, Func

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType


class EpochSeconds(Func):
    """A timestamp column as whole seconds since 1970-01-01 UTC."""

    output_field = BigIntegerField()

    def as_postgresql(
        self, compiler: "SQLCompiler", connection: "BaseDatabaseWrapper", **extra_context: Any
    ) -> "_AsSqlType":
        return self.as_sql(
            compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::bigint"
        )

    def as_sqlite(
        self, compiler: "SQLCompiler", connection: "BaseDatabaseWrapper", **extra_context: Any
    ) -> "_AsSqlType":
        # Django keeps SQLite timestamps as UTC text, which strftime reads. The format's
        # % is doubled twice: once for this template, once for the query's parameters.
        return self.as_sql(
            compiler, connection, template="CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)"
        )


def seconds_of(moment: datetime) -> int:
    return int(moment.timestamp())


def moment_of(seconds: int, zone: tzinfo = UTC) -> datetime:
    return datetime.fromtimestamp(seconds, zone)
