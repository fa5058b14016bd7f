"""The clinic's self-service policy (one row, edited by the manager in the admin) and the
count of a visit's moves by the patient (and, on SQLite, the overlap triggers again)."""

from django.db import migrations, models

from clinic.migrations._grants import grant
from treatments.constraints import create_sqlite_overlap_triggers


def let_managers_edit_the_policy(apps, schema_editor):
    grant(apps, {"Clinic managers": {"treatments.selfservicepolicy": ["view", "change"]}})


def write_the_default_policy(apps, schema_editor):
    """The one row, with the defaults: the manager changes it, nobody adds another."""
    apps.get_model("treatments", "SelfServicePolicy").objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0015_online_booking"),
        ("clinic", "0002_role_groups"),
    ]

    operations = [
        migrations.AddField(
            model_name="appointment",
            name="self_moves",
            field=models.PositiveSmallIntegerField(db_default=0, default=0, editable=False),
        ),
        migrations.AddField(
            model_name="historicalappointment",
            name="self_moves",
            field=models.PositiveSmallIntegerField(db_default=0, default=0, editable=False),
        ),
        # Adding the column rebuilds the table on SQLite, which drops its overlap triggers.
        create_sqlite_overlap_triggers(),
        migrations.CreateModel(
            name="SelfServicePolicy",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(
                        default=1, editable=False, primary_key=True, serialize=False
                    ),
                ),
                (
                    "patients_may_reschedule",
                    models.BooleanField(
                        default=True,
                        help_text="Offer “Move my visit” on the visit page of every reminder.",
                    ),
                ),
                (
                    "cutoff_hours",
                    models.PositiveSmallIntegerField(
                        default=24,
                        help_text="No moving or cancelling online within this many hours of the visit; the page gives the clinic's phone instead.",
                    ),
                ),
                (
                    "days_ahead",
                    models.PositiveSmallIntegerField(
                        default=90,
                        help_text="How far ahead of today a visit may be moved, in days.",
                    ),
                ),
                (
                    "moves_per_visit",
                    models.PositiveSmallIntegerField(
                        default=2, help_text="How many times a patient may move one visit online."
                    ),
                ),
                (
                    "same_dermatologist",
                    models.BooleanField(
                        default=False,
                        help_text="Only to a time with the same dermatologist; otherwise with any of them.",
                    ),
                ),
            ],
            options={
                "verbose_name": "self-service policy",
                "verbose_name_plural": "self-service policy",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("id", 1)), name="self_service_policy_singleton"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("days_ahead__gte", 1)),
                        name="self_service_policy_days_ahead_positive",
                    ),
                ],
            },
        ),
        migrations.RunPython(let_managers_edit_the_policy, migrations.RunPython.noop),
        migrations.RunPython(write_the_default_policy, migrations.RunPython.noop),
    ]
