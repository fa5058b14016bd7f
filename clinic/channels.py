"""How a reminder reaches a person: its words, and the email and SMS channels.

Email goes through Django's email backend (SMTP in production, files in the embedded
default): plain text, an HTML alternative and, for a visit, a calendar file (iMIP,
RFC 6047: METHOD:REQUEST with the visit's SEQUENCE, or METHOD:CANCEL when it is off). It
names the clinic by CLINIC_MAIL_NAME, never by what it treats, and carries a one-click
List-Unsubscribe (RFC 8058) when patient links are https. SMS goes
through the backend that `SMS_BACKEND` names: files in `var/sms` by default, Twilio or
Vonage, with the one `SMS_FAILOVER_BACKEND` names taking over when it is down.
A channel is opened once per batch (one SMTP connection, one HTTP session) and raises
`DeliveryError` for a message it could not hand over, saying whether trying again can help.
"""

import functools
import hashlib
import hmac
import logging
import os
import re
import smtplib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import Self

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template import Context, Template, TemplateSyntaxError
from django.utils import formats, timezone, translation
from django.utils.html import format_html
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from patients.models import Channel

from .links import Action, LinkUrls
from .models import Reminder, ReminderTemplate
from .services import SMS_FAILOVER_HEARTBEAT, heartbeat_record
from .sms import gsm7_fallback, is_gsm7

# A notice that changes a calendar entry the patient holds (treatments' reminder rules).
NOTICE_CHANGES = ("moved", "cancelled")

logger = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A message that was not handed over; `permanent` when trying again cannot help,
    `unreachable` when the channel itself could not be reached (refused, timed out), so
    that the rest of its batch would only wait for the same timeout."""

    def __init__(self, message: str, *, permanent: bool = False, unreachable: bool = False):
        super().__init__(message)
        self.permanent = permanent
        self.unreachable = unreachable


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str = ""
    calendar: bytes | None = None
    calendar_method: str = "REQUEST"
    unsubscribe_url: str = ""  # https only (RFC 8058); empty: no List-Unsubscribe header


@dataclass(frozen=True)
class CompiledTemplate:
    language: str
    subject: Template
    text: Template
    html: Template | None


@dataclass(frozen=True)
class Templates:
    """What a batch renders with: the compiled reminder templates by (kind, channel,
    language), and the patient links' routes."""

    compiled: dict[tuple[str, str, str], CompiledTemplate]
    links: LinkUrls


# Compiled templates by their words, kept for the process: a sweep compiled each one once
# per batch (a tenth of its time); an edited template has other words, so it is compiled
# anew. Cleared when it holds more than a few hundred (templates edited again and again).
_COMPILED: dict[tuple[str, str, str, str], CompiledTemplate] = {}
_COMPILED_MAX = 500


def _compiled(template: ReminderTemplate) -> CompiledTemplate:
    words = (template.language, template.subject, template.body_text, template.body_html)
    if (compiled := _COMPILED.get(words)) is None:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        compiled = _COMPILED[words] = CompiledTemplate(
            language=template.language,
            subject=Template(template.subject),
            text=Template(template.body_text),
            html=Template(template.body_html) if template.body_html else None,
        )
    return compiled


def templates_load() -> Templates:
    """Every reminder template as it is now (one query), compiled, by (kind, channel,
    language); each compiled once a process.

    One that does not compile (saved around the admin's check) is left out and logged:
    its reminders fall back to English rather than stopping the batch.
    """
    compiled: dict[tuple[str, str, str], CompiledTemplate] = {}
    for template in ReminderTemplate.objects.all():
        try:
            compiled[(template.kind, template.channel, template.language)] = _compiled(template)
        except TemplateSyntaxError:
            logger.exception("Reminder template %s does not compile", template.pk)
    return Templates(compiled=compiled, links=LinkUrls())


def _revive(key: str, value):
    """JSON keeps times as text; templates want dates and times to format."""
    if isinstance(value, str) and key.endswith("_at"):
        return datetime.fromisoformat(value)
    if isinstance(value, str) and key.endswith("_on"):
        return date.fromisoformat(value)
    return value


def mail_name() -> str:
    """How emails and calendar entries name the clinic: CLINIC_MAIL_NAME, or when it is
    not set "Your clinic" in the active language (the reader's, while a message is made)."""
    return settings.CLINIC_MAIL_NAME or _("Your clinic")


def sms_name() -> str:
    """How SMS texts name the clinic: CLINIC_SMS_NAME, or "Your clinic" in the active
    language."""
    return settings.CLINIC_SMS_NAME or _("Your clinic")


def reminder_values(reminder: Reminder, links: LinkUrls) -> dict:
    """The template's values: the row's context, with its patient links made now.

    Links are signed when the message goes out, not when it was planned: a reminder
    planned weeks ahead would otherwise carry a link that has already expired.
    """
    values = {key: _revive(key, value) for key, value in reminder.context.items() if key != "links"}
    for name, (action, subject_id) in reminder.context.get("links", {}).items():
        values[name] = links.page(action=action, subject_id=subject_id)
    values.update(
        recipient_name=reminder.recipient_name,
        clinic_name=settings.CLINIC_NAME,
        sms_name=sms_name(),
        mail_name=mail_name(),
        clinic_phone=settings.CLINIC_PHONE,
    )
    return values


def _one_click_url(reminder: Reminder, links: LinkUrls) -> str:
    stop = reminder.context.get("links", {}).get("stop_url")
    if reminder.channel != Channel.EMAIL or not stop or stop[0] != Action.STOP:
        return ""
    if not settings.CLINIC_BASE_URL.startswith("https://"):
        return ""  # no token made for a header that is not sent
    return links.unsubscribe(patient_id=stop[1])


def reminder_message(reminder: Reminder, *, templates: Templates) -> Message:
    """The words of a reminder in its language; without a template in it, in the clinic's
    default language (LANGUAGE_CODE), else in English. Rendered with that language active,
    so dates and times read as its speakers write them ("martes 8 de diciembre, 14:00").

    A notice that a visit moved or was cancelled has fixed words (translated, not a
    template): the visit's time, the clinic's phone and the calendar file that updates or
    removes the patient's entry.
    """
    if reminder.context.get("change") in NOTICE_CHANGES:
        cancelled = reminder.context["change"] == "cancelled"
        return _notice_message(reminder, templates.links, cancelled=cancelled)
    template = next(
        (
            templates.compiled[key]
            for language in (reminder.language, settings.LANGUAGE_CODE, "en")
            if (key := (reminder.kind, reminder.channel, language)) in templates.compiled
        ),
        None,
    )
    if template is None:
        raise DeliveryError(
            f"There is no {reminder.kind} {reminder.channel} template.", permanent=True
        )
    with translation.override(template.language):
        values = reminder_values(reminder, templates.links)
        subject = template.subject.render(Context(values, autoescape=False))
        text: str = template.text.render(Context(values, autoescape=False))
        html = template.html.render(Context(values)) if template.html else ""
    if reminder.channel == Channel.SMS:
        text = gsm7_fallback(re.sub(r"\s+", " ", text))  # two segments, not five
    is_visit = reminder.kind in (Reminder.Kind.APPOINTMENT, Reminder.Kind.CONFIRMATION)
    return Message(
        subject=" ".join(subject.split()),
        text=text.strip(),
        html=html,
        calendar=_calendar(reminder, values) if is_visit else None,
        unsubscribe_url=_one_click_url(reminder, templates.links),
    )


def _notice_message(reminder: Reminder, links: LinkUrls, *, cancelled: bool) -> Message:
    values = reminder_values(reminder, links)
    with translation.override(reminder.language):
        starts_at = timezone.localtime(values["starts_at"])
        words = {
            "name": reminder.recipient_name,
            "day": formats.date_format(starts_at, "D j M"),
            "when": _("%(day)s at %(time)s")
            % {
                "day": formats.date_format(starts_at, "VISIT_DAY_FORMAT"),
                "time": formats.time_format(starts_at, "VISIT_TIME_FORMAT"),
            },
            "mail_name": mail_name(),
            "phone": settings.CLINIC_PHONE,
        }
        if cancelled:
            subject = _("Cancelled: the visit on %(day)s") % words
            news = _(
                "The visit on %(when)s has been cancelled. "
                "To choose another time, call us at %(phone)s."
            )
            calendar_note = _("The attached calendar file takes it out of your calendar.")
        else:
            subject = _("New time: the visit is on %(day)s") % words
            news = _("The visit is now on %(when)s. To change it, call us at %(phone)s.")
            calendar_note = _("The attached calendar file updates your calendar.")
        lines = [
            _("Hello %(name)s,") % words,
            news % words,
            calendar_note,
            f"{mail_name()} · {settings.CLINIC_PHONE}\n"
            + _("To stop reminders: %(url)s") % {"url": values["stop_url"]},
        ]
        html = format_html(
            '<p>{}</p><p>{}</p><p>{}</p><p>{} · {}<br><a href="{}">{}</a></p>',
            lines[0],
            lines[1],
            lines[2],
            mail_name(),
            settings.CLINIC_PHONE,
            values["stop_url"],
            _("Stop reminders"),
        )
    method = "CANCEL" if cancelled else "REQUEST"
    return Message(
        subject=subject,
        text="\n\n".join(lines),
        html=str(html),
        calendar=_calendar(reminder, values, method=method),
        calendar_method=method,
        unsubscribe_url=_one_click_url(reminder, links),
    )


def _location(values: dict) -> str:
    room = values.get("room", "") if settings.CLINIC_ICS_SHOW_ROOM else ""
    return ", ".join(part for part in (settings.CLINIC_ADDRESS, room) if part)


def _calendar(reminder: Reminder, values: dict, *, method: str = "REQUEST") -> bytes:
    return calendar_file(
        values,
        language=reminder.language,
        method=method,
        email=reminder.email,
        recipient_name=reminder.recipient_name,
    )


def calendar_event_uid(source_key: str) -> str:
    """The UID of a visit's calendar entry, the same in every email about it and in the
    dermatologist's feed: "appointment:42" → "appointment-42@<host of CLINIC_BASE_URL>"."""
    return f"{source_key.replace(':', '-')}@{settings.CLINIC_BASE_URL.split('//')[-1]}"


def calendar_values(context: dict) -> dict:
    """A visit's calendar values as a reminder's context keeps them (times as text),
    made ready for calendar_file."""
    return {key: _revive(key, value) for key, value in context.items()}


def calendar_file(
    values: dict,
    *,
    language: str,
    method: str = "REQUEST",
    email: str = "",
    recipient_name: str = "",
) -> bytes:
    """An .ics file for the visit: when and where, never what is treated.

    Every message about one visit has the same UID; the SEQUENCE (the appointment's, one
    more on each move or cancellation) tells a calendar app which version is newest. The
    visit's page offers the same file for download (no attendee: nobody is named).

    Written line by line, the lines that are the same for every visit in one language
    (the clinic's name, the summary, the description, the organizer) made once: building
    it with icalendar took a third of a reminder's time. The tests read it back with
    icalendar.
    """
    with translation.override(language):
        name = mail_name()
        summary = _("Visit at %(name)s") % {"name": name}
        if method == "CANCEL":
            description = _("This visit has been cancelled. Call %(phone)s to book another.")
        else:
            description = _("Call %(phone)s to change or cancel.")
    head, description_line, tail = _calendar_skeleton(
        method, name, summary, description % {"phone": settings.CLINIC_PHONE}, _from_address()
    )
    # In UTC ("Z"): a fixed offset would become a TZID no calendar app knows, read as local.
    starts_at = values["starts_at"].astimezone(UTC)
    ends_at = values.get("ends_at") or starts_at + timedelta(minutes=30)
    lines = [
        *head,
        f"DTSTART:{_ics_utc(starts_at)}",
        f"DTEND:{_ics_utc(ends_at)}",
        f"DTSTAMP:{_ics_utc(timezone.now())}",
        _ics_line(f"UID:{_ics_text(values['event_uid'])}"),
        f"SEQUENCE:{int(values.get('sequence', 0))}",
    ]
    if email:
        # iTIP (RFC 5546) wants the attendee in a REQUEST and a CANCEL.
        cn = _ics_parameter(recipient_name)
        lines.append(_ics_line(f"ATTENDEE;CN={cn};ROLE=REQ-PARTICIPANT:mailto:{email}"))
    lines.append(description_line)
    if location := _location(values):
        lines.append(_ics_line(f"LOCATION:{_ics_text(location)}"))
    lines += tail
    return ("\r\n".join(lines) + "\r\n").encode()


@functools.lru_cache(maxsize=64)
def _calendar_skeleton(
    method: str, name: str, summary: str, description: str, from_address: str
) -> tuple[tuple[str, ...], str, tuple[str, ...]]:
    """The lines of a visit's .ics that are the same for every visit in one language:
    before the times, the description, and from the organizer to the end."""
    head = (
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        _ics_line(f"PRODID:-//{_ics_text(name)}//Reminders//EN"),
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        _ics_line(f"SUMMARY:{_ics_text(summary)}"),
    )
    tail = (
        # iTIP (RFC 5546) wants an organizer in a REQUEST and a CANCEL.
        _ics_line(f"ORGANIZER;CN={_ics_parameter(name)}:mailto:{from_address}"),
        f"STATUS:{'CANCELLED' if method == 'CANCEL' else 'CONFIRMED'}",
        "END:VEVENT",
        "END:VCALENDAR",
    )
    return head, _ics_line(f"DESCRIPTION:{_ics_text(description)}"), tail


def _ics_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _ics_text(value: str) -> str:
    """A TEXT value (RFC 5545, 3.3.11): backslash, semicolon, comma and newline escaped."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _ics_parameter(value: str) -> str:
    """A parameter value (RFC 5545, 3.2, with RFC 6868's ^ escapes), always quoted."""
    escaped = value.replace("^", "^^").replace("\r\n", "^n").replace("\n", "^n")
    return '"' + escaped.replace("\r", "^n").replace('"', "^'") + '"'


def _ics_line(line: str) -> str:
    """A content line folded at 75 octets (RFC 5545, 3.1), never inside a UTF-8 character
    nor right after the backslash or caret of an escape (some readers cannot unfold that).
    """
    data = line.encode()
    if len(data) <= 75:
        return line
    parts: list[str] = []
    start, limit = 0, 75
    while len(data) - start > limit:
        end = start + limit
        while data[end] & 0xC0 == 0x80:  # a UTF-8 character's continuation byte
            end -= 1
        if data[end - 1] in b"\\^" and end - 1 > start:
            end -= 1
        parts.append(data[start:end].decode())
        start, limit = end, 74  # a continuation line starts with a space
    parts.append(data[start:].decode())
    return "\r\n ".join(parts)


def _from_address() -> str:
    return _address(settings.DEFAULT_FROM_EMAIL)


@functools.lru_cache(maxsize=8)
def _address(name_and_address: str) -> str:
    """The address part of a "Name <address>" setting, parsed once (three times a message
    otherwise)."""
    return parseaddr(name_and_address)[1]


def _from_header(language: str) -> str:
    """DEFAULT_FROM_EMAIL's address under the neutral clinic name, in the reader's
    language."""
    with translation.override(language):
        return formataddr((mail_name(), _from_address()))


def _message_id_domain() -> str:
    return _from_address().partition("@")[2] or "clinic.invalid"


class EmailChannel:
    """Django's email backend, one connection for a whole batch."""

    def __init__(self) -> None:
        self.connection = get_connection()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.connection.close()

    def send(self, reminder: Reminder, message: Message) -> str:
        message_id = make_msgid(idstring=f"reminder.{reminder.pk}", domain=_message_id_domain())
        headers = {"Message-ID": message_id}
        if message.unsubscribe_url:
            headers["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=_from_header(reminder.language),
            to=[formataddr((reminder.recipient_name, reminder.email))],
            headers=headers,
            connection=self.connection,
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        if message.calendar:
            # iMIP (RFC 6047): the method in the Content-Type too, as mail clients read it.
            email.attach(
                "visit.ics", message.calendar, f"text/calendar; method={message.calendar_method}"
            )
        try:
            sent = self.connection.send_messages([email])
        except smtplib.SMTPResponseException as error:
            raise DeliveryError(
                _smtp_text(error.smtp_code, error.smtp_error), permanent=error.smtp_code >= 500
            ) from None
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            raise DeliveryError(_smtp_text(code, text), permanent=code >= 500) from None
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            # Refused, timed out (EMAIL_TIMEOUT) or dropped: the server is not there now.
            self.connection.close()
            raise DeliveryError(
                f"SMTP: {error.__class__.__name__}: {error}", unreachable=True
            ) from None
        except smtplib.SMTPException as error:
            # The connection is gone; the next message of the batch opens a new one.
            self.connection.close()
            raise DeliveryError(f"SMTP: {error.__class__.__name__}: {error}") from None
        if not sent:
            raise DeliveryError("The email backend sent nothing.")
        return message_id


def _smtp_text(code: int, text) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return f"SMTP {code}: {text}"


class SmsChannel:
    """The SMS backend that SMS_BACKEND names, opened once for a batch, and the one
    SMS_FAILOVER_BACKEND names (if any) beside it.

    A message the primary could not hand over for a reason that is not the message's own
    (unreachable, timed out, a 5xx, throttled, credentials or account refused) goes out
    through the failover in the same attempt, and so does the rest of the batch: the
    primary is tried again with the next batch. A refusal of the message itself (a
    number that does not exist) is final and is not sent elsewhere.

    At least once, not exactly once: a primary that times out (SMS_TIMEOUT_SECONDS)
    after it took the message may still deliver it, and the failover then delivers it
    too. That is at most one message a batch, the one whose answer timed out: the rest of
    the batch skips the primary. A refused connection cannot have delivered, and a 5xx or
    an error status says the provider did not take the message.
    """

    def __init__(self) -> None:
        self.backend = import_string(settings.SMS_BACKEND)()
        failover = settings.SMS_FAILOVER_BACKEND
        self.failover = import_string(failover)() if failover else None
        self.primary_error: DeliveryError | None = None  # why the batch left the primary

    def __enter__(self) -> Self:
        self.backend.open()
        if self.failover is not None:
            self.failover.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.backend.close()
        if self.failover is not None:
            self.failover.close()
        if self.primary_error is not None:
            heartbeat_record(name=SMS_FAILOVER_HEARTBEAT)

    def send(self, reminder: Reminder, message: Message) -> str:
        to, body = reminder.phone.as_e164, message.text
        if self.failover is None:
            return self.backend.send(to=to, body=body)
        if self.primary_error is None:
            try:
                return self.backend.send(to=to, body=body)
            except DeliveryError as error:
                if error.permanent:
                    raise
                logger.warning("SMS primary failed (%s); the batch goes on through failover", error)
                self.primary_error = error
        try:
            return self.failover.send(to=to, body=body)
        except DeliveryError as error:
            raise DeliveryError(
                f"{self.primary_error}; failover: {error}",
                permanent=error.permanent,
                unreachable=error.unreachable,
            ) from None


def channel_open(channel: str) -> EmailChannel | SmsChannel:
    return EmailChannel() if channel == Channel.EMAIL else SmsChannel()


class FileSmsBackend:
    """Each message a file in SMS_FILE_PATH: the embedded default, and for tests."""

    def __init__(self):
        self.folder = Path(settings.SMS_FILE_PATH)

    def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        pass

    def send(self, *, to: str, body: str) -> str:
        message_id = f"file-{uuid.uuid4().hex}"
        path = self.folder / f"{timezone.now():%Y%m%d-%H%M%S}-{message_id}.txt"
        partial = path.with_suffix(".part")
        partial.write_text(f"To: {to}\nDate: {timezone.now().isoformat()}\n\n{body}\n")
        os.replace(partial, path)  # a reader never sees half a message
        return message_id


class TwilioSmsBackend:
    """Twilio's Messages API: POST To, From and Body with the account's Basic auth.

    201 with the message's "sid" is success, recorded as "twilio:<sid>"; a 4xx answer
    carries Twilio's "code" and "message" and will fail again, except 429 (too many
    requests) and 401 (credentials refused: the account's problem, not the message's);
    5xx and network errors are worth another try.
    """

    def __init__(self):
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"):
            if not getattr(settings, name):
                raise ImproperlyConfigured(f"{name} must be set to send SMS through Twilio")
        base = settings.TWILIO_API_BASE.rstrip("/")
        self.url = f"{base}/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Messages.json"
        self.session: requests.Session | None = None  # open() makes it

    def open(self) -> None:
        self.session = requests.Session()
        self.session.auth = (settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)

    def close(self) -> None:
        assert self.session is not None, "close() of a backend that was not opened"
        self.session.close()

    def send(self, *, to: str, body: str) -> str:
        form = {"To": to, "From": settings.TWILIO_FROM_NUMBER, "Body": body}
        assert self.session is not None, "send() through a backend that was not opened"
        try:
            response = self.session.post(self.url, data=form, timeout=settings.SMS_TIMEOUT_SECONDS)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise DeliveryError(
                f"Twilio unreachable: {error.__class__.__name__}", unreachable=True
            ) from None
        except requests.RequestException as error:
            raise DeliveryError(f"Twilio: {error.__class__.__name__}") from None
        if response.status_code == 201:
            return f"twilio:{response.json()['sid']}"
        try:
            detail = response.json()
        except ValueError:
            detail = {}
        code = detail.get("code", "")
        text = detail.get("message") or response.reason
        raise DeliveryError(
            f"Twilio {response.status_code} {code}: {text}".replace("  ", " "),
            permanent=400 <= response.status_code < 500 and response.status_code not in (401, 429),
        )


# Vonage SMS API statuses that refuse the message itself: another try, or another
# provider, would be refused the same. Any other non-zero status (throttled, internal
# error, credentials, account barred or out of credit, sender not allowed) is the
# provider's or the account's problem, worth another try or the failover.
VONAGE_REFUSED = {
    "2": "missing parameters",
    "3": "invalid parameters",
    "6": "invalid message",
    "7": "number barred",
    "12": "message too long",
    "29": "non-whitelisted destination",
    "34": "invalid or missing number",
}


def vonage_signature(params: dict[str, str], *, secret: str, method: str) -> str:
    """Vonage's request signature: "&name=value" for every parameter but sig, sorted by
    name, each value's "&" and "=" made "_"; then the MD5 of that text followed by the
    secret ("md5hash"), or its HMAC with the secret as key (md5, sha1, sha256, sha512),
    in lowercase hex."""
    text = "".join(
        f"&{name}={value.replace('&', '_').replace('=', '_')}"
        for name, value in sorted(params.items())
        if name != "sig"
    )
    if method == "md5hash":
        return hashlib.md5((text + secret).encode()).hexdigest()
    return hmac.new(secret.encode(), text.encode(), method).hexdigest()


class VonageSmsBackend:
    """Vonage's SMS API: POST api_key, api_secret, from, to (E.164 without "+") and
    text to /sms/json, with type=unicode for a text GSM-7 cannot carry. With
    VONAGE_SIGNATURE_SECRET the request carries a timestamp and its signature (sig)
    instead of the API secret.

    HTTP 200 with every part's "status" "0" is success, recorded as
    "vonage:<message-id>" (the first part's). A non-zero status is refused for good when
    it concerns the message (VONAGE_REFUSED), and worth another try otherwise; a 5xx
    answer and network errors are worth another try too.
    """

    def __init__(self):
        for name in ("VONAGE_API_KEY", "VONAGE_FROM"):
            if not getattr(settings, name):
                raise ImproperlyConfigured(f"{name} must be set to send SMS through Vonage")
        if not (settings.VONAGE_API_SECRET or settings.VONAGE_SIGNATURE_SECRET):
            raise ImproperlyConfigured(
                "VONAGE_API_SECRET or VONAGE_SIGNATURE_SECRET must be set for Vonage"
            )
        self.url = f"{settings.VONAGE_API_BASE.rstrip('/')}/sms/json"
        self.session: requests.Session | None = None  # open() makes it

    def open(self) -> None:
        self.session = requests.Session()

    def close(self) -> None:
        assert self.session is not None, "close() of a backend that was not opened"
        self.session.close()

    def send(self, *, to: str, body: str) -> str:
        form = {
            "api_key": settings.VONAGE_API_KEY,
            "from": settings.VONAGE_FROM.removeprefix("+"),
            "to": to.removeprefix("+"),
            "text": body,
            "type": "text" if is_gsm7(body) else "unicode",
        }
        if settings.VONAGE_SIGNATURE_SECRET:
            form["timestamp"] = str(int(time.time()))
            form["sig"] = vonage_signature(
                form,
                secret=settings.VONAGE_SIGNATURE_SECRET,
                method=settings.VONAGE_SIGNATURE_METHOD,
            )
        else:
            form["api_secret"] = settings.VONAGE_API_SECRET
        assert self.session is not None, "send() through a backend that was not opened"
        try:
            response = self.session.post(self.url, data=form, timeout=settings.SMS_TIMEOUT_SECONDS)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise DeliveryError(
                f"Vonage unreachable: {error.__class__.__name__}", unreachable=True
            ) from None
        except requests.RequestException as error:
            raise DeliveryError(f"Vonage: {error.__class__.__name__}") from None
        try:
            parts = response.json()["messages"]
            first_id = parts[0]["message-id"] if parts[0].get("status") == "0" else ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            # Not the SMS API's answer (a proxy's error page, a 5xx): worth another try.
            raise DeliveryError(f"Vonage {response.status_code}: {response.reason}") from None
        for part in parts:
            status = str(part.get("status", ""))
            if status != "0":
                raise DeliveryError(
                    f"Vonage status {status}: {part.get('error-text', '')}".rstrip(": "),
                    permanent=status in VONAGE_REFUSED,
                )
        return f"vonage:{first_id}"
