"""Amendments may correct the record's CPT and ICD-10-CM codes; its charge lines follow
(docs/billing.md)."""

import django.core.validators
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0011_billing"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="amendment",
            name="diagnosis_code",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=10, verbose_name="ICD-10-CM code"
            ),
        ),
        migrations.AddField(
            model_name="amendment",
            name="procedure_code",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                max_length=10,
                validators=[
                    django.core.validators.RegexValidator(
                        "\\A[0-9]{4}[0-9FT]\\Z",
                        "A CPT code is five digits, or four digits and F or T (17110, 3008F, 0479T).",
                        code="cpt_code",
                    )
                ],
                verbose_name="CPT code",
            ),
        ),
        migrations.AddField(
            model_name="historicalamendment",
            name="diagnosis_code",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=10, verbose_name="ICD-10-CM code"
            ),
        ),
        migrations.AddField(
            model_name="historicalamendment",
            name="procedure_code",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                max_length=10,
                validators=[
                    django.core.validators.RegexValidator(
                        "\\A[0-9]{4}[0-9FT]\\Z",
                        "A CPT code is five digits, or four digits and F or T (17110, 3008F, 0479T).",
                        code="cpt_code",
                    )
                ],
                verbose_name="CPT code",
            ),
        ),
        migrations.AddConstraint(
            model_name="amendment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("procedure_code", ""),
                    ("procedure_code__regex", "\\A[0-9]{4}[0-9FT]\\Z"),
                    _connector="OR",
                ),
                name="amendment_code_is_cpt",
            ),
        ),
    ]
