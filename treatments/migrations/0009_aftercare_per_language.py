"""Aftercare per language: each procedure type's English text moves to AftercareText, with
Spanish and French translations of the defaults of 0002 (docs/clinical-background.md).

A type whose English text the clinic has changed gets no translation: a translation of
the old words would tell its patients something else. The dashboard lists it as missing.
"""

import django.db.models.deletion
from django.db import migrations, models


# The defaults of 0002, each procedure's words and then, after a blank line, the advice
# for everyone; a type whose English is still exactly these gets the translations.
FOR_EVERYONE = {
    "en": "For everyone: cleanse gently, do not pick or squeeze, use a moisturiser and "
    "sunscreen. An exfoliant with salicylic acid or alpha hydroxy acids helps prevent new "
    "milia.",
    "es": "Para todos: limpie la piel con suavidad, no manipule ni apriete las lesiones, use "
    "crema hidratante y protector solar. Un exfoliante con ácido salicílico o con "
    "alfahidroxiácidos ayuda a prevenir nuevos milios.",
    "fr": "Pour tous : nettoyez la peau doucement, ne grattez pas et ne pressez pas, utilisez "
    "une crème hydratante et un écran solaire. Un exfoliant à l'acide salicylique ou aux "
    "alpha-hydroxyacides aide à prévenir l'apparition de nouveaux grains de milium.",
}
EXTRACTION = {
    "en": "Keep the area clean. Do not pick or squeeze. Apply a thin layer of petrolatum. "
    "Mild redness for a day or two is expected.",
    "es": "Mantenga la zona limpia. No la manipule ni la apriete. Aplique una capa fina de "
    "vaselina. Es normal un enrojecimiento leve durante uno o dos días.",
    "fr": "Gardez la zone propre. Ne grattez pas et ne pressez pas. Appliquez une fine couche "
    "de vaseline. Une légère rougeur pendant un jour ou deux est normale.",
}
DRESSING = {
    "en": "Keep the dressing on for 24 hours, then wash gently once a day and apply "
    "petrolatum until healed. Call the clinic on signs of infection: spreading redness, "
    "warmth, pus or fever.",
    "es": "Mantenga el apósito durante 24 horas; después lave la zona con suavidad una vez al "
    "día y aplique vaselina hasta que cicatrice. Llame a la clínica si aparecen signos de "
    "infección: enrojecimiento que se extiende, calor, pus o fiebre.",
    "fr": "Gardez le pansement 24 heures, puis lavez doucement la zone une fois par jour et "
    "appliquez de la vaseline jusqu'à la guérison. Appelez la clinique en cas de signes "
    "d'infection : rougeur qui s'étend, chaleur, pus ou fièvre.",
}
DEFAULTS = {
    "extraction": EXTRACTION,
    "de-roofing": EXTRACTION,
    "cryotherapy": {
        "en": "A blister may form within 24–48 hours: do not pop it. The skin heals in 1–3 "
        "weeks. Temporary lightening of the skin is possible; use sunscreen on the area.",
        "es": "Puede formarse una ampolla en 24–48 horas: no la reviente. La piel se cura en "
        "1–3 semanas. Es posible que la piel se aclare temporalmente; use protector solar "
        "en la zona.",
        "fr": "Une cloque peut apparaître dans les 24 à 48 heures : ne la percez pas. La peau "
        "guérit en 1 à 3 semaines. Un éclaircissement temporaire de la peau est possible ; "
        "appliquez un écran solaire sur la zone.",
    },
    "curettage": DRESSING,
    "electrodesiccation": DRESSING,
    "watchful-waiting": {
        "en": "No treatment is needed now: these usually clear by themselves within weeks to "
        "a few months. Do not squeeze them.",
        "es": "Por ahora no se necesita tratamiento: suelen desaparecer solos en unas semanas "
        "o pocos meses. No los apriete.",
        "fr": "Aucun traitement n'est nécessaire pour l'instant : ils disparaissent "
        "généralement d'eux-mêmes en quelques semaines à quelques mois. Ne les pressez pas.",
    },
    "topical-therapy": {
        "en": "Use the prescribed product as directed. Cleanse gently and use sunscreen every day.",
        "es": "Use el producto recetado según las indicaciones. Limpie la piel con suavidad y "
        "use protector solar todos los días.",
        "fr": "Utilisez le produit prescrit selon les instructions. Nettoyez la peau doucement "
        "et appliquez un écran solaire tous les jours.",
    },
}


def default_text(slug: str, language: str) -> str | None:
    if slug not in DEFAULTS:
        return None
    return f"{DEFAULTS[slug][language]}\n\n{FOR_EVERYONE[language]}"


def texts_per_language(apps, schema_editor):
    ProcedureType = apps.get_model("treatments", "ProcedureType")
    AftercareText = apps.get_model("treatments", "AftercareText")
    rows = []
    for kind in ProcedureType.objects.exclude(aftercare_text=""):
        rows.append(AftercareText(procedure_type=kind, language="en", text=kind.aftercare_text))
        if kind.aftercare_text == default_text(kind.slug, "en"):
            rows += [
                AftercareText(
                    procedure_type=kind, language=language, text=default_text(kind.slug, language)
                )
                for language in ("es", "fr")
            ]
    AftercareText.objects.bulk_create(rows)


def english_back(apps, schema_editor):
    AftercareText = apps.get_model("treatments", "AftercareText")
    for row in AftercareText.objects.filter(language="en").select_related("procedure_type"):
        row.procedure_type.aftercare_text = row.text
        row.procedure_type.save(update_fields=["aftercare_text"])


class Migration(migrations.Migration):
    dependencies = [("treatments", "0008_reminder_offsets")]

    operations = [
        migrations.CreateModel(
            name="AftercareText",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "language",
                    models.CharField(
                        choices=[("en", "English"), ("es", "Spanish"), ("fr", "French")],
                        max_length=8,
                    ),
                ),
                ("text", models.TextField()),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "procedure_type",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="aftercare_texts",
                        to="treatments.proceduretype",
                    ),
                ),
            ],
            options={
                "ordering": ["procedure_type", "language"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("procedure_type", "language"),
                        name="aftercare_text_once_per_language",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("text", ""), _negated=True),
                        name="aftercare_text_not_empty",
                    ),
                ],
            },
        ),
        migrations.RunPython(texts_per_language, english_back),
        migrations.RemoveField(model_name="proceduretype", name="aftercare_text"),
    ]
