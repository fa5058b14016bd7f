"""Recurrence checks by photo: what the patient sends through the check's link, and its photos."""

import django.db.models.deletion
import treatments.models
from django.conf import settings
from django.db import migrations, models

from clinic.migrations._grants import grant


def let_managers_read_photo_checks(apps, schema_editor):
    grant(apps, {"Clinic managers": {"treatments.photocheck": ["view"]}})


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0006_guardian_language"),
        ("treatments", "0016_self_service_policy"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="PhotoCheck",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("submitted_at", models.DateTimeField()),
                (
                    "new_bumps",
                    models.CharField(
                        choices=[("no", "No"), ("yes", "Yes"), ("not_sure", "Not sure")],
                        max_length=8,
                    ),
                ),
                (
                    "where",
                    models.CharField(
                        blank=True, help_text="Where, in the patient's words", max_length=200
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("submitted", "Waiting for review"), ("reviewed", "Reviewed")],
                        default="submitted",
                        max_length=10,
                    ),
                ),
                (
                    "result",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("resolved", "Resolved: follow-up closed"),
                            ("recurred", "Recurred: invited to book"),
                            ("needs_visit", "Needs a visit: invited to book"),
                        ],
                        max_length=12,
                    ),
                ),
                ("reviewed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "follow_up",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="photo_check",
                        to="treatments.followup",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="photo_checks",
                        to="patients.patient",
                    ),
                ),
                (
                    "reviewed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["submitted_at", "id"],
            },
        ),
        migrations.CreateModel(
            name="PhotoCheckImage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "image",
                    models.FileField(
                        storage=treatments.models.private_photo_storage,
                        upload_to=treatments.models.photo_check_path,
                    ),
                ),
                (
                    "thumbnail",
                    models.FileField(
                        storage=treatments.models.private_photo_storage,
                        upload_to=treatments.models.photo_check_path,
                    ),
                ),
                ("content_type", models.CharField(max_length=20)),
                ("width", models.PositiveIntegerField()),
                ("height", models.PositiveIntegerField()),
                (
                    "photo_check",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="images",
                        to="treatments.photocheck",
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
            },
        ),
        migrations.AddIndex(
            model_name="photocheck",
            index=models.Index(
                condition=models.Q(("status", "submitted")),
                fields=["submitted_at"],
                name="photo_check_waiting_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="photocheck",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["submitted", "reviewed"])),
                name="photo_check_status_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="photocheck",
            constraint=models.CheckConstraint(
                condition=models.Q(("new_bumps__in", ["no", "yes", "not_sure"])),
                name="photo_check_new_bumps_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="photocheck",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("result", ""), ("reviewed_at__isnull", True), ("status", "submitted")
                    ),
                    models.Q(
                        ("reviewed_at__isnull", False),
                        ("reviewed_by__isnull", False),
                        ("status", "reviewed"),
                        models.Q(("result", ""), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="photo_check_reviewed_by_someone",
            ),
        ),
        migrations.AddConstraint(
            model_name="photocheckimage",
            constraint=models.CheckConstraint(
                condition=models.Q(("content_type__in", ["image/jpeg", "image/png"])),
                name="photo_check_image_jpeg_or_png",
            ),
        ),
        migrations.RunPython(let_managers_read_photo_checks, migrations.RunPython.noop),
    ]
