"""A used patient link stays used: PostgreSQL refuses to delete its row.

Deleting a UsedPatientLink row would make its single-use link (cancel, confirm) work
again, so no one may: the admin has no page for these rows, no service deletes them, and
on PostgreSQL a trigger refuses every DELETE, a superuser's in psql included. TRUNCATE,
which only the table's owner may run (the test suite empties tables with it), is left.

SQLite has no trigger here: Django empties an embedded test database with DELETE, which
the trigger would refuse; there the admin and the services are the guarantee.
"""

from django.db import migrations

# One statement per execute: Django passes (empty) parameters, and psycopg sends a statement
# with parameters as one prepared command, which holds a single statement.
CREATE = [
    """
CREATE FUNCTION clinic_used_patient_link_refuse_delete() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'A used patient link is kept: deleting it would let the link work again.'
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE TRIGGER clinic_used_patient_link_no_delete
    BEFORE DELETE ON clinic_usedpatientlink
    FOR EACH ROW EXECUTE FUNCTION clinic_used_patient_link_refuse_delete()
""",
]
DROP = [
    "DROP TRIGGER IF EXISTS clinic_used_patient_link_no_delete ON clinic_usedpatientlink",
    "DROP FUNCTION IF EXISTS clinic_used_patient_link_refuse_delete()",
]


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in CREATE:
            schema_editor.execute(statement)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("clinic", "0012_staff_account_permissions")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
