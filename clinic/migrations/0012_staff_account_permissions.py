"""Managers no longer edit users or delete two-factor devices directly (issue 13).

With `auth.change_user` a manager could make themselves superuser or set a colleague's
password; with `otp_totp.delete_totpdevice` remove the colleague's phone and enrol their
own. Staff are now added, changed and deactivated through their staff member (the
services invite them by email), and a lost phone is a two-factor reset that the service
carries out. Managers keep reading users and devices.
"""

from django.db import migrations

from ._grants import grant

REVOKED = {
    "Clinic managers": {
        "auth.user": ["add", "change"],
        "otp_totp.totpdevice": ["delete"],
    },
}


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name__in=REVOKED):
        for model_label, actions in REVOKED[group.name].items():
            app_label, model = model_label.split(".")
            group.permissions.remove(
                *Permission.objects.filter(
                    content_type__app_label=app_label,
                    codename__in=[f"{action}_{model}" for action in actions],
                )
            )


def grant_again(apps, schema_editor):
    grant(apps, REVOKED)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0011_delivery_health"),
        ("otp_totp", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(revoke, grant_again)]
