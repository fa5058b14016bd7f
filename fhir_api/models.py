"""The API's clients (the scopes the manager grants each one) and its bulk exports."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from .scopes import validate_scopes


class ApiClient(models.Model):
    """A program allowed to use the FHIR API: a client-credentials Application of
    django-oauth-toolkit, the scopes the manager granted it, and its rate limit.

    Its Application's user is a service account of its own (fhir_api.services.api_client_register):
    the client's writes name it in the records' history and its reads in the access log."""

    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="api_client",
    )
    granted_scopes = models.TextField(
        validators=[validate_scopes],
        help_text="Space-separated, e.g. system/Patient.rs system/Appointment.crus system/Slot.rs",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests per minute; empty: the clinic's default."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "API client"
        ordering = ["application__name"]

    def __str__(self):
        return self.application.name

    @property
    def requests_per_minute(self) -> int:
        return self.rate_limit_per_minute or settings.FHIR_RATE_LIMIT_PER_MINUTE


class BulkExport(models.Model):
    """One clinic-wide FHIR Bulk Data export: NDJSON files, one per resource type."""

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACCEPTED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # Empty when the manager asked in the admin.
    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    request_url = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # [{"type": "Patient", "name": "Patient.ndjson", "count": 12}, ...]
    files = models.JSONField(default=list, blank=True)
    # The patients whose records it holds, for the access log of each download.
    patient_ids = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["accepted", "in_progress", "completed", "failed"]),
                name="bulkexport_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["accepted", "in_progress"]) | Q(finished_at__isnull=False),
                name="bulkexport_finished_has_time",
            ),
        ]

    def __str__(self):
        return f"Export {self.id} ({self.get_status_display()})"
