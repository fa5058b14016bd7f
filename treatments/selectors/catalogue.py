"""Reads of the catalogue's texts per language: a procedure type's aftercare in the
patient's language (or the fallback), and the translations the manager has yet to write."""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext

from clinic.models import Reminder, ReminderTemplate
from patients.models import Channel

from ..models import AftercareText, ProcedureType

FALLBACK_LANGUAGE = "en"


def patient_languages() -> list[str]:
    """The languages a patient may choose (settings.PATIENT_LANGUAGES), in their order."""
    return [language for language, _ in settings.PATIENT_LANGUAGES]


def clinic_default_language() -> str:
    """The patient language matching the clinic's LANGUAGE_CODE ("es-mx" → "es"); English
    when the clinic's language is not one a patient may choose."""
    language = settings.LANGUAGE_CODE.split("-")[0].lower()
    return language if language in patient_languages() else FALLBACK_LANGUAGE


def aftercare_texts_of(procedure_type: ProcedureType) -> dict[str, str]:
    """A procedure type's aftercare texts by language; a language without one is absent."""
    return dict(
        AftercareText.objects.filter(procedure_type=procedure_type).values_list("language", "text")
    )


def aftercare_text_for(*, procedure_type: ProcedureType, language: str) -> tuple[str, str]:
    """(text, the language it is in): the type's aftercare in `language`, else in the
    clinic's default language, else in English; ("", language) when it has none at all.
    One query."""
    texts = aftercare_texts_of(procedure_type)
    for candidate in (language, clinic_default_language(), FALLBACK_LANGUAGE):
        if candidate in texts:
            return texts[candidate], candidate
    return "", language


@dataclass(frozen=True)
class MissingTranslation:
    """A catalogue text one language lacks, and the admin page where the manager adds it."""

    what: str
    language: str
    admin_url: str


def missing_translations() -> list[MissingTranslation]:
    """Aftercare of each active procedure type, then each reminder template (a kind and
    channel that has a text in some language), that lacks a text in a patient language.
    Two queries, whatever the size of the catalogue."""
    return _missing_aftercare() + _missing_reminder_templates()


def _missing_aftercare() -> list[MissingTranslation]:
    rows = ProcedureType.objects.filter(is_active=True).values_list(
        "pk", "name", "aftercare_texts__language"
    )
    names: dict[int, str] = {}
    present: set[tuple[int, str | None]] = set()
    for pk, name, language in rows:
        names[pk] = name
        present.add((pk, language))
    return [
        MissingTranslation(
            what=gettext("%(procedure)s aftercare") % {"procedure": name},
            language=language,
            admin_url=reverse("admin:treatments_proceduretype_change", args=[pk]),
        )
        for pk, name in names.items()
        for language in patient_languages()
        if (pk, language) not in present
    ]


def _missing_reminder_templates() -> list[MissingTranslation]:
    present = set(ReminderTemplate.objects.values_list("kind", "channel", "language"))
    kinds = dict(Reminder.Kind.choices)
    channels: dict[str, str] = {Channel.EMAIL: "email", Channel.SMS: "SMS"}
    add_url = reverse("admin:clinic_remindertemplate_add")
    return [
        MissingTranslation(
            what=f"{kinds[kind]} {channels[channel]}",
            language=language,
            admin_url=f"{add_url}?"
            + urlencode({"kind": kind, "channel": channel, "language": language}),
        )
        for kind, channel in sorted({(kind, channel) for kind, channel, _ in present})
        for language in patient_languages()
        if (kind, channel, language) not in present
    ]
