"""The staff roles as groups with permissions.

Who may see and do what follows docs/clinical-background.md: demographics and the schedule are everyone's,
lesions and clinical records are the dermatologists' (managers read and run the rest).
"""

from django.db import migrations

from ._grants import grant

READ = ["view"]
WRITE = ["view", "add", "change"]
ALL = ["view", "add", "change", "delete"]

ROLE_PERMISSIONS = {
    "Receptionists": {
        "patients.patient": WRITE,
        "patients.guardian": WRITE,
        "treatments.appointment": WRITE,
        "treatments.proceduretype": READ,
        "clinic.staffmember": READ,
        "clinic.room": READ,
        "clinic.workinghours": READ,
        "clinic.timeoff": READ,
    },
    "Dermatologists": {
        "patients.patient": WRITE,
        "patients.guardian": WRITE,
        "patients.lesion": WRITE,
        "treatments.appointment": WRITE,
        "treatments.proceduretype": READ,
        "clinic.staffmember": READ,
        "clinic.room": READ,
        "clinic.workinghours": READ,
        "clinic.timeoff": READ,
    },
    "Clinic managers": {
        "auth.user": WRITE,
        "auth.group": READ,
        "patients.patient": WRITE,
        "patients.guardian": ALL,
        "patients.lesion": READ,
        "treatments.appointment": WRITE,
        "treatments.proceduretype": ALL,
        "clinic.staffmember": ALL,
        "clinic.room": ALL,
        "clinic.workinghours": ALL,
        "clinic.timeoff": ALL,
        "clinic.heartbeat": READ,
    },
}


def create_role_groups(apps, schema_editor):
    grant(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("clinic", "0001_initial"),
        ("patients", "0001_initial"),
        ("treatments", "0002_procedure_catalogue"),
    ]

    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
