"""Patients' texts to the clinic: the providers' webhooks (no login, the signature is the
permission) and the desk's inbox of texts that need a person."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from clinic.audit import access_log_record_patients
from clinic.models import AccessLog, InboundSms
from clinic.permissions import FRONT_DESK, role_required
from clinic.selectors import inbound_sms_inbox
from clinic.sms_inbound import (
    inbound_sms_mark_handled,
    twilio_signature_valid,
    vonage_signature_valid,
)

from ..services.sms_replies import sms_reply_receive

# TwiML that sends no reply: what the reply did is for the clinic to see, not to text back.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
NOT_SIGNED = "The request's signature is missing or wrong."
INBOX_PAGE_SIZE = 50


def _as_configured(request) -> str:
    """The URL the provider was given: CLINIC_BASE_URL's scheme and host, and this path
    (a proxy in front may have changed both on the way in)."""
    base = urlsplit(settings.CLINIC_BASE_URL)
    return f"{base.scheme}://{base.netloc}{request.get_full_path()}"


@csrf_exempt
@require_POST
def twilio_inbound(request):
    """Twilio's webhook for a text to the clinic's number: checked, kept, acted on."""
    params = [(name, value) for name, values in request.POST.lists() for value in values]
    signature = request.headers.get("X-Twilio-Signature", "")
    if not twilio_signature_valid(url=_as_configured(request), params=params, signature=signature):
        return HttpResponseForbidden(NOT_SIGNED, content_type="text/plain; charset=utf-8")
    message_id, sender = request.POST.get("MessageSid", ""), request.POST.get("From", "")
    if not message_id or not sender or len(message_id) > 64:
        return HttpResponseBadRequest("MessageSid and From are required.")
    sms_reply_receive(
        provider=InboundSms.Provider.TWILIO,
        provider_message_id=message_id,
        sender=sender,
        recipient=request.POST.get("To", ""),
        body=request.POST.get("Body", ""),
    )
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def vonage_inbound(request):
    """Vonage's inbound-message webhook (SMS API, signed, POST): checked, kept, acted on."""
    params = request.POST.dict()
    if not vonage_signature_valid(params=params):
        return HttpResponseForbidden(NOT_SIGNED, content_type="text/plain; charset=utf-8")
    message_id, sender = params.get("messageId", ""), params.get("msisdn", "")
    if not message_id or not sender or len(message_id) > 64:
        return HttpResponseBadRequest("messageId and msisdn are required.")
    sms_reply_receive(
        provider=InboundSms.Provider.VONAGE,
        provider_message_id=message_id,
        sender=sender,
        recipient=params.get("to", ""),
        body=params.get("text", ""),
    )
    return HttpResponse(status=204)  # Vonage wants a 200 or 204, and reads no body


@require_GET
@role_required(*FRONT_DESK)
def sms_inbox(request):
    """Texts from patients: those that need a person first. Every patient named on the
    page gets an access-log row: a text may say anything about their health."""
    page = Paginator(inbound_sms_inbox(), INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    access_log_record_patients(
        request=request,
        action=AccessLog.Action.RECORD_VIEW,
        patient_ids=[message.patient_id for message in page if message.patient_id],
        detail="SMS inbox",
    )
    return render(request, "treatments/sms_inbox.html", {"page": page})


@require_POST
@role_required(*FRONT_DESK)
def sms_mark_handled(request, pk):
    message = get_object_or_404(InboundSms, pk=pk)
    if inbound_sms_mark_handled(message=message, by=request.user):
        messages.success(request, _("The text is marked handled."))
    else:
        messages.info(request, _("Someone had marked that text handled already."))
    return redirect("treatments:sms_inbox")
