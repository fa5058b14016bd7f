"""The Celery app: configuration from Django settings (CELERY_*), tasks from every app.

The beat schedule lives here, in code, so what runs periodically is reviewed like code.
Due work is a database row picked up by a periodic sweep; nothing is scheduled far ahead
with `eta` or `countdown`, which a broker restart could lose.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings.local")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "beat-heartbeat": {
        "task": "clinic.tasks.beat_heartbeat",
        "schedule": 60.0,
        # A heartbeat older than a minute says nothing useful; don't let them pile up.
        "options": {"expires": 55},
    },
    "reminders-send-due": {
        "task": "clinic.tasks.reminders_send_due",
        "schedule": 60.0,
        # Sweeps that queued up while no worker ran add nothing to the next one.
        "options": {"expires": 55},
    },
    # Patients online: one-time codes and portal sessions are deleted a day after use.
    "portal-records-purge": {
        "task": "portal.tasks.portal_records_purge",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
}
