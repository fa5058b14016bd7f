"""The staff roles as groups with permissions.

Who may see and do what follows DOMAIN.md: demographics and the schedule are everyone's,
lesions and clinical records are the dermatologists' (managers read and run the rest).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

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
    # Permissions are normally made after all migrations ran; make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, grants in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        codenames = []
        for model_label, actions in grants.items():
            app_label, model = model_label.split(".")
            codenames += [(app_label, f"{action}_{model}") for action in actions]
        permissions = [
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in codenames
        ]
        group.permissions.set(permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("clinic", "0001_initial"),
        ("patients", "0001_initial"),
        ("treatments", "0002_procedure_catalogue"),
    ]

    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
