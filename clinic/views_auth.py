"""Two-factor login: enrol an authenticator app (TOTP) once, then enter its code after
the password at every login."""

from base64 import b32encode
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import services


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code from your authenticator app",
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
        form.add_error("token", "That code is not right, or it has expired. Try the next one.")
    return render(
        request, "clinic/two_factor_verify.html", {"form": form, "next": _next_url(request)}
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_enrol(request):
    """Set up an authenticator app: scan the QR code, then prove it with one code.

    Only for a user without a confirmed device: otherwise someone holding just the
    password could enrol their own phone and walk past the second factor.
    """
    if _confirmed_device(request.user) is not None:
        return _redirect_with_next("two_factor_verify", request)
    device = services.totp_device_for_enrolment(user=request.user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.totp_device_confirm(device=device, token=form.cleaned_data["token"]):
            otp_login(request, device)
            return redirect(_next_url(request))
        form.add_error("token", "That code is not right. Check the phone's clock and try again.")
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
