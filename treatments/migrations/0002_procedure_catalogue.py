"""The seven procedure types of docs/clinical-background.md, with editable defaults."""

from django.db import migrations

EVERYONE = (
    "For everyone: cleanse gently, do not pick or squeeze, use a moisturiser and sunscreen. "
    "An exfoliant with salicylic acid or alpha hydroxy acids helps prevent new milia."
)

CATALOGUE = [
    {
        "slug": "extraction",
        "name": "Extraction",
        "duration_minutes": 15,
        "anesthesia": "none",
        "code": "10040",
        "aftercare_text": "Keep the area clean. Do not pick or squeeze. Apply a thin layer of "
        "petrolatum. Mild redness for a day or two is expected.",
        "follow_up_weeks": 6,
    },
    {
        "slug": "de-roofing",
        "name": "De-roofing",
        "duration_minutes": 15,
        "anesthesia": "none",
        "code": "10040",
        "aftercare_text": "Keep the area clean. Do not pick or squeeze. Apply a thin layer of "
        "petrolatum. Mild redness for a day or two is expected.",
        "follow_up_weeks": 6,
    },
    {
        "slug": "cryotherapy",
        "name": "Cryotherapy",
        "duration_minutes": 15,
        "anesthesia": "none",
        "code": "17110",
        "code_15_or_more": "17111",
        "aftercare_text": "A blister may form within 24–48 hours: do not pop it. The skin heals "
        "in 1–3 weeks. Temporary lightening of the skin is possible; use sunscreen on the area.",
        "follow_up_weeks": 6,
    },
    {
        "slug": "curettage",
        "name": "Curettage",
        "duration_minutes": 30,
        "anesthesia": "local",
        "code": "17110",
        "code_15_or_more": "17111",
        "aftercare_text": "Keep the dressing on for 24 hours, then wash gently once a day and "
        "apply petrolatum until healed. Call the clinic on signs of infection: spreading "
        "redness, warmth, pus or fever.",
        "follow_up_weeks": 6,
    },
    {
        "slug": "electrodesiccation",
        "name": "Electrodesiccation",
        "duration_minutes": 15,
        "anesthesia": "topical_sometimes",
        "code": "17110",
        "code_15_or_more": "17111",
        "aftercare_text": "Keep the dressing on for 24 hours, then wash gently once a day and "
        "apply petrolatum until healed. Call the clinic on signs of infection: spreading "
        "redness, warmth, pus or fever.",
        "follow_up_weeks": 6,
    },
    {
        "slug": "watchful-waiting",
        "name": "Watchful waiting",
        "is_procedure": False,
        "duration_minutes": 10,
        "needs_treatment_room": False,
        "anesthesia": "none",
        "aftercare_text": "No treatment is needed now: these usually clear by themselves within "
        "weeks to a few months. Do not squeeze them.",
        "follow_up_weeks": 5,
    },
    {
        "slug": "topical-therapy",
        "name": "Topical therapy",
        "is_procedure": False,
        "duration_minutes": 10,
        "needs_treatment_room": False,
        "anesthesia": "none",
        "aftercare_text": "Use the prescribed product as directed. Cleanse gently and use "
        "sunscreen every day.",
        "follow_up_weeks": 12,
    },
]


def load_catalogue(apps, schema_editor):
    ProcedureType = apps.get_model("treatments", "ProcedureType")
    for order, entry in enumerate(CATALOGUE, start=1):
        defaults = {**entry, "sort_order": order}
        defaults["aftercare_text"] = f"{entry['aftercare_text']}\n\n{EVERYONE}"
        ProcedureType.objects.update_or_create(slug=entry["slug"], defaults=defaults)


class Migration(migrations.Migration):
    dependencies = [("treatments", "0001_initial")]

    operations = [migrations.RunPython(load_catalogue, migrations.RunPython.noop)]
