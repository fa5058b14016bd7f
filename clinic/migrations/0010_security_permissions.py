"""The roles' permissions for the security work (issue 6), after reviewing 0002–0008
against docs/clinical-background.md.

- Managers read the access log (nobody may add, change or delete it: the admin refuses
  those for everyone, so no such permission is granted).
- Managers read which single-use patient links were used (its admin existed, unreadable).
- A locked-out colleague or a lost phone: managers may see logins and failed logins,
  remove a lockout's failure records (unlocking the user) and two-factor devices (the user enrols a new phone at
  the next login). They cannot read or create a device's secret.
Receptionists and dermatologists get nothing here: they do not use the admin.
"""

from django.db import migrations

from ._grants import grant

GRANTS = {
    "Clinic managers": {
        "clinic.accesslog": ["view"],
        "clinic.usedpatientlink": ["view"],
        "axes.accessattempt": ["view", "delete"],
        "axes.accesslog": ["view"],
        "axes.accessfailurelog": ["view"],
        "otp_totp.totpdevice": ["view", "delete"],
    },
}


def grant_security(apps, schema_editor):
    grant(apps, GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0009_access_log"),
        ("axes", "0010_accessattemptexpiration"),
        ("otp_totp", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(grant_security, migrations.RunPython.noop)]
