"""Writes of the catalogue's texts per language (the manager's edits in the admin)."""

from django.conf import settings
from django.db import transaction

from ..models import AftercareText, ProcedureType


@transaction.atomic
def aftercare_texts_save(*, procedure_type: ProcedureType, texts: dict[str, str]) -> None:
    """Sets the type's aftercare in each patient language given in `texts`; an empty (or
    blank) text removes that language's, so its patients get the fallback. Languages not
    given, or not patient languages, are left alone."""
    existing = {row.language: row for row in procedure_type.aftercare_texts.all()}
    for language, _ in settings.PATIENT_LANGUAGES:
        if language not in texts:
            continue
        text = texts[language].strip()
        row = existing.get(language)
        if not text:
            if row is not None:
                row.delete()
            continue
        if row is None:
            row = AftercareText(procedure_type=procedure_type, language=language)
        elif row.text == text:
            continue
        row.text = text
        row.full_clean()
        row.save()
