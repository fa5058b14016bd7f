"""The API's clients (the scopes the manager grants each one) and its bulk exports."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

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
        verbose_name=_("application"),
    )
    granted_scopes = models.TextField(
        validators=[validate_scopes],
        help_text=_(
            "Space-separated, e.g. system/Patient.rs system/Appointment.crus system/Slot.rs"
        ),
        verbose_name=_("granted scopes"),
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Requests per minute; empty: the clinic's default."),
        verbose_name=_("rate limit per minute"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

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
        ACCEPTED = "accepted", _("Accepted")
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID")
    )
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.ACCEPTED, verbose_name=_("status")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("requested by"),
    )
    # Empty when the manager asked in the admin.
    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("client"),
    )
    request_url = models.CharField(max_length=500, verbose_name=_("request URL"))
    # What was asked for: the resource types (empty: every exported type), and only what
    # changed after `since` (empty: everything).
    types = models.JSONField(default=list, blank=True, verbose_name=_("resource types"))
    since = models.DateTimeField(null=True, blank=True, verbose_name=_("changed since"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    # [{"type": "Patient", "name": "Patient.ndjson", "count": 12}, ...]
    files = models.JSONField(default=list, blank=True, verbose_name=_("files"))
    # The patients whose records it holds, for the access log of each download.
    patient_ids = models.JSONField(default=list, blank=True, verbose_name=_("patient IDs"))
    error = models.CharField(max_length=300, blank=True, verbose_name=_("error"))

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
