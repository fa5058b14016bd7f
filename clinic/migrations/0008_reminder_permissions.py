"""The roles' permissions on the reminder outbox and its templates.

Managers watch the outbox (retry, cancel) and edit the texts, including adding a
template in another language; receptionists may see what was sent to whom.
"""

from django.db import migrations

from ._grants import grant

GRANTS = {
    "Clinic managers": {
        "clinic.reminder": ["view", "change"],
        "clinic.remindertemplate": ["view", "add", "change"],
    },
    "Receptionists": {"clinic.reminder": ["view"]},
}


def grant_reminders(apps, schema_editor):
    grant(apps, GRANTS)


class Migration(migrations.Migration):
    dependencies = [("clinic", "0007_reminder_templates")]

    operations = [migrations.RunPython(grant_reminders, migrations.RunPython.noop)]
