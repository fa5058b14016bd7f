"""The manager's side of the API: register clients and grant their scopes; start bulk
exports and download their files."""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from oauth2_provider import models as oauth_models

from .models import ApiClient, BulkExport
from .services import api_client_grant, api_client_register, bulk_export_request

# django-oauth-toolkit's own admins are off: clients are registered and granted through
# ApiClient (which makes the Application and its service account), and tokens are secrets
# nobody needs to browse.
for oauth_model in (
    oauth_models.get_application_model(),
    oauth_models.get_access_token_model(),
    oauth_models.get_refresh_token_model(),
    oauth_models.get_grant_model(),
    oauth_models.get_id_token_model(),
):
    if admin.site.is_registered(oauth_model):
        admin.site.unregister(oauth_model)


class ApiClientAddForm(forms.ModelForm):
    """Adding a client: its name and grant; the Application and its secret are made by
    the service, the secret shown once."""

    name = forms.CharField(max_length=255, help_text=_("The program, e.g. Referral portal"))

    class Meta:
        model = ApiClient
        fields = ["name", "granted_scopes", "rate_limit_per_minute"]


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ["__str__", "client_id", "granted_scopes", "rate_limit_per_minute", "created_at"]
    list_select_related = ["application"]
    search_fields = ["application__name", "application__client_id"]
    fields = ["application", "granted_scopes", "rate_limit_per_minute"]
    readonly_fields = ["application"]

    @admin.display(description=_("Client id"))
    def client_id(self, obj: ApiClient) -> str:
        return obj.application.client_id

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiClientAddForm
            kwargs["fields"] = ["name", "granted_scopes", "rate_limit_per_minute"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ["application"] if obj else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "granted_scopes", "rate_limit_per_minute"]
        return self.fields

    def save_model(self, request, obj, form, change):
        if change:
            api_client_grant(
                api_client=obj,
                scopes=form.cleaned_data["granted_scopes"],
                rate_limit_per_minute=form.cleaned_data["rate_limit_per_minute"],
            )
            return
        new = api_client_register(
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["granted_scopes"],
            rate_limit_per_minute=form.cleaned_data["rate_limit_per_minute"],
        )
        obj.pk, obj.application = new.api_client.pk, new.api_client.application
        messages.warning(
            request,
            gettext(
                "Client id %(id)s, secret %(secret)s — copy the secret now: it is stored "
                "hashed and cannot be shown again."
            )
            % {"id": new.client_id, "secret": new.client_secret},
        )


@admin.register(BulkExport)
class BulkExportAdmin(admin.ModelAdmin):
    """Adding one starts a clinic-wide export (a Celery task writes its NDJSON files);
    its page links the files, whose downloads are access-logged."""

    list_display = ["created_at", "status", "requested_by", "client", "finished_at"]
    list_filter = ["status"]
    list_select_related = ["requested_by", "client"]
    fields = (
        "status",
        "requested_by",
        "client",
        "types",
        "since",
        "created_at",
        "finished_at",
        "downloads",
        "error",
    )
    readonly_fields = fields

    def get_fields(self, request, obj=None):
        return [] if obj is None else self.fields

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Files"))
    def downloads(self, obj: BulkExport) -> str:
        return format_html_join(
            ", ",
            '<a href="{}">{}</a> ({})',
            (
                (
                    reverse("fhir:export_download", args=[obj.pk, item["name"]]),
                    item["name"],
                    item["count"],
                )
                for item in obj.files
            ),
        ) or format_html("{}", "—")

    def save_model(self, request, obj, form, change):
        export = bulk_export_request(
            requested_by=request.user, client=None, request_url=request.build_absolute_uri()
        )
        obj.pk = export.pk
