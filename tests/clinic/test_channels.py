"""The channels (clinic/channels.py): the words of each reminder, email with its HTML and
calendar file, SMS to files and through Twilio's API (a local server that speaks it)."""

import re
import unicodedata
from datetime import date, datetime

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.test import override_settings
from django.utils import timezone
from icalendar import Calendar

from clinic.channels import TwilioSmsBackend, calendar_file, reminder_message, templates_load
from clinic.links import Action, link_open
from clinic.models import Reminder, ReminderTemplate
from clinic.outbox import reminders_send_due
from clinic.sms import gsm7_fallback, is_gsm7, sms_segments
from treatments.models import FollowUp, ProcedureType, WaitlistEntry
from treatments.services import appointment_book, appointment_cancel
from treatments.services.reminders import reminders_for_aftercare, reminders_for_recurrence_check

from ..factories import GuardianFactory, PatientFactory, RoomFactory, StaffMemberFactory
from ..sms_providers import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, twilio_server, twilio_settings
from ..treatments.conftest import open_all_week
from ..treatments.services.test_reminders import at, signed_procedure
from .test_outbox import consenting_patient, due_reminder

pytestmark = pytest.mark.django_db
Status = Reminder.Status

# Words an SMS must never carry: a text message is read on a lock screen.
CLINICAL_WORDS = [
    "l72",
    "milia",
    "milium",
    "cyst",
    "lesion",
    "keratin",
    "cryotherapy",
    "extraction",
    "de-roofing",
    "deroofing",
    "curettage",
    "electrodesiccation",
    "diagnosis",
    "eyelid",
    "liquid nitrogen",
    "lidocaine",
    "blister",
    "procedure",
    # Spanish and French, written without accents: an SMS may lose them (clinic/sms.py).
    "milio",
    "quiste",
    "queratina",
    "crioterapia",
    "cryotherapie",
    "extraccion",
    "curetaje",
    "legrado",
    "curetage",
    "electrodesecacion",
    "electrodessiccation",
    "diagnostico",
    "diagnostic",
    "parpado",
    "paupiere",
    "nitrogeno",
    "azote liquide",
    "lidocaina",
    "ampolla",
    "cloque",
    "procedimiento",
    "intervention",
    "kyste",
]


def without_accents(text: str) -> str:
    return "".join(
        char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char)
    )


def words_outside_links(text: str) -> str:
    """The text a reader sees, lower-cased and without accents: a link's random token is
    not read, and may spell "l72" by chance."""
    return without_accents(re.sub(r"https?://\S+", " ", text).lower())


@pytest.fixture
def dermatologist(db):
    return open_all_week(StaffMemberFactory())


@pytest.fixture
def treatment_room(db):
    return RoomFactory()


def all_reminder_kinds_for(patient, dermatologist) -> list[Reminder]:
    """Real rows, as the rules write them, of every kind for one patient."""
    cryotherapy = ProcedureType.objects.get(slug="cryotherapy")
    appointment_book(
        patient=patient,
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=at(2026, 5, 8, 10, 0),
        booked_by=None,
    )
    freed = appointment_book(
        patient=PatientFactory(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=at(2026, 5, 8, 14, 0),
        booked_by=None,
    )
    WaitlistEntry.objects.create(
        patient=patient,
        procedure_type=cryotherapy,
        earliest_date=date(2026, 5, 5),
        latest_date=date(2026, 5, 9),
    )
    appointment_cancel(appointment=freed, reason="Patient is ill")
    reminders_for_aftercare(procedure=signed_procedure(patient))
    reminders_for_recurrence_check(
        follow_up=FollowUp.objects.create(
            patient=patient, kind=FollowUp.Kind.RECURRENCE_CHECK, due_on=date(2026, 6, 15)
        )
    )
    return list(Reminder.objects.filter(patient=patient))


@pytest.mark.parametrize("language", ["en", "es", "fr"])
def test_every_sms_template_is_free_of_clinical_words(dermatologist, treatment_room, language):
    patient = consenting_patient(
        email="", preferred_channel="sms", first_name="Maya", language=language
    )
    with time_machine.travel(at(2026, 5, 4, 9, 0), tick=False):
        reminders = all_reminder_kinds_for(patient, dermatologist)
        templates = templates_load()
        texts = {r.kind: reminder_message(r, templates=templates).text for r in reminders}

    assert set(texts) == set(Reminder.Kind.values)
    assert {(kind, "sms", language) for kind in texts} <= set(templates.compiled)  # no fallback
    forbidden = CLINICAL_WORDS + [
        name.lower() for name in ProcedureType.objects.values_list("name", flat=True)
    ]
    for kind, text in texts.items():
        found = [word for word in forbidden if word in words_outside_links(text)]
        assert found == [], f"the {kind} SMS says {found}: {text}"
        assert "{{" not in text and "}}" not in text


# A clinic's real base URL and SMS name, long ones; the longest day and time a text shows.
LONG_BASE_URL = "https://appointments.riverside-family-health-centre.example.org"
LONG_SMS_NAME = "Riverside Family Health Centre"
LONGEST_DAY = "2026-09-30T10:30:00-04:00"  # Wednesday 30 September at 10:30 AM


# The longest day and time of LONGEST_DAY in each language, as the SMS says it.
LONGEST_WHEN = {
    "en": "Wednesday 30 September at 10:30 AM",
    "es": "miércoles 30 de septiembre a las 10:30",
    "fr": "mercredi 30 septembre à 10:30",
}
GUARDIANS_CONFIRMATION = {
    "en": "Anastasia-Marguerite's visit is booked",
    "es": "la visita de Anastasia-Marguerite queda reservada",
    "fr": "la visite de Anastasia-Marguerite est réservée",
}


@pytest.mark.parametrize("language", ["en", "es", "fr"])
@pytest.mark.parametrize("for_guardian", [False, True], ids=["patient", "guardian"])
def test_every_sms_fits_two_gsm7_segments_with_one_short_link(
    dermatologist, treatment_room, for_guardian, language
):
    names = {"first_name": "Maximiliana-Josefina", "last_name": "Vandenberghe-Oyelaran"}
    if for_guardian:
        patient = consenting_patient(
            first_name="Anastasia-Marguerite",
            date_of_birth=date(2020, 1, 1),
            email="",
            language=language,
        )
        GuardianFactory(patient=patient, email="", phone="+12125550123", **names)
    else:
        patient = consenting_patient(email="", preferred_channel="sms", language=language, **names)
    with (
        time_machine.travel(at(2026, 5, 4, 9, 0), tick=False),
        override_settings(CLINIC_BASE_URL=LONG_BASE_URL, CLINIC_SMS_NAME=LONG_SMS_NAME),
    ):
        reminders = all_reminder_kinds_for(patient, dermatologist)
        templates = templates_load()
        texts = {}
        for reminder in reminders:
            if "starts_at" in reminder.context:
                reminder.context["starts_at"] = LONGEST_DAY
            texts[reminder.kind] = reminder_message(reminder, templates=templates).text

    assert set(texts) == set(Reminder.Kind.values)
    for kind, text in texts.items():
        assert is_gsm7(text), f"the {kind} SMS needs UCS-2: {text}"
        assert sms_segments(text) <= 2, f"the {kind} SMS is {len(text)} characters: {text}"
        assert len(re.findall(r"https://", text)) == 1, text
        assert re.search(LONG_BASE_URL + r"/l/[A-Za-z0-9_-]{55}/", text), text
    assert LONGEST_WHEN[language] in texts[Reminder.Kind.APPOINTMENT]
    if for_guardian:
        assert GUARDIANS_CONFIRMATION[language] in texts[Reminder.Kind.CONFIRMATION]


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 0),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # the extension table: two septets each
        ("€" * 81, 2),
        ("a" * 152 + "€" + "a" * 152, 3),  # 306 septets, but an escape is never split
        ("é" * 160, 1),  # in the GSM alphabet itself
        ("ë" * 70, 1),  # not in it: UCS-2, 70 in one message
        ("ë" * 71, 2),  # 67 per segment when split
        ("ë" * 134, 2),
        ("ë" * 135, 3),
    ],
)
def test_sms_segments_are_counted_as_phones_split_them(text, segments):
    assert sms_segments(text) == segments


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("Zoë Núñez, visit on Thursday", "Zoe Nuñez, visit on Thursday"),  # ñ is GSM-7
        ("François’s visit – at 10:00…", "Francois's visit - at 10:00..."),
        (
            "Recordatorio: su visita del miércoles, día 6",
            "Recordatorio: su visita del miércoles, dia 6",
        ),
        ("Łukasz 😀", "Łukasz 😀"),  # no plain spelling: kept, and sent in UCS-2
    ],
)
def test_accents_and_typography_are_written_in_gsm7_when_that_is_all_that_stops_it(text, sent):
    assert gsm7_fallback(text) == sent


def test_an_sms_for_a_name_with_accents_still_fits_two_segments(dermatologist, treatment_room):
    patient = consenting_patient(  # a child: her first name is in her guardian's texts
        email="", first_name="Zoë-Anaïs", last_name="Ólafsdóttir", date_of_birth=date(2020, 1, 1)
    )
    GuardianFactory(patient=patient, email="", phone="+12125550123", first_name="Núria")
    with (
        time_machine.travel(at(2026, 5, 4, 9, 0), tick=False),
        override_settings(CLINIC_BASE_URL=LONG_BASE_URL, CLINIC_SMS_NAME=LONG_SMS_NAME),
    ):
        reminders = all_reminder_kinds_for(patient, dermatologist)
        templates = templates_load()
        texts = [reminder_message(reminder, templates=templates).text for reminder in reminders]

    assert [text for text in texts if not is_gsm7(text) or sms_segments(text) > 2] == []
    assert any("Zoe-Anais's visit" in text for text in texts)


def test_an_appointment_email_has_text_html_and_a_calendar_file(mailoutbox):
    reminder = due_reminder()

    reminders_send_due()

    [message] = mailoutbox
    assert message.subject.startswith("Reminder: your visit on")
    assert "Dr. Ana Ortiz" in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and '<a href="http://127.0.0.1:8000/l/' in html
    [(filename, ics, calendar_type)] = message.attachments
    assert (filename, calendar_type) == ("visit.ics", "text/calendar; method=REQUEST")
    event = Calendar.from_ical(ics).walk("VEVENT")[0]
    starts_at = datetime.fromisoformat(reminder.context["starts_at"]).replace(microsecond=0)
    assert event.decoded("dtstart") == starts_at
    assert str(event["summary"]) == "Visit at Your clinic"  # CLINIC_MAIL_NAME: no condition


def test_patient_links_are_signed_when_the_message_goes_out(mailoutbox):
    due_reminder()

    reminders_send_due()

    links = re.findall(r"http://127\.0\.0\.1:8000/l/[^/\s]+/", mailoutbox[0].body)
    assert len(links) == 3  # confirm, cancel, stop


def test_an_sms_is_written_to_a_file_of_its_own(tmp_path):
    patient = consenting_patient()
    for n in range(2):
        due_reminder(patient=patient, channel="sms", email="", phone=f"+1212555020{n}")

    with override_settings(SMS_FILE_PATH=tmp_path):
        reminders_send_due()

    files = sorted(tmp_path.glob("*.txt"))
    assert len(files) == 2
    assert {f.read_text().splitlines()[0] for f in files} == {
        "To: +12125550200",
        "To: +12125550201",
    }
    ids = set(Reminder.objects.values_list("provider_message_id", flat=True))
    assert ids == {f.stem.split("-", 2)[2] for f in files}


def test_a_patient_without_a_text_in_their_language_gets_the_english_one(mailoutbox):
    ReminderTemplate.objects.filter(kind="appointment", channel="email", language="es").delete()
    due_reminder(patient=consenting_patient(language="es"), language="es")

    reminders_send_due()

    assert mailoutbox[0].subject.startswith("Reminder: your visit on")


@override_settings(LANGUAGE_CODE="fr")
def test_without_a_text_in_their_language_the_clinics_default_language_comes_first(mailoutbox):
    ReminderTemplate.objects.filter(kind="appointment", channel="email", language="es").delete()
    due_reminder(patient=consenting_patient(language="es"), language="es")

    reminders_send_due()

    assert mailoutbox[0].subject.startswith("Rappel : votre visite du")


def test_a_text_in_the_patients_language_is_used_when_there_is_one(mailoutbox):
    ReminderTemplate.objects.filter(kind="appointment", channel="email", language="es").update(
        subject="Recordatorio: su visita el {{ starts_at|date:'l j' }}",
        body_text="Hola {{ recipient_name }}",
    )
    due_reminder(patient=consenting_patient(language="es"), language="es")

    reminders_send_due()

    assert re.match(r"Recordatorio: su visita el \w+ \d+", mailoutbox[0].subject)
    assert mailoutbox[0].subject.split()[-2] in {
        "lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"
    }  # fmt: skip


def test_a_template_that_does_not_compile_is_refused():
    template = ReminderTemplate(
        kind="aftercare", channel="sms", language="fr", body_text="{% if %}"
    )

    with pytest.raises(ValidationError) as refused:
        template.full_clean()

    assert "body_text" in refused.value.message_dict


# --- Twilio ---------------------------------------------------------------------------


@pytest.fixture
def twilio():
    with (
        twilio_server() as provider,
        override_settings(
            SMS_BACKEND="clinic.channels.TwilioSmsBackend", **twilio_settings(provider)
        ),
    ):
        yield provider


def sms_reminder() -> Reminder:
    return due_reminder(channel="sms", email="", phone="+12125550123")


def test_twilio_success_stores_the_message_sid(twilio):
    reminder = sms_reminder()

    reminders_send_due()

    reminder.refresh_from_db()
    [message] = twilio.accepted
    assert (reminder.status, reminder.provider_message_id) == (
        Status.SENT,
        f"twilio:{message['sid']}",
    )
    [request] = twilio.requests
    assert request["path"] == f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json"
    assert request["auth"] == f"{TWILIO_ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}"
    assert request["form"]["To"] == "+12125550123"
    assert request["form"]["From"] == "+12125550100"
    assert request["form"]["Body"].startswith("Your clinic: reminder of your visit on")


def test_a_twilio_400_is_a_failure_with_the_providers_message(twilio):
    reminder = sms_reminder()
    twilio.invalid_numbers.add("+12125550123")

    reminders_send_due()

    reminder.refresh_from_db()
    assert reminder.status == Status.FAILED
    assert reminder.last_error == (
        "Twilio 400 21211: The 'To' number +12125550123 is not a valid phone number."
    )


def test_a_twilio_server_error_is_tried_again_later(twilio):
    reminder = sms_reminder()
    twilio.mode = "outage"

    reminders_send_due()

    reminder.refresh_from_db()
    assert reminder.status == Status.PENDING
    assert reminder.next_attempt_at > timezone.now()
    assert "Service unavailable" in reminder.last_error


@override_settings(TWILIO_ACCOUNT_SID="", TWILIO_AUTH_TOKEN="", TWILIO_FROM_NUMBER="")
def test_the_twilio_backend_refuses_to_start_without_its_credentials():
    with pytest.raises(ImproperlyConfigured, match="TWILIO_ACCOUNT_SID"):
        TwilioSmsBackend()


# --- What a batch prepares once: compiled templates, link routes, the .ics skeleton -----


@pytest.mark.parametrize(
    "name",
    [
        "Ana",
        'Ana María O\'Neil, "Annie"; jr.',  # a parameter's quotes, commas and semicolon
        "Zoë-Anaïs Ólafsdóttir-Łukasiewicz de la Peña y Hernández-Bustamante 😀",  # folded
        "back\\slash ^caret\nand a new line",
    ],
)
@pytest.mark.parametrize("method", ["REQUEST", "CANCEL"])
def test_the_calendar_file_reads_back_as_written_whatever_the_names(name, method):
    values = {
        "event_uid": "appointment-42@clinic.example.com",
        "sequence": 3,
        "starts_at": at(2026, 5, 8, 10, 0),
        "room": "Room 3; by the lift, ünder the stairs, second door on the left past the desk",
    }
    with (
        time_machine.travel(at(2026, 5, 4, 9, 0, 7), tick=False),
        override_settings(
            CLINIC_MAIL_NAME=f"{name} Clinic", CLINIC_ADDRESS="1 Main St, Springfield",
            CLINIC_ICS_SHOW_ROOM=True,
        ),
    ):  # fmt: skip
        ics = calendar_file(
            values, language="en", method=method, email="ana@example.com", recipient_name=name
        )

    assert all(len(line) <= 75 for line in ics.split(b"\r\n"))  # octets, folded (RFC 5545)
    calendar = Calendar.from_ical(ics)
    assert str(calendar["method"]) == method
    assert str(calendar["prodid"]) == f"-//{name} Clinic//Reminders//EN"
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == at(2026, 5, 8, 10, 0)
    assert event.decoded("dtend") == at(2026, 5, 8, 10, 30)
    assert event.decoded("dtstamp") == at(2026, 5, 4, 9, 0, 7)
    assert (str(event["uid"]), int(event["sequence"])) == ("appointment-42@clinic.example.com", 3)
    assert str(event["status"]) == ("CANCELLED" if method == "CANCEL" else "CONFIRMED")
    assert str(event["summary"]) == f"Visit at {name} Clinic"
    assert str(event["location"]) == f"1 Main St, Springfield, {values['room']}"
    assert str(event["attendee"]) == "mailto:ana@example.com"
    assert event["attendee"].params["CN"] == name
    assert event["organizer"].params["CN"] == f"{name} Clinic"


def test_the_calendar_file_follows_a_changed_setting():
    values = {"event_uid": "appointment-1@x", "starts_at": at(2026, 5, 8, 10, 0)}
    names = []
    for mail_name, phone in [("North Clinic", "+1 212 555 0100"), ("South", "+1 212 555 0199")]:
        with override_settings(CLINIC_MAIL_NAME=mail_name, CLINIC_PHONE=phone):
            event = Calendar.from_ical(calendar_file(values, language="en")).walk("VEVENT")[0]
        names.append((str(event["summary"]), str(event["description"])))

    assert names == [
        ("Visit at North Clinic", "Call +1 212 555 0100 to change or cancel."),
        ("Visit at South", "Call +1 212 555 0199 to change or cancel."),
    ]


def test_a_template_is_compiled_once_and_an_edited_one_anew(mailoutbox):
    first, second = templates_load(), templates_load()
    key = (Reminder.Kind.APPOINTMENT, "email", "en")
    assert first.compiled[key] is second.compiled[key]  # the same compiled template
    template = ReminderTemplate.objects.get(kind=key[0], channel=key[1], language=key[2])
    template.subject = "Edited: see you soon"
    template.save()
    due_reminder()

    reminders_send_due()

    assert templates_load().compiled[key] is not first.compiled[key]
    assert [message.subject for message in mailoutbox] == ["Edited: see you soon"]


@override_settings(CLINIC_BASE_URL="https://clinic.example.com/")
def test_each_link_of_a_message_is_a_new_token_under_the_clinics_address(mailoutbox):
    reminder = due_reminder()

    reminders_send_due()

    [message] = mailoutbox
    tokens = re.findall(r"https://clinic\.example\.com/l/([A-Za-z0-9_-]+)/", message.body)
    opened = [link_open(token) for token in tokens]
    assert sorted((link.action, link.subject_id) for link in opened) == sorted(
        (action, subject_id) for action, subject_id in reminder.context["links"].values()
    )
    unsubscribe = message.extra_headers["List-Unsubscribe"]
    token = re.fullmatch(r"<https://clinic\.example\.com/l/([^/]+)/unsubscribe/>", unsubscribe)[1]
    assert link_open(token).action == Action.STOP
    assert len({*tokens, token}) == 4  # every link its own token
