"""How a reminder reaches a person: its words, and the email and SMS channels.

Email goes through Django's email backend (SMTP in production, files in the embedded
default): plain text, an HTML alternative and, for a visit, a calendar file. SMS goes
through the backend that `SMS_BACKEND` names: files in `var/sms` by default, or Twilio.
A channel is opened once per batch (one SMTP connection, one HTTP session) and raises
`DeliveryError` for a message it could not hand over, saying whether trying again can help.
"""

import logging
import os
import re
import smtplib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import Self

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template import Context, Template, TemplateSyntaxError
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from icalendar import Calendar, Event

from patients.models import Channel

from .links import link_url
from .models import Reminder, ReminderTemplate

TWILIO_TIMEOUT_SECONDS = 10

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


@dataclass(frozen=True)
class CompiledTemplate:
    language: str
    subject: Template
    text: Template
    html: Template | None


# Compiled reminder templates by (kind, channel, language).
Templates = dict[tuple[str, str, str], CompiledTemplate]


def templates_load() -> Templates:
    """Every reminder template, compiled once per batch, by (kind, channel, language).

    One that does not compile (saved around the admin's check) is left out and logged:
    its reminders fall back to English rather than stopping the batch.
    """
    templates: Templates = {}
    for template in ReminderTemplate.objects.all():
        try:
            compiled = CompiledTemplate(
                language=template.language,
                subject=Template(template.subject),
                text=Template(template.body_text),
                html=Template(template.body_html) if template.body_html else None,
            )
        except TemplateSyntaxError:
            logger.exception("Reminder template %s does not compile", template.pk)
            continue
        templates[(template.kind, template.channel, template.language)] = compiled
    return templates


def _revive(key: str, value):
    """JSON keeps times as text; templates want dates and times to format."""
    if isinstance(value, str) and key.endswith("_at"):
        return datetime.fromisoformat(value)
    if isinstance(value, str) and key.endswith("_on"):
        return date.fromisoformat(value)
    return value


def reminder_values(reminder: Reminder) -> dict:
    """The template's values: the row's context, with its patient links made now.

    Links are signed when the message goes out, not when it was planned: a reminder
    planned weeks ahead would otherwise carry a link that has already expired.
    """
    values = {key: _revive(key, value) for key, value in reminder.context.items() if key != "links"}
    for name, (action, subject_id) in reminder.context.get("links", {}).items():
        values[name] = link_url(action=action, subject_id=subject_id)
    values.update(
        recipient_name=reminder.recipient_name,
        clinic_name=settings.CLINIC_NAME,
        sms_name=settings.CLINIC_SMS_NAME,
        clinic_phone=settings.CLINIC_PHONE,
    )
    return values


def reminder_message(reminder: Reminder, *, templates: Templates) -> Message:
    """The words of a reminder in its language, or in English when there is none."""
    template = templates.get((reminder.kind, reminder.channel, reminder.language)) or templates.get(
        (reminder.kind, reminder.channel, "en")
    )
    if template is None:
        raise DeliveryError(
            f"There is no {reminder.kind} {reminder.channel} template.", permanent=True
        )
    values = reminder_values(reminder)
    with translation.override(template.language):
        subject = template.subject.render(Context(values, autoescape=False))
        text: str = template.text.render(Context(values, autoescape=False))
        html = template.html.render(Context(values)) if template.html else ""
    if reminder.channel == Channel.SMS:
        text = re.sub(r"\s+", " ", text)
    return Message(
        subject=" ".join(subject.split()),
        text=text.strip(),
        html=html,
        calendar=_calendar(values) if reminder.kind == Reminder.Kind.APPOINTMENT else None,
    )


def _calendar(values: dict) -> bytes:
    """An .ics file for the visit: when and where, never what is treated."""
    calendar = Calendar()
    calendar.add("prodid", f"-//{settings.CLINIC_NAME}//Reminders//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", values["event_uid"])
    event.add("dtstamp", timezone.now())
    event.add("dtstart", values["starts_at"])
    event.add("dtend", values.get("ends_at") or values["starts_at"] + timedelta(minutes=30))
    event.add("summary", f"Visit at {settings.CLINIC_NAME}")
    event.add("description", f"Call {settings.CLINIC_PHONE} to change or cancel.")
    calendar.add_component(event)
    return calendar.to_ical()


def _message_id_domain() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].partition("@")[2] or "clinic.invalid"


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
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            to=[formataddr((reminder.recipient_name, reminder.email))],
            headers={"Message-ID": message_id},
            connection=self.connection,
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        if message.calendar:
            email.attach("visit.ics", message.calendar, "text/calendar")
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
    """The SMS backend that SMS_BACKEND names, opened once for a batch."""

    def __init__(self) -> None:
        self.backend = import_string(settings.SMS_BACKEND)()

    def __enter__(self) -> Self:
        self.backend.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.backend.close()

    def send(self, reminder: Reminder, message: Message) -> str:
        return self.backend.send(to=reminder.phone.as_e164, body=message.text)


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

    201 with the message's "sid" is success; a 4xx answer carries Twilio's "code" and
    "message" and will fail again (except 429, too many requests); 5xx and network
    errors are worth another try.
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
            response = self.session.post(self.url, data=form, timeout=TWILIO_TIMEOUT_SECONDS)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise DeliveryError(
                f"Twilio unreachable: {error.__class__.__name__}", unreachable=True
            ) from None
        except requests.RequestException as error:
            raise DeliveryError(f"Twilio: {error.__class__.__name__}") from None
        if response.status_code == 201:
            return response.json()["sid"]
        try:
            detail = response.json()
        except ValueError:
            detail = {}
        code = detail.get("code", "")
        text = detail.get("message") or response.reason
        raise DeliveryError(
            f"Twilio {response.status_code} {code}: {text}".replace("  ", " "),
            permanent=400 <= response.status_code < 500 and response.status_code != 429,
        )
