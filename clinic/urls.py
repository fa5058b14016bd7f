from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views, views_auth

admin.site.site_header = "Milia Clinic administration"
admin.site.site_title = "Milia Clinic"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("login/verify/", views_auth.two_factor_verify, name="two_factor_verify"),
    path("login/enrol/", views_auth.two_factor_enrol, name="two_factor_enrol"),
    # Emailed links that set a password: an invitation or two-factor reset, or a reset.
    path("login/setup/<uidb64>/<token>/", views_auth.staff_setup, name="staff_setup"),
    path("login/reset/", views_auth.password_reset_request, name="password_reset"),
    path("login/reset/sent/", views_auth.password_reset_sent, name="password_reset_sent"),
    path(
        "login/reset/<uidb64>/<token>/",
        views_auth.password_reset_confirm,
        name="password_reset_confirm",
    ),
    # The public booking page and the patient portal (issue 15): no login.
    path("", include("portal.urls")),
    path("fhir/", include("fhir_api.urls")),
    path("", include("treatments.urls")),
    path("admin/", admin.site.urls),
]

handler500 = "clinic.views.server_error"
