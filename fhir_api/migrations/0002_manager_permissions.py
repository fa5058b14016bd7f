"""The clinic manager registers API clients, grants their scopes and starts and reads
bulk exports in the admin; nobody else does."""

from django.db import migrations

from clinic.migrations._grants import grant

GRANTS = {
    "Clinic managers": {
        "fhir_api.apiclient": ["view", "add", "change", "delete"],
        "fhir_api.bulkexport": ["view", "add"],
    },
}


def grant_managers(apps, schema_editor):
    grant(apps, GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("fhir_api", "0001_api_clients_and_exports"),
        ("clinic", "0021_access_log_client"),
    ]

    operations = [migrations.RunPython(grant_managers, migrations.RunPython.noop)]
