"""The roles' permissions on clinical records: dermatologists write, managers read.

Receptionists get none of them (docs/clinical-background.md: they see demographics and the schedule, not
clinical notes); they may see and book follow-ups, which are part of the schedule.
"""

from django.db import migrations

from ._grants import grant

READ = ["view"]
WRITE = ["view", "add", "change"]

GRANTS = {
    "Dermatologists": {
        "patients.patientalert": WRITE,
        "treatments.procedure": WRITE,
        "treatments.procedurelesion": WRITE,
        "treatments.amendment": ["view", "add"],
        "treatments.followup": WRITE,
        "treatments.followupoutcome": WRITE,
        "treatments.clinicalphoto": WRITE,
    },
    "Clinic managers": {
        "patients.patientalert": READ,
        "treatments.procedure": READ,
        "treatments.procedurelesion": READ,
        "treatments.amendment": READ,
        "treatments.followup": READ,
        "treatments.followupoutcome": READ,
        "treatments.clinicalphoto": READ,
    },
    "Receptionists": {"treatments.followup": ["view", "change"]},
}


def grant_clinical(apps, schema_editor):
    grant(apps, GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0004_used_patient_links"),
        ("patients", "0002_alerts_and_history"),
        ("treatments", "0004_clinical_records"),
    ]

    operations = [migrations.RunPython(grant_clinical, migrations.RunPython.noop)]
