"""Delivery health: when a reminder was given up on, and how each channel fared lately."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0010_security_permissions"),
        ("patients", "0003_search_trigram_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChannelHealth",
            fields=[
                (
                    "channel",
                    models.CharField(
                        choices=[("email", "Email"), ("sms", "SMS")],
                        max_length=5,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("failures_in_a_row", models.PositiveIntegerField(default=0)),
                ("last_success_at", models.DateTimeField(blank=True, null=True)),
                ("last_failure_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "verbose_name_plural": "channel health",
            },
        ),
        migrations.AddField(
            model_name="reminder",
            name="failed_at",
            field=models.DateTimeField(
                blank=True, help_text="When it was given up on (failed only)", null=True
            ),
        ),
        migrations.AddIndex(
            model_name="reminder",
            index=models.Index(
                condition=models.Q(("status", "failed")),
                fields=["failed_at"],
                name="reminder_failed_idx",
            ),
        ),
    ]
