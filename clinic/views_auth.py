"""Staff logins: two-factor login (enrol an authenticator app once, then enter its code
after the password at every login), and the emailed links that set a password: an
invitation or two-factor reset (then enrol a phone), or "forgot my password"."""

from base64 import b32encode
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN, PasswordResetConfirmView
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import services
from .audit import client_ip_address
from .errors import form_add_error
from .forms import PasswordResetRequestForm

# Set in the session by an invitation or reset link: this session may enrol a phone for
# this user. A password alone never may, or whoever learnt it first would own the account.
ENROLMENT_ALLOWED = "clinic_enrolment_allowed_for"


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return "/"


def _confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request):
    """The second step of logging in: a code from the device the user enrolled."""
    device = _confirmed_device(request.user)
    if device is None:
        return _redirect_with_next("two_factor_enrol", request)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # verify_token slows down repeated wrong codes (django-otp's throttling).
        if device.verify_token(form.cleaned_data["token"].strip()):
            otp_login(request, device)
            return redirect(_next_url(request))
        form.add_error("token", _("That code is not right, or it has expired. Try the next one."))
    return render(
        request, "clinic/two_factor_verify.html", {"form": form, "next": _next_url(request)}
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_enrol(request):
    """Set up an authenticator app: scan the QR code, then prove it with one code.

    Only for a user without a confirmed device, in a session that came through their
    emailed invitation or reset link: otherwise someone holding just the password could
    enrol their own phone and walk past the second factor.
    """
    if _confirmed_device(request.user) is not None:
        return _redirect_with_next("two_factor_verify", request)
    if request.session.get(ENROLMENT_ALLOWED) != request.user.pk:
        return render(request, "clinic/two_factor_enrol_refused.html", status=403)
    device = services.totp_device_for_enrolment(user=request.user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.totp_device_confirm(device=device, token=form.cleaned_data["token"]):
            otp_login(request, device)
            return redirect(_next_url(request))
        form.add_error("token", _("That code is not right. Check the phone's clock and try again."))
    return render(
        request,
        "clinic/two_factor_enrol.html",
        {
            "form": form,
            "next": _next_url(request),
            "qr_code": _qr_svg(device.config_url),
            # For typing into an app when the camera cannot read the code.
            "secret": b32encode(device.bin_key).decode(),
        },
    )


def _qr_svg(text: str) -> str:
    """The QR code as inline SVG: no remote image, no inline style (the CSP allows neither)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return mark_safe(image.to_string(encoding="unicode"))  # noqa: S308 -- made here, not input


def _redirect_with_next(url_name: str, request):
    return redirect(f"{reverse(url_name)}?{urlencode({'next': _next_url(request)})}")


# --- Links that set a password ----------------------------------------------------------


class StaffSetPasswordView(PasswordResetConfirmView):
    """Set a password from an emailed link, then go on logged in: to enrolling a phone
    when two-factor login is on and the user has none, else to the home page.

    Django's view moves the token from the address into the session first, so the page
    the form is on carries no token. A link that is wrong, used or expired answers 400
    with a page that says so.
    """

    template_name = "registration/staff_set_password.html"
    link_kind = ""

    def render_to_response(self, context, **response_kwargs):
        if not self.validlink:
            response_kwargs["status"] = 400
        context["link_kind"] = self.link_kind
        return super().render_to_response(context, **response_kwargs)

    def form_valid(self, form):
        user = services.staff_password_set(
            user=form.user, password=form.cleaned_data["new_password1"], link=self.link_kind
        )
        del self.request.session[INTERNAL_RESET_SESSION_TOKEN]
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        self.request.session[ENROLMENT_ALLOWED] = user.pk
        if settings.CLINIC_REQUIRE_2FA and _confirmed_device(user) is None:
            return redirect("two_factor_enrol")
        return redirect(settings.LOGIN_REDIRECT_URL)


staff_setup = StaffSetPasswordView.as_view(
    token_generator=services.SETUP_TOKENS, link_kind=_("invitation")
)
password_reset_confirm = StaffSetPasswordView.as_view(
    token_generator=services.RESET_TOKENS, link_kind=_("password reset")
)


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset_request(request):
    """Ask for a reset link by email. The answer is the same whether an account has the
    address or not; past the hourly limits it is 429, for any address, and 503 while
    the limits cannot be counted."""
    form = PasswordResetRequestForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.staff_password_reset_request(
                email=form.cleaned_data["email"], ip_address=client_ip_address(request)
            )
        except (services.TooManyResetRequests, services.ResetRequestsUnavailable) as error:
            status = form_add_error(form, error)
        else:
            return redirect("password_reset_sent")
    elif request.method == "POST":
        status = 400
    return render(
        request, "registration/password_reset_request.html", {"form": form}, status=status
    )


@never_cache
def password_reset_sent(request):
    return render(
        request,
        "registration/password_reset_sent.html",
        {"minutes": int(services.RESET_LINK_MAX_AGE.total_seconds() // 60)},
    )
