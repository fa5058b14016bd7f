"""A record's further diagnoses, in order after its principal one (issue 20)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0012_amendment_codes"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalprocedure",
            name="secondary_diagnosis_codes",
            field=models.JSONField(blank=True, db_default=[], default=list),
        ),
        migrations.AddField(
            model_name="procedure",
            name="secondary_diagnosis_codes",
            field=models.JSONField(blank=True, db_default=[], default=list),
        ),
    ]
