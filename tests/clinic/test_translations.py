"""Every family in its own language: the catalogues under locale/ are complete, every
text a patient reads goes through them (a pseudo-locale shows what does not), and a
Spanish guardian gets Spanish emails, calendar files and SMS end to end."""

import ast
import email.utils
import re
import subprocess
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.header import decode_header, make_header
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation.template import templatize
from icalendar import Calendar

from clinic.channels import reminder_message, templates_load
from clinic.links import Action, link_token
from clinic.models import Reminder
from clinic.outbox import reminders_send_due
from clinic.settings.environment import env_choice
from patients.models import Patient
from treatments.models import Appointment, FollowUp, ProcedureType, WaitlistEntry
from treatments.services import appointment_book, appointment_cancel, appointment_reschedule

from ..factories import AppointmentFactory, GuardianFactory, RoomFactory, StaffMemberFactory
from ..portal.conftest import ask_portal_code
from ..treatments.conftest import open_all_week
from ..treatments.services.test_reminders import at, signed_procedure
from . import test_outbox
from .test_channels import all_reminder_kinds_for
from .test_outbox import consenting_patient

pytestmark = pytest.mark.django_db
smtp_server = test_outbox.smtp_server  # a real SMTP server on loopback

LOCALE = Path(settings.BASE_DIR) / "locale"
LANGUAGES = ["es", "fr"]
# What is written the same in English and the language: names of services, units, a
# format of values alone, and words the languages share.
SAME_IN_BOTH = {"Twilio", "Vonage", "SMS", "nonce", "%(minutes)s min", "Halo (mm)", "Abdomen"}
SAME_WORDS = {
    "es": SAME_IN_BOTH | {"Neonatal", "%(status)s: %(when)s.", "error"},
    "fr": SAME_IN_BOTH
    | {"invitation", "Message", "Patients", "Administration", "Patient", "patient", "Note"}
    | {"note", "Type", "Date", "Parent", "Export", "Action", "action", "Actions", "Active"}
    | {"Photo", "Photos", "image", "Instrument", "instrument", "Complication", "code"}
    | {"Complications", "complication", "Infection", "Hypopigmentation", "description"}
    | {"Milia en plaque", "version"},
}


@pytest.fixture
def dermatologist(db):
    return open_all_week(StaffMemberFactory())


@pytest.fixture
def treatment_room(db):
    return RoomFactory()


# --- The catalogues --------------------------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgstr: str = ""
    flags: set[str] = field(default_factory=set)


def po_entries(path: Path) -> list[Entry]:
    """The entries of a .po file (header left out): msgid, msgstr and flags. Enough of the
    format for our files, which have no plurals or contexts (a test below says so)."""
    entries: list[Entry] = []
    entry, part = Entry(), ""
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        keyword = line.split(" ", 1)[0]
        if (not line.strip() or keyword in ("#,", "msgid")) and part == "msgstr":
            entries.append(entry)
            entry, part = Entry(), ""
        if line.startswith("#,"):
            entry.flags |= {flag.strip() for flag in line[2:].split(",")}
        elif keyword in ("msgid", "msgstr"):
            part = keyword
            setattr(entry, part, ast.literal_eval(line.split(" ", 1)[1]))
        elif line.startswith('"'):
            setattr(entry, part, getattr(entry, part) + ast.literal_eval(line))
        elif keyword.startswith(("msgid_", "msgctxt", "msgstr[")):
            raise AssertionError(f"{path}: {keyword} is more than po_entries reads")
    return [entry for entry in entries if entry.msgid]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_entry_of_the_catalogue_is_translated_and_none_is_fuzzy(language):
    entries = po_entries(LOCALE / language / "LC_MESSAGES" / "django.po")

    assert len(entries) > 100
    assert [entry.msgid for entry in entries if not entry.msgstr.strip()] == []
    assert [entry.msgid for entry in entries if "fuzzy" in entry.flags] == []
    # A translation, not a copy (a few words are the same in both languages).
    copies = [entry.msgid for entry in entries if entry.msgstr == entry.msgid]
    assert set(copies) <= SAME_WORDS[language]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_translation_keeps_the_placeholders_and_compiles(language, tmp_path):
    """msgfmt --check: each python-format msgstr has the msgid's %(name)s, and the header
    and the file are well formed."""
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", str(tmp_path / "django.mo"), str(po)],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr
    assert f"{len(po_entries(po))} translated messages" in result.stderr


def test_the_catalogues_hold_the_same_msgids():
    es, fr = (
        {e.msgid for e in po_entries(LOCALE / lang / "LC_MESSAGES" / "django.po")}
        for lang in LANGUAGES
    )
    assert es == fr


@pytest.mark.parametrize("language", [code for code, _name in settings.LANGUAGES])
def test_every_language_names_the_dates_patients_read(language):
    """A named format missing for a language would print its name's letters as a date."""
    with translation.override(language):
        for name in NAMED_FORMATS:
            assert formats.get_format(name) != name, f"{language} has no {name}"


def test_the_default_language_is_one_of_the_clinics(monkeypatch):
    monkeypatch.setenv("CLINIC_DEFAULT_LANGUAGE", "de")
    with pytest.raises(ImproperlyConfigured, match="CLINIC_DEFAULT_LANGUAGE must be one of"):
        env_choice("CLINIC_DEFAULT_LANGUAGE", default="en", choices=["en", "es", "fr"])
    monkeypatch.setenv("CLINIC_DEFAULT_LANGUAGE", "es")
    assert env_choice("CLINIC_DEFAULT_LANGUAGE", default="en", choices=["en", "es", "fr"]) == "es"


# --- A pseudo-locale: what is not bracketed was not translated ---------------------------

# Every msgid of the catalogue, "translated" as itself between brackets, under a language
# patients may have (so that a page can be rendered for one): Django's own Spanish (day
# and month names) stays, and is taken out as the dates it writes.
PSEUDO = "es"


def po_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# Sources whose texts may be newer than the catalogue (`make messages` adds them at the
# merge): their msgids are read from the source itself, as makemessages does.
NEWER_SOURCES = ["portal/*.py", "templates/portal/*.html"]
XGETTEXT_KEYWORDS = ["gettext_noop", "gettext_lazy", "ngettext_lazy:1,2", "pgettext:1c,2"]


def source_msgids(folder: Path) -> list[str]:
    """The msgids of NEWER_SOURCES: templates turned into Python by Django's templatize,
    then everything read by xgettext with makemessages' keywords."""
    sources = []
    for pattern in NEWER_SOURCES:
        for path in sorted(Path(settings.BASE_DIR).glob(pattern)):
            if path.suffix == ".html":
                python = folder / f"{path.parent.name}-{path.name}.py"
                python.write_text(templatize(path.read_text(), origin=str(path)))
                path = python
            sources.append(str(path))
    pot = folder / "sources.pot"
    keywords = [f"--keyword={keyword}" for keyword in XGETTEXT_KEYWORDS]
    subprocess.run(
        ["xgettext", "--language=Python", "--from-code=UTF-8", *keywords, "-o", str(pot)] + sources,
        check=True,
        timeout=60,
    )
    return [entry.msgid for entry in po_entries(pot)]


@pytest.fixture
def pseudo_locale(tmp_path):
    """LOCALE_PATHS holding only the pseudo catalogue, compiled by msgfmt: the Spanish
    catalogue's msgids and those of NEWER_SOURCES."""
    folder = tmp_path / PSEUDO / "LC_MESSAGES"
    folder.mkdir(parents=True)
    lines = ['msgid ""', 'msgstr "Content-Type: text/plain; charset=UTF-8\\n"', ""]
    msgids = [entry.msgid for entry in po_entries(LOCALE / "es" / "LC_MESSAGES" / "django.po")]
    for msgid in dict.fromkeys(msgids + source_msgids(tmp_path)):
        lines += [f"msgid {po_quote(msgid)}", f"msgstr {po_quote(f'⟦{msgid}⟧')}", ""]
    (folder / "django.po").write_text("\n".join(lines), encoding="utf-8")
    subprocess.run(
        ["msgfmt", "-o", str(folder / "django.mo"), str(folder / "django.po")],
        check=True,
        timeout=30,
    )
    with override_settings(LOCALE_PATHS=[tmp_path]):
        yield PSEUDO


# clinic/formats/<language>/formats.py
NAMED_FORMATS = ["VISIT_DATE_FORMAT", "VISIT_DAY_FORMAT", "PLAIN_DATE_FORMAT", "VISIT_TIME_FORMAT"]
DATE_FORMATS = [*NAMED_FORMATS, "D j M", "H:i"]


def dates_as_written(*moments) -> list[str]:
    """The moments as the pseudo-locale's pages write them: values, not sentences."""
    with translation.override(PSEUDO):
        return [
            formats.date_format(
                timezone.localtime(moment) if hasattr(moment, "hour") else moment, name
            )
            for moment in moments
            for name in DATE_FORMATS
            if hasattr(moment, "hour") or "H" not in name and "TIME" not in name
        ]


def untranslated(text: str, *, values: list[str]) -> list[str]:
    """The words left once tags, bracketed (translated) texts and the given values are
    taken out: the English that did not go through the catalogue. Values first: one may
    hold a bracketed word (a date whose day name is also a msgid of ours)."""
    text = re.sub(r"<[^>]*>", " ", text)
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, " ")
    while re.search(r"⟦[^⟦⟧]*⟧", text):
        text = re.sub(r"⟦[^⟦⟧]*⟧", " ", text)
    text = re.sub(r"https?://\S+|mailto:\S+", " ", text)
    return re.findall(r"[^\W\d_]{2,}", text)


def page_values(patient, visit) -> list[str]:
    return [
        settings.CLINIC_NAME,
        settings.CLINIC_PHONE,
        patient.full_name,
        patient.first_name,
        str(visit.dermatologist),
        visit.procedure_type.name,
    ]


@pytest.fixture
def pseudo_visit(pseudo_locale, dermatologist, treatment_room):
    """On Monday 4 May 2026, a patient whose language is the pseudo-locale: a visit on
    Tuesday at 10:00, a signed procedure with its aftercare, an open check-up, a waitlist
    entry offered a freed time on Tuesday at 12:00."""
    with time_machine.travel(at(2026, 5, 4, 9, 0), tick=False):
        yield pseudo_visit_made(pseudo_locale, dermatologist)


def pseudo_visit_made(language, dermatologist):
    patient = consenting_patient(first_name="Grace", last_name="Okoye", language=language)
    tomorrow = timezone.localdate() + timedelta(days=1)
    visit = AppointmentFactory(
        patient=patient, dermatologist=dermatologist, starts_at=at(2026, 5, 5, 10, 0)
    )
    procedure = signed_procedure(patient)
    procedure.aftercare_text = "Keep it dry."
    procedure.save()
    follow_up = FollowUp.objects.create(
        patient=patient,
        procedure=procedure,
        kind=FollowUp.Kind.RECURRENCE_CHECK,
        due_on=tomorrow + timedelta(weeks=6),
    )
    freed = AppointmentFactory(
        dermatologist=dermatologist,
        starts_at=at(2026, 5, 5, 12, 0),
        status=Appointment.Status.CANCELLED,
        cancellation_reason="Patient is ill",
    )
    entry = WaitlistEntry.objects.create(
        patient=patient,
        procedure_type=freed.procedure_type,
        earliest_date=tomorrow,
        latest_date=tomorrow + timedelta(days=3),
    )
    return patient, visit, procedure, follow_up, (freed.pk << 32) | entry.pk


def url(action, subject_id) -> str:
    return reverse(
        "treatments:patient_link", args=[link_token(action=action, subject_id=subject_id)]
    )


def test_every_patient_link_page_goes_through_the_catalogue(client, pseudo_visit):
    patient, visit, procedure, follow_up, claim_id = pseudo_visit
    pages = {
        "visit": client.get(url(Action.VISIT, visit.pk)),
        "confirm": client.get(url(Action.CONFIRM, visit.pk)),
        "cancel": client.get(url(Action.CANCEL, visit.pk)),
        "aftercare": client.get(url(Action.AFTERCARE, procedure.pk)),
        "book-check": client.get(url(Action.BOOK_CHECK, follow_up.pk)),
        "stop": client.get(url(Action.STOP, patient.pk)),
        "claim": client.get(url(Action.CLAIM, claim_id)),
        "reschedule": client.get(url(Action.RESCHEDULE, visit.pk) + "?day=2026-05-06"),
        "photo-check": client.get(url(Action.PHOTO_CHECK, follow_up.pk)),
        # A link that names nobody: the browser's language.
        "invalid": client.get(
            reverse("treatments:patient_link", args=["x" * 55]), HTTP_ACCEPT_LANGUAGE="es"
        ),
        "aftercare-posted": client.post(url(Action.AFTERCARE, procedure.pk)),
        "calendar-of-a-confirm-link": client.get(
            reverse(
                "treatments:patient_link_calendar",
                args=[link_token(action=Action.CONFIRM, subject_id=visit.pk)],
            ),
            HTTP_ACCEPT_LANGUAGE="es",
        ),
    }
    for action, subject_id in [
        (Action.CONFIRM, visit.pk),
        (Action.BOOK_CHECK, follow_up.pk),
        (Action.CLAIM, claim_id),
        (Action.STOP, patient.pk),
    ]:
        pages[f"{action}-done"] = client.post(url(action, subject_id))
    follow_up.status = FollowUp.Status.CANCELLED
    follow_up.save()
    pages["book-check-refused"] = client.get(url(Action.BOOK_CHECK, follow_up.pk))
    pages["cancel-done"] = client.post(url(Action.CANCEL, visit.pk))
    pages["visit-cancelled"] = client.get(url(Action.VISIT, visit.pk))
    pages["confirm-refused"] = client.get(url(Action.CONFIRM, visit.pk))

    assert {name: page.status_code for name, page in pages.items()} == {
        **dict.fromkeys(pages, 200),
        "invalid": 400,
        "aftercare-posted": 405,
        "calendar-of-a-confirm-link": 400,
        "book-check-refused": 409,
        "confirm-refused": 409,
    }
    values = page_values(patient, visit) + dates_as_written(
        visit.starts_at, at(2026, 5, 5, 12, 0), procedure.performed_at, follow_up.due_on
    )
    # The move page: the day shown and the days it may move to (the policy's window).
    values += dates_as_written(date(2026, 5, 6), date(2026, 5, 5), date(2026, 8, 2))
    for name, page in pages.items():
        html = page.content.decode()
        assert f'<html lang="{PSEUDO}">' in html, name
        assert untranslated(html, values=values + ["Keep it dry."]) == [], name


def test_an_expired_or_used_link_answers_in_its_patients_language(client, settings):
    patient = consenting_patient(language="fr")
    used = url(Action.STOP, patient.pk)
    client.post(used)
    with time_machine.travel(timezone.now() - timedelta(seconds=settings.CLINIC_LINK_MAX_AGE + 60)):
        expired = url(Action.STOP, patient.pk)

    pages = [client.get(used), client.get(expired, HTTP_ACCEPT_LANGUAGE="es")]

    assert [page.status_code for page in pages] == [410, 410]
    assert "Ce lien a déjà été utilisé." in pages[0].content.decode()
    assert "Ce lien a expiré." in pages[1].content.decode()
    assert all('<html lang="fr">' in page.content.decode() for page in pages)


def test_the_handout_goes_through_the_catalogue(dermatologist_client, pseudo_visit):
    patient, visit, procedure, follow_up, claim_id = pseudo_visit

    html = dermatologist_client.get(
        reverse("treatments:procedure_handout", args=[procedure.pk])
    ).content.decode()

    assert f'<html lang="{PSEUDO}">' in html
    values = page_values(patient, procedure) + ["Keep it dry.", "Milia Clinic"]
    values += dates_as_written(procedure.performed_at, follow_up.due_on)
    assert untranslated(html, values=values) == []


def test_the_notices_and_calendar_files_go_through_the_catalogue(
    pseudo_locale, dermatologist, treatment_room, mailoutbox
):
    patient = consenting_patient(first_name="Grace", last_name="Okoye", language=pseudo_locale)
    with time_machine.travel(at(2026, 5, 4, 9, 0), tick=False):
        visit = appointment_book(
            patient=patient,
            dermatologist=dermatologist,
            procedure_type=ProcedureType.objects.get(slug="cryotherapy"),
            starts_at=at(2026, 5, 8, 10, 0),
            booked_by=None,
        )
        reminders_send_due()  # the confirmation: the patient holds the calendar entry
        appointment_reschedule(appointment=visit, starts_at=at(2026, 5, 8, 11, 0), by=None)
        appointment_cancel(appointment=visit, reason="Patient is ill")
        notices = Reminder.objects.filter(source_key__regex=r":(moved|cancelled)$")
        messages = [reminder_message(notice, templates=templates_load()) for notice in notices]

    assert len(messages) == 2
    values = [patient.full_name, settings.CLINIC_PHONE]
    values += dates_as_written(at(2026, 5, 8, 10, 0), at(2026, 5, 8, 11, 0))
    for message in messages:
        for text in (message.subject, message.text, message.html):
            assert untranslated(text, values=values) == [], text
        event = Calendar.from_ical(message.calendar).walk("VEVENT")[0]
        for text in (str(event["summary"]), str(event["description"])):
            assert untranslated(text, values=values) == [], text


# --- Reminder templates: Spanish and French rows, no English in them ---------------------

ENGLISH_WORDS = {
    "the", "your", "you", "visit", "reminder", "reminders", "hello", "call", "cancel",
    "confirm", "stop", "with", "and", "time", "free", "booked", "thank", "today", "is", "at",
}  # fmt: skip


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", ["email", "sms"])
def test_every_reminder_in_spanish_and_french_has_its_own_words(
    dermatologist,
    treatment_room,
    language,
    channel,
):
    address = {"email": "", "phone": "+12125550123"} if channel == "sms" else {}
    patient = consenting_patient(
        first_name="Maya", preferred_channel=channel, language=language, **address
    )
    with time_machine.travel(at(2026, 5, 4, 9, 0), tick=False):
        reminders = all_reminder_kinds_for(patient, dermatologist)
        templates = templates_load()
        messages = {r.kind: reminder_message(r, templates=templates) for r in reminders}

    assert set(messages) == set(Reminder.Kind.values)
    values = [patient.full_name]  # not the clinic's name: unset, it is "Your clinic" translated
    for kind, message in messages.items():
        assert (kind, channel, language) in templates.compiled
        for text in (message.subject, message.text, message.html):
            plain = re.sub(r"<[^>]*>|https?://\S+", " ", text)
            for value in values:
                plain = plain.replace(value, " ")
            words = set(re.findall(r"[a-z]+", plain.lower()))
            assert words & ENGLISH_WORDS == set(), f"{kind} {channel}: {text}"


# --- A Spanish guardian, end to end --------------------------------------------------------


def header(message, name: str) -> str:
    return str(make_header(decode_header(message[name])))


def text_part(message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode(part.get_content_charset())


def calendar_part(message) -> Calendar:
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    return Calendar.from_ical(part.get_payload(decode=True))


def test_a_spanish_guardian_gets_spanish_emails_calendar_files_and_sms(
    smtp_server, dermatologist, treatment_room, tmp_path, settings
):
    """Lucía (7) is booked on Monday 7 December 2026 at 9:00 for Tuesday at 14:00: her
    mother gets the confirmation and, a day ahead, the reminder, by email (a real
    SMTP server) with the calendar file; her brother's father gets his by SMS."""
    settings.SMS_FILE_PATH = tmp_path
    cryotherapy = ProcedureType.objects.get(slug="cryotherapy")
    lucia = consenting_patient(first_name="Lucía", date_of_birth=date(2019, 3, 1), language="es")
    GuardianFactory(patient=lucia, first_name="Carmen", email="carmen@example.com")
    mateo = consenting_patient(first_name="Mateo", date_of_birth=date(2017, 6, 1), language="es")
    GuardianFactory(patient=mateo, first_name="Diego", email="", phone="+12125550123")
    with time_machine.travel(at(2026, 12, 7, 9, 0), tick=False):
        for child, hour in ((lucia, 14), (mateo, 15)):
            appointment_book(
                patient=child,
                dermatologist=dermatologist,
                procedure_type=cryotherapy,
                starts_at=at(2026, 12, 8, hour, 0),
                booked_by=None,
            )
        reminders_send_due()
    with time_machine.travel(at(2026, 12, 7, 15, 1), tick=False):
        reminders_send_due()

    confirmation, reminder = smtp_server.messages
    assert email.utils.parseaddr(confirmation["To"])[1] == "carmen@example.com"
    assert header(confirmation, "Subject") == "Reservada: la visita de Lucía del mar 8 dic"
    assert header(reminder, "Subject") == "Recordatorio: la visita de Lucía del mar 8 dic"
    assert text_part(confirmation).startswith("Hola, Carmen")
    assert "La visita de Lucía queda reservada para el martes 8 de diciembre a las 14:00" in (
        text_part(confirmation)
    )
    assert "Le recordamos la visita de Lucía del martes 8 de diciembre a las 14:00" in (
        text_part(reminder)
    )
    for message in (confirmation, reminder):
        event = calendar_part(message).walk("VEVENT")[0]
        assert str(event["summary"]) == "Visita en Su clínica"  # CLINIC_MAIL_NAME unset
        assert str(event["description"]) == (
            f"Llame al {settings.CLINIC_PHONE} para cambiarla o cancelarla."
        )
    sms = sorted(path.read_text() for path in tmp_path.glob("*.txt"))
    assert len(sms) == 2  # the confirmation and the 24-hour reminder
    assert "la visita de Mateo queda reservada para el martes 8 de diciembre a las 15:00" in (
        "".join(sms)
    )
    assert "recordatorio de la visita de Mateo el martes 8 de diciembre a las 15:00" in (
        "".join(sms)
    )


# --- The language of a reminder is its reader's when it is sent -----------------------------


@pytest.mark.parametrize("reader", ["patient", "guardian"])
def test_a_reminder_goes_in_the_language_its_reader_has_when_it_is_sent(
    reader, dermatologist, treatment_room, mailoutbox
):
    """Booked on Monday 7 December 2026 while the reader (an adult patient, or the
    guardian who receives a minor's reminders) reads Spanish: the confirmation goes in
    Spanish. The reader switches to French before the day-ahead reminder goes: it goes
    in French, and its row says so."""
    born = date(2019, 3, 1) if reader == "guardian" else date(1990, 3, 1)
    patient = consenting_patient(first_name="Inès", date_of_birth=born, language="es")
    guardian = GuardianFactory(patient=patient, language="es") if reader == "guardian" else None
    with time_machine.travel(at(2026, 12, 7, 9, 0), tick=False):
        appointment_book(
            patient=patient,
            dermatologist=dermatologist,
            procedure_type=ProcedureType.objects.get(slug="cryotherapy"),
            starts_at=at(2026, 12, 8, 14, 0),
            booked_by=None,
        )
        reminders_send_due()
    planned = Reminder.objects.get(kind=Reminder.Kind.APPOINTMENT)
    (guardian or patient).language = "fr"
    (guardian or patient).save()
    with time_machine.travel(at(2026, 12, 7, 15, 1), tick=False):
        reminders_send_due()

    confirmation, reminder = mailoutbox
    assert confirmation.subject.startswith("Reservada: ")
    assert reminder.subject.startswith("Rappel : ")
    assert "mardi 8 décembre" in reminder.body
    assert planned.language == "es"  # as planned at booking
    planned.refresh_from_db()
    assert (planned.status, planned.language) == (Reminder.Status.SENT, "fr")


# --- The public pages (issue 15): online booking and the patient portal -------------------


def test_every_public_booking_and_portal_page_goes_through_the_catalogue(
    pseudo_locale, dermatologist, settings, mailoutbox, worker_at_once
):
    """Each page as a browser asking for the pseudo-locale sees it: none of its words
    outside the catalogue but the clinic's, the patient's and the visit type's names."""
    cache.clear()
    client = Client(HTTP_ACCEPT_LANGUAGE=PSEUDO)
    consultation = ProcedureType.objects.create(
        slug="consultation", name="Consultation", duration_minutes=20,
        needs_treatment_room=False, is_procedure=False, bookable_online=True,
    )  # fmt: skip
    starts_at = at(2026, 5, 5, 10, 0)
    slot = {
        "procedure_type": consultation.pk,
        "dermatologist": dermatologist.pk,
        "starts_at": timezone.localtime(starts_at).isoformat(),
    }
    person = {
        "booking_for": "me", "first_name": "Grace", "last_name": "Okoye",
        "date_of_birth": "1990-03-02", "contact": "grace@example.com", "reminders": "on",
    }  # fmt: skip

    def code() -> str:
        return re.search(r"\b([0-9]{6})\b", mailoutbox[-1].body).group(1)

    with time_machine.travel(at(2026, 5, 4, 9, 0), tick=False):
        book = reverse("portal:book_start")
        pages = {
            "book": client.get(book),
            "book-times": client.get(book, {"procedure_type": consultation.pk}),
            "details": client.get(reverse("portal:book_details"), slot),
            "details-refused": client.post(
                reverse("portal:book_details"), {**slot, **person, "date_of_birth": "2015-01-01"}
            ),
        }
        verify = client.post(reverse("portal:book_details"), {**slot, **person})["Location"]
        pages["code"] = client.get(verify)
        pages["code-wrong"] = client.post(verify, {"code": f"{(int(code()) + 1) % 10**6:06d}"})
        AppointmentFactory(dermatologist=dermatologist, starts_at=starts_at, room=None)
        pages["taken"] = client.post(verify, {"code": code()})
        later = timezone.localtime(starts_at + timedelta(minutes=30)).isoformat()
        pages["booked"] = client.post(
            verify + "choose/", {"dermatologist": dermatologist.pk, "starts_at": later}
        )
        pages["refused"] = client.post(verify, {"code": "000000"})
        pages["portal"] = client.get(reverse("portal:portal_home"))
        asked = ask_portal_code(client, "grace@example.com")
        pages["portal-code"] = client.get(asked["Location"])
        client.post(asked["Location"], {"code": code()})
        pages["portal-home"] = client.get(reverse("portal:portal_home"))
        pages["logged-out"] = client.post(reverse("portal:portal_logout"))
        settings.CLINIC_PUBLIC_PAGES_PER_IP = 10
        cache.clear()
        for _ in range(10):
            client.get(book)
        pages["too-many"] = client.get(book)

    assert {name: page.status_code for name, page in pages.items()} == {
        **dict.fromkeys(pages, 200),
        "details-refused": 400,
        "code-wrong": 400,
        "taken": 409,
        "refused": 409,
        "too-many": 429,
    }
    patient = Patient.objects.get(first_name="Grace")
    shown = [starts_at + timedelta(minutes=minutes) for minutes in range(-2880, 21600, 15)]
    values = [
        settings.CLINIC_NAME, settings.CLINIC_PHONE, patient.full_name,
        str(dermatologist), "Consultation", "grace@example.com",
    ]  # fmt: skip
    values += dates_as_written(*shown, at(2026, 5, 4, 9, 0).date())
    for name, page in pages.items():
        html = page.content.decode()
        assert f'<html lang="{PSEUDO}">' in html, name
        assert untranslated(html, values=values) == [], name
