"""Shared by the migrations that give the role groups their permissions.

(The migration loader skips modules whose names start with an underscore.)
"""

from django.contrib.auth.management import create_permissions


def grant(apps, grants_by_group: dict[str, dict[str, list[str]]]) -> None:
    """Add `{"Group": {"app.model": ["view", "add"]}}` permissions to the named groups."""
    # Permissions are normally made after all migrations ran; make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, grants in grants_by_group.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        for model_label, actions in grants.items():
            app_label, model = model_label.split(".")
            group.permissions.add(
                *Permission.objects.filter(
                    content_type__app_label=app_label,
                    codename__in=[f"{action}_{model}" for action in actions],
                )
            )
