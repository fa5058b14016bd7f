"""Partial, case-insensitive name and phone search on PostgreSQL: trigram GIN indexes.

`icontains` becomes `UPPER(column) LIKE UPPER('%word%')`, which no B-tree can serve;
a pg_trgm GIN index on the same expression can. PostgreSQL only: on SQLite the search
scans the table (an embedded clinic's few thousand patients), and this does nothing.
"""

from django.db import migrations

INDEXES = {
    "patient_first_name_trgm_idx": "UPPER(first_name) gin_trgm_ops",
    "patient_last_name_trgm_idx": "UPPER(last_name) gin_trgm_ops",
    "patient_phone_trgm_idx": "phone gin_trgm_ops",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON patients_patient USING gin ({expression})"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("patients", "0002_alerts_and_history")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
