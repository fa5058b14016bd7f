"""The default email texts name the clinic by CLINIC_MAIL_NAME ({{ mail_name }}), and the
aftercare subject no longer says what was treated: an inbox preview shows both.

Only the words of the old defaults change; a text the manager rewrote keeps its words.
"""

from django.db import migrations

OLD_AFTERCARE_SUBJECT = (
    "Looking after {% if for_guardian %}{{ patient_first_name }}'s{% else %}your{% endif %} "
    "skin after today's visit"
)
NEW_AFTERCARE_SUBJECT = (
    "After {% if for_guardian %}{{ patient_first_name }}'s{% else %}your{% endif %} visit today"
)
NAMES = [
    ("{{ clinic_name }} · {{ clinic_phone }}", "{{ mail_name }} · {{ clinic_phone }}"),
    (
        "Thank you for visiting {{ clinic_name }} today",
        "Thank you for visiting {{ mail_name }} today",
    ),
]


def _replace(text: str, pairs) -> str:
    for old, new in pairs:
        text = text.replace(old, new)
    return text


def neutral_texts(apps, schema_editor, *, backwards: bool = False):
    ReminderTemplate = apps.get_model("clinic", "ReminderTemplate")
    subject = (OLD_AFTERCARE_SUBJECT, NEW_AFTERCARE_SUBJECT)
    names = NAMES
    if backwards:
        subject = subject[::-1]
        names = [(new, old) for old, new in NAMES]
    for template in ReminderTemplate.objects.filter(channel="email"):
        if template.kind == "aftercare" and template.subject == subject[0]:
            template.subject = subject[1]
        template.body_text = _replace(template.body_text, names)
        template.body_html = _replace(template.body_html, names)
        template.save(update_fields=["subject", "body_text", "body_html"])


def clinic_texts(apps, schema_editor):
    neutral_texts(apps, schema_editor, backwards=True)


class Migration(migrations.Migration):
    dependencies = [("clinic", "0013_used_patient_link_undeletable")]

    operations = [migrations.RunPython(neutral_texts, clinic_texts)]
