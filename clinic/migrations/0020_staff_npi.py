"""A dermatologist's NPI, for superbills (issue 20)."""

import clinic.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0019_translatable_field_names"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="staffmember",
            name="npi",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                help_text="National Provider Identifier (10 digits) of a dermatologist",
                max_length=10,
                validators=[clinic.models.validate_npi],
                verbose_name="NPI",
            ),
        ),
        migrations.AddConstraint(
            model_name="staffmember",
            constraint=models.CheckConstraint(
                condition=models.Q(("npi", ""), ("npi__regex", "\\A[0-9]{10}\\Z"), _connector="OR"),
                name="staff_npi_ten_digits",
            ),
        ),
    ]
