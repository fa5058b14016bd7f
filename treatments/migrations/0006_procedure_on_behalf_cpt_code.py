"""A record says whether another dermatologist wrote it on behalf of the visit's, and its
procedure code must be a CPT code (or empty). Records whose code is not one stop the
migration with their ids: a signed record is corrected by a person, never by a script."""

import django.core.validators
from django.conf import settings
from django.db import migrations, models

CPT_CODE_PATTERN = r"\A[0-9]{4}[0-9FT]\Z"
cpt_code_validator = django.core.validators.RegexValidator(
    CPT_CODE_PATTERN,
    "A CPT code is five digits, or four digits and F or T (17110, 3008F, 0479T).",
    code="cpt_code",
)


def refuse_codes_that_are_not_cpt(apps, schema_editor):
    Procedure = apps.get_model("treatments", "Procedure")
    bad = list(
        Procedure.objects.exclude(procedure_code="")
        .exclude(procedure_code__regex=CPT_CODE_PATTERN)
        .values_list("pk", flat=True)[:20]
    )
    if bad:
        raise RuntimeError(
            "These procedure records have a procedure code that is not a CPT code; correct "
            f"them before migrating (procedure ids, up to 20): {bad}"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0005_follow_up_booking_requested"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(refuse_codes_that_are_not_cpt, migrations.RunPython.noop),
        migrations.AddField(
            model_name="historicalprocedure",
            name="recorded_on_behalf",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text="Recorded by another dermatologist (created by) for the visit's "
                "dermatologist",
            ),
        ),
        migrations.AddField(
            model_name="procedure",
            name="recorded_on_behalf",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text="Recorded by another dermatologist (created by) for the visit's "
                "dermatologist",
            ),
        ),
        migrations.AlterField(
            model_name="historicalprocedure",
            name="procedure_code",
            field=models.CharField(blank=True, max_length=10, validators=[cpt_code_validator]),
        ),
        migrations.AlterField(
            model_name="procedure",
            name="procedure_code",
            field=models.CharField(blank=True, max_length=10, validators=[cpt_code_validator]),
        ),
        migrations.AddConstraint(
            model_name="procedure",
            constraint=models.CheckConstraint(
                condition=models.Q(procedure_code="")
                | models.Q(procedure_code__regex=CPT_CODE_PATTERN),
                name="procedure_code_is_cpt",
            ),
        ),
        migrations.AddConstraint(
            model_name="procedure",
            constraint=models.CheckConstraint(
                condition=models.Q(recorded_on_behalf=False) | models.Q(created_by__isnull=False),
                name="procedure_on_behalf_names_its_author",
            ),
        ),
    ]
