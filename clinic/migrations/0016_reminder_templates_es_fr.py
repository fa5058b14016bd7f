"""The default reminder texts in Spanish and French, for every kind and channel.

The same rules as the English ones (0007, 0014, 0015): SMS texts name no diagnosis,
procedure or lesion and fit two segments with one short link; emails say no more than
the SMS. Dates and times use the named formats of clinic/formats (VISIT_DAY_FORMAT:
"martes 8 de diciembre", "mardi 8 décembre"), rendered with the language active. A text
the manager already wrote in one of these languages is kept.
"""

from django.db import migrations

DAY = '{{ starts_at|date:"VISIT_DAY_FORMAT" }}'
TIME = '{{ starts_at|time:"VISIT_TIME_FORMAT" }}'
SHORT_DAY = '{{ starts_at|date:"D j b" }}'  # mar 8 dic, mar 8 déc (months in lower case)
DUE = '{{ due_on|date:"PLAIN_DATE_FORMAT" }}'

# --- Español -----------------------------------------------------------------------------
ES_WHOSE = (
    "{% if for_guardian %}la visita de {{ patient_first_name }}{% else %}su visita{% endif %}"
)
ES_WHOSE_CAPITAL = (
    "{% if for_guardian %}La visita de {{ patient_first_name }}{% else %}Su visita{% endif %}"
)
ES_CHECK = (
    "{% if for_guardian %}la visita de control de {{ patient_first_name }}"
    "{% else %}su visita de control{% endif %}"
)
ES_WHEN = DAY + " a las " + TIME
ES_SIGNATURE_TEXT = (
    "{{ mail_name }} · {{ clinic_phone }}\nPara no recibir más avisos: {{ stop_url }}\n"
)
ES_SIGNATURE_HTML = '<p>{{ mail_name }} · {{ clinic_phone }}<br><a href="{{ stop_url }}">No recibir más avisos</a></p>'
ES_HELLO = "Hola, {{ recipient_name }}:"

SPANISH = [
    {
        "kind": "appointment",
        "channel": "sms",
        "body_text": (
            "{{ sms_name }}: recordatorio de " + ES_WHOSE + " el " + ES_WHEN + ". "
            "Confirmar, cancelar o no recibir avisos: {{ visit_url }}"
        ),
    },
    {
        "kind": "appointment",
        "channel": "email",
        "subject": "Recordatorio: " + ES_WHOSE + " del " + SHORT_DAY,
        "body_text": (
            ES_HELLO + "\n\n"
            "Le recordamos " + ES_WHOSE + " del " + ES_WHEN + " con {{ dermatologist }}.\n\n"
            "Confirmar: {{ confirm_url }}\nCancelar: {{ cancel_url }}\n\n"
            "El archivo de calendario adjunto añade la visita a su calendario.\n\n"
            + ES_SIGNATURE_TEXT
        ),
        "body_html": (
            "<p>" + ES_HELLO + "</p>"
            "<p>Le recordamos " + ES_WHOSE + " del <strong>" + ES_WHEN + "</strong>"
            " con {{ dermatologist }}.</p>"
            '<p><a href="{{ confirm_url }}">Confirmar la visita</a> · '
            '<a href="{{ cancel_url }}">Cancelarla</a></p>'
            "<p>El archivo de calendario adjunto añade la visita a su calendario.</p>"
            + ES_SIGNATURE_HTML
        ),
    },
    {
        "kind": "confirmation",
        "channel": "sms",
        "body_text": (
            "{{ sms_name }}: " + ES_WHOSE + " queda reservada para el " + ES_WHEN + ". "
            "Añadir al calendario, confirmar o cancelar: {{ visit_url }}"
        ),
    },
    {
        "kind": "confirmation",
        "channel": "email",
        "subject": "Reservada: " + ES_WHOSE + " del " + SHORT_DAY,
        "body_text": (
            ES_HELLO
            + "\n\n"
            + ES_WHOSE_CAPITAL
            + " queda reservada para el "
            + ES_WHEN
            + " con {{ dermatologist }}.\n\n"
            "El archivo de calendario adjunto añade la visita a su calendario. "
            "Para confirmarla o cancelarla: {{ visit_url }}\n\n" + ES_SIGNATURE_TEXT
        ),
        "body_html": (
            "<p>" + ES_HELLO + "</p>"
            "<p>" + ES_WHOSE_CAPITAL + " queda reservada para el <strong>" + ES_WHEN + "</strong>"
            " con {{ dermatologist }}.</p>"
            "<p>El archivo de calendario adjunto añade la visita a su calendario. "
            '<a href="{{ visit_url }}">Confirmarla o cancelarla</a></p>' + ES_SIGNATURE_HTML
        ),
    },
    {
        "kind": "aftercare",
        "channel": "sms",
        "body_text": (
            "{{ sms_name }}: gracias por su visita de hoy. Cómo cuidar la zona tratada: "
            "{{ aftercare_url }} Preguntas: {{ clinic_phone }}"
        ),
    },
    {
        "kind": "aftercare",
        "channel": "email",
        "subject": "Después de " + ES_WHOSE + " de hoy",
        "body_text": (
            ES_HELLO + "\n\n"
            "Gracias por visitar {{ mail_name }} hoy. Qué hacer en los próximos días: "
            "{{ aftercare_url }}\n\nLlámenos al {{ clinic_phone }} si tiene cualquier pregunta.\n\n"
            + ES_SIGNATURE_TEXT
        ),
        "body_html": (
            "<p>" + ES_HELLO + "</p>"
            "<p>Gracias por visitar {{ mail_name }} hoy. "
            '<a href="{{ aftercare_url }}">Qué hacer en los próximos días</a>.</p>'
            "<p>Llámenos al {{ clinic_phone }} si tiene cualquier pregunta.</p>" + ES_SIGNATURE_HTML
        ),
    },
    {
        "kind": "recurrence_check",
        "channel": "sms",
        "body_text": (
            "{{ sms_name }}: ya es hora de " + ES_CHECK + ". "
            "Pídanos la cita: {{ book_url }} o llame al {{ clinic_phone }}"
        ),
    },
    {
        "kind": "recurrence_check",
        "channel": "email",
        "subject": "Es hora de " + ES_CHECK,
        "body_text": (
            ES_HELLO + "\n\n"
            "Ya es hora de " + ES_CHECK + " (prevista para el " + DUE + "). "
            "Pídanos la cita: {{ book_url }}\no llame al {{ clinic_phone }}.\n\n"
            + ES_SIGNATURE_TEXT
        ),
        "body_html": (
            "<p>" + ES_HELLO + "</p>"
            "<p>Ya es hora de " + ES_CHECK + " (prevista para el " + DUE + ").</p>"
            '<p><a href="{{ book_url }}">Pídanos la cita</a> o llame al {{ clinic_phone }}.</p>'
            + ES_SIGNATURE_HTML
        ),
    },
    {
        "kind": "waitlist_offer",
        "channel": "sms",
        "body_text": (
            "{{ sms_name }}: hay una hora libre antes, el " + ES_WHEN + ". "
            "Será para quien la pida primero: {{ claim_url }}"
        ),
    },
    {
        "kind": "waitlist_offer",
        "channel": "email",
        "subject": "Hay una visita libre antes, el " + SHORT_DAY,
        "body_text": (
            ES_HELLO + "\n\n"
            "Ha quedado libre una hora que usted esperaba: " + ES_WHEN + ". "
            "Será para quien la pida primero: {{ claim_url }}\n"
            "o llámenos al {{ clinic_phone }}.\n\n" + ES_SIGNATURE_TEXT
        ),
        "body_html": (
            "<p>" + ES_HELLO + "</p>"
            "<p>Ha quedado libre una hora que usted esperaba: <strong>" + ES_WHEN + "</strong>. "
            '<a href="{{ claim_url }}">Pedirla</a> (será para quien la pida primero) '
            "o llámenos al {{ clinic_phone }}.</p>" + ES_SIGNATURE_HTML
        ),
    },
]

# --- Français ----------------------------------------------------------------------------
FR_WHOSE = (
    "{% if for_guardian %}la visite de {{ patient_first_name }}{% else %}votre visite{% endif %}"
)
FR_WHOSE_CAPITAL = (
    "{% if for_guardian %}La visite de {{ patient_first_name }}{% else %}Votre visite{% endif %}"
)
FR_CHECK = (
    "{% if for_guardian %}la visite de contrôle de {{ patient_first_name }}"
    "{% else %}votre visite de contrôle{% endif %}"
)
FR_WHEN = DAY + " à " + TIME
FR_SIGNATURE_TEXT = (
    "{{ mail_name }} · {{ clinic_phone }}\nPour ne plus recevoir de rappels : {{ stop_url }}\n"
)
FR_SIGNATURE_HTML = '<p>{{ mail_name }} · {{ clinic_phone }}<br><a href="{{ stop_url }}">Ne plus recevoir de rappels</a></p>'
FR_HELLO = "Bonjour {{ recipient_name }},"

FRENCH = [
    {
        "kind": "appointment",
        "channel": "sms",
        "body_text": (
            "{{ sms_name }} : rappel de " + FR_WHOSE + " le " + FR_WHEN + ". "
            "Confirmer, annuler ou arrêter les rappels : {{ visit_url }}"
        ),
    },
    {
        "kind": "appointment",
        "channel": "email",
        "subject": "Rappel : " + FR_WHOSE + " du " + SHORT_DAY,
        "body_text": (
            FR_HELLO + "\n\n"
            "Nous vous rappelons " + FR_WHOSE + " du " + FR_WHEN + " avec {{ dermatologist }}.\n\n"
            "Confirmer : {{ confirm_url }}\nAnnuler : {{ cancel_url }}\n\n"
            "Le fichier de calendrier joint ajoute la visite à votre agenda.\n\n"
            + FR_SIGNATURE_TEXT
        ),
        "body_html": (
            "<p>" + FR_HELLO + "</p>"
            "<p>Nous vous rappelons " + FR_WHOSE + " du <strong>" + FR_WHEN + "</strong>"
            " avec {{ dermatologist }}.</p>"
            '<p><a href="{{ confirm_url }}">Confirmer la visite</a> · '
            '<a href="{{ cancel_url }}">L’annuler</a></p>'
            "<p>Le fichier de calendrier joint ajoute la visite à votre agenda.</p>"
            + FR_SIGNATURE_HTML
        ),
    },
    {
        "kind": "confirmation",
        "channel": "sms",
        "body_text": (
            "{{ sms_name }} : " + FR_WHOSE + " est réservée pour le " + FR_WHEN + ". "
            "Ajouter à l'agenda, confirmer ou annuler : {{ visit_url }}"
        ),
    },
    {
        "kind": "confirmation",
        "channel": "email",
        "subject": "Réservée : " + FR_WHOSE + " du " + SHORT_DAY,
        "body_text": (
            FR_HELLO
            + "\n\n"
            + FR_WHOSE_CAPITAL
            + " est réservée pour le "
            + FR_WHEN
            + " avec {{ dermatologist }}.\n\n"
            "Le fichier de calendrier joint ajoute la visite à votre agenda. "
            "Pour la confirmer ou l’annuler : {{ visit_url }}\n\n" + FR_SIGNATURE_TEXT
        ),
        "body_html": (
            "<p>" + FR_HELLO + "</p>"
            "<p>" + FR_WHOSE_CAPITAL + " est réservée pour le <strong>" + FR_WHEN + "</strong>"
            " avec {{ dermatologist }}.</p>"
            "<p>Le fichier de calendrier joint ajoute la visite à votre agenda. "
            '<a href="{{ visit_url }}">La confirmer ou l’annuler</a></p>' + FR_SIGNATURE_HTML
        ),
    },
    {
        "kind": "aftercare",
        "channel": "sms",
        "body_text": (
            "{{ sms_name }} : merci de votre visite aujourd'hui. Comment prendre soin de la "
            "zone traitée : {{ aftercare_url }} Questions : {{ clinic_phone }}"
        ),
    },
    {
        "kind": "aftercare",
        "channel": "email",
        "subject": "Après " + FR_WHOSE + " d’aujourd’hui",
        "body_text": (
            FR_HELLO + "\n\n"
            "Merci de votre visite chez {{ mail_name }} aujourd’hui. Que faire dans les "
            "prochains jours : {{ aftercare_url }}\n\n"
            "Appelez-nous au {{ clinic_phone }} pour toute question.\n\n" + FR_SIGNATURE_TEXT
        ),
        "body_html": (
            "<p>" + FR_HELLO + "</p>"
            "<p>Merci de votre visite chez {{ mail_name }} aujourd’hui. "
            '<a href="{{ aftercare_url }}">Que faire dans les prochains jours</a>.</p>'
            "<p>Appelez-nous au {{ clinic_phone }} pour toute question.</p>" + FR_SIGNATURE_HTML
        ),
    },
    {
        "kind": "recurrence_check",
        "channel": "sms",
        "body_text": (
            "{{ sms_name }} : c'est le moment de " + FR_CHECK + ". "
            "Demandez-nous un rendez-vous : {{ book_url }} ou appelez le {{ clinic_phone }}"
        ),
    },
    {
        "kind": "recurrence_check",
        "channel": "email",
        "subject": "C’est le moment de " + FR_CHECK,
        "body_text": (
            FR_HELLO + "\n\n"
            "C’est le moment de " + FR_CHECK + " (prévue vers le " + DUE + "). "
            "Demandez-nous un rendez-vous : {{ book_url }}\nou appelez le {{ clinic_phone }}.\n\n"
            + FR_SIGNATURE_TEXT
        ),
        "body_html": (
            "<p>" + FR_HELLO + "</p>"
            "<p>C’est le moment de " + FR_CHECK + " (prévue vers le " + DUE + ").</p>"
            '<p><a href="{{ book_url }}">Demandez-nous un rendez-vous</a> '
            "ou appelez le {{ clinic_phone }}.</p>" + FR_SIGNATURE_HTML
        ),
    },
    {
        "kind": "waitlist_offer",
        "channel": "sms",
        "body_text": (
            "{{ sms_name }} : un créneau plus tôt est libre le " + FR_WHEN + ". "
            "Il ira au premier qui le réserve : {{ claim_url }}"
        ),
    },
    {
        "kind": "waitlist_offer",
        "channel": "email",
        "subject": "Une visite plus tôt est libre le " + SHORT_DAY,
        "body_text": (
            FR_HELLO + "\n\n"
            "Un créneau que vous attendiez s’est libéré : " + FR_WHEN + ". "
            "Il ira au premier qui le réserve : {{ claim_url }}\n"
            "ou appelez-nous au {{ clinic_phone }}.\n\n" + FR_SIGNATURE_TEXT
        ),
        "body_html": (
            "<p>" + FR_HELLO + "</p>"
            "<p>Un créneau que vous attendiez s’est libéré : <strong>" + FR_WHEN + "</strong>. "
            '<a href="{{ claim_url }}">Le réserver</a> (il ira au premier qui le réserve) '
            "ou appelez-nous au {{ clinic_phone }}.</p>" + FR_SIGNATURE_HTML
        ),
    },
]

TEMPLATES = {"es": SPANISH, "fr": FRENCH}


def load_templates(apps, schema_editor):
    ReminderTemplate = apps.get_model("clinic", "ReminderTemplate")
    for language, templates in TEMPLATES.items():
        for template in templates:
            ReminderTemplate.objects.get_or_create(
                kind=template["kind"],
                channel=template["channel"],
                language=language,
                defaults={
                    "subject": template.get("subject", ""),
                    "body_text": template["body_text"],
                    "body_html": template.get("body_html", ""),
                },
            )


def unload_templates(apps, schema_editor):
    ReminderTemplate = apps.get_model("clinic", "ReminderTemplate")
    ReminderTemplate.objects.filter(language__in=list(TEMPLATES)).delete()


class Migration(migrations.Migration):
    dependencies = [("clinic", "0015_confirmations_and_short_sms")]

    operations = [migrations.RunPython(load_templates, unload_templates)]
