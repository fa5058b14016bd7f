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


def epoch_sql(vendor: str, column: str) -> str:
    """SQL for a timestamp `column` as whole seconds since 1970-01-01 UTC, on PostgreSQL or
    SQLite (which Django keeps timestamps in as UTC text, which strftime reads). For SQL
    sent with parameters: its % is doubled."""
    if vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {column})::bigint"
    return f"CAST(strftime('%%s', {column}) AS INTEGER)"


class EpochSeconds(Func):
    """A timestamp column as whole seconds since 1970-01-01 UTC (epoch_sql)."""

    output_field = BigIntegerField()

    def as_postgresql(
        self, compiler: "SQLCompiler", connection: "BaseDatabaseWrapper", **extra_context: Any
    ) -> "_AsSqlType":
        return self._as_epoch(compiler, connection)

    def as_sqlite(
        self, compiler: "SQLCompiler", connection: "BaseDatabaseWrapper", **extra_context: Any
    ) -> "_AsSqlType":
        return self._as_epoch(compiler, connection)

    def _as_epoch(self, compiler: "SQLCompiler", connection: "BaseDatabaseWrapper") -> "_AsSqlType":
        # A template is %-formatted once before the query's parameters: % doubled again.
        template = epoch_sql(connection.vendor, "{}").replace("%", "%%")
        return self.as_sql(compiler, connection, template=template.format("%(expressions)s"))


def seconds_of(moment: datetime) -> int:
    return int(moment.timestamp())


def moment_of(seconds: int, zone: tzinfo = UTC) -> datetime:
    return datetime.fromtimestamp(seconds, zone)
