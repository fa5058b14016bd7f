"""Billing documents emailed at the desk's request (issue 20)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from clinic.migrations._grants import grant


def grant_billing_email(apps, schema_editor):
    """Managers read who emailed which document to whom (read-only in the admin)."""
    grant(apps, {"Clinic managers": {"treatments.billingemail": ["view"]}})


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0006_guardian_language"),
        ("treatments", "0013_diagnoses"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="BillingEmail",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "document",
                    models.CharField(
                        choices=[
                            ("invoice", "Invoice"),
                            ("receipt", "Receipt"),
                            ("superbill", "Superbill"),
                        ],
                        max_length=10,
                    ),
                ),
                (
                    "service_date",
                    models.DateField(blank=True, help_text="A superbill's day", null=True),
                ),
                ("email", models.EmailField(max_length=254)),
                ("recipient_name", models.CharField(max_length=201)),
                ("language", models.CharField(max_length=8)),
                ("requested_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "status",
                    models.CharField(
                        choices=[("pending", "Pending"), ("sent", "Sent"), ("failed", "Failed")],
                        default="pending",
                        max_length=8,
                    ),
                ),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                ("error", models.CharField(blank=True, max_length=300)),
                (
                    "invoice",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="treatments.invoice",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="billing_emails",
                        to="patients.patient",
                    ),
                ),
                (
                    "payment",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="treatments.payment",
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-requested_at", "-id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("document", "invoice"),
                                ("invoice__isnull", False),
                                ("payment__isnull", True),
                                ("service_date__isnull", True),
                            ),
                            models.Q(
                                ("document", "receipt"),
                                ("payment__isnull", False),
                                ("invoice__isnull", True),
                                ("service_date__isnull", True),
                            ),
                            models.Q(
                                ("document", "superbill"),
                                ("service_date__isnull", False),
                                ("invoice__isnull", True),
                                ("payment__isnull", True),
                            ),
                            _connector="OR",
                        ),
                        name="billing_email_names_its_document",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("status__in", ["pending", "sent", "failed"])),
                        name="billing_email_status_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("sent_at__isnull", False), ("status", "sent")),
                            models.Q(
                                models.Q(("status", "sent"), _negated=True),
                                ("sent_at__isnull", True),
                            ),
                            _connector="OR",
                        ),
                        name="billing_email_sent_has_when",
                    ),
                ],
            },
        ),
        migrations.RunPython(grant_billing_email, migrations.RunPython.noop),
    ]
