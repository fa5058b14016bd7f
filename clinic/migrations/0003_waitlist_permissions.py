"""The roles' permissions on the waitlist and the appointment history."""

from django.db import migrations

from ._grants import grant

READ = ["view"]
WRITE = ["view", "add", "change"]

GRANTS = {
    "Receptionists": {"treatments.waitlistentry": WRITE, "treatments.appointmentevent": READ},
    "Dermatologists": {"treatments.waitlistentry": READ, "treatments.appointmentevent": READ},
    "Clinic managers": {
        "treatments.waitlistentry": ["view", "add", "change", "delete"],
        "treatments.appointmentevent": READ,
    },
}


def grant_waitlist(apps, schema_editor):
    grant(apps, GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0002_role_groups"),
        ("treatments", "0003_no_double_booking_waitlist"),
    ]

    operations = [migrations.RunPython(grant_waitlist, migrations.RunPython.noop)]
