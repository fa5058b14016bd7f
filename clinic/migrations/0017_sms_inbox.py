"""Patients' texts to the clinic (clinic.sms_inbound): one row per provider message.
Managers may read them in the admin; the desk reads and handles them on /sms/inbox/.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from ._grants import grant


def grant_inbox(apps, schema_editor):
    grant(apps, {"Clinic managers": {"clinic.inboundsms": ["view"]}})


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0016_reminder_templates_es_fr"),
        ("patients", "0005_lesion_treated"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="InboundSms",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "provider",
                    models.CharField(
                        choices=[("twilio", "Twilio"), ("vonage", "Vonage")], max_length=10
                    ),
                ),
                ("provider_message_id", models.CharField(max_length=64)),
                ("sender", models.CharField(max_length=32)),
                ("recipient", models.CharField(blank=True, max_length=32)),
                ("body", models.TextField(blank=True)),
                ("received_at", models.DateTimeField(db_index=True)),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("visit_confirmed", "Next visit confirmed"),
                            ("reminders_stopped", "Reminders stopped"),
                            ("reminders_restarted", "Reminders restarted"),
                            ("nothing_to_change", "Nothing to change"),
                            ("for_the_desk", "Kept for the desk"),
                        ],
                        default="for_the_desk",
                        max_length=20,
                    ),
                ),
                (
                    "note",
                    models.CharField(blank=True, help_text="Why nothing was done", max_length=200),
                ),
                ("handled_at", models.DateTimeField(blank=True, null=True)),
                (
                    "handled_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="inbound_sms",
                        to="patients.patient",
                    ),
                ),
            ],
            options={
                "verbose_name": "inbound SMS",
                "verbose_name_plural": "inbound SMS",
                "ordering": ["-received_at", "-id"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("handled_at__isnull", True)),
                        fields=["received_at"],
                        name="inboundsms_unhandled_idx",
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("provider", "provider_message_id"),
                        name="inboundsms_once_per_message",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("provider__in", ["twilio", "vonage"])),
                        name="inboundsms_provider_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            (
                                "action__in",
                                [
                                    "visit_confirmed",
                                    "reminders_stopped",
                                    "reminders_restarted",
                                    "nothing_to_change",
                                    "for_the_desk",
                                ],
                            )
                        ),
                        name="inboundsms_action_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("provider_message_id", ""), _negated=True),
                        name="inboundsms_has_message_id",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("handled_by__isnull", True),
                            ("handled_at__isnull", False),
                            _connector="OR",
                        ),
                        name="inboundsms_handled_has_time",
                    ),
                ],
            },
        ),
        migrations.RunPython(grant_inbox, migrations.RunPython.noop),
    ]
