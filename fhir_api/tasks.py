from celery import shared_task

from . import services


@shared_task
def bulk_export_task(export_id: str) -> None:
    """Thin: the service claims the export, so a second delivery does nothing."""
    services.bulk_export_run(export_id=export_id)
