"""A confirmation at booking (its own kind of reminder, with default texts), and SMS that
fit two GSM-7 segments with one short link: the visit's page (confirm, cancel, calendar,
stop reminders) or, in a waitlist offer, the link that claims the freed time.

Only the words of the old defaults change; a text the manager rewrote keeps its words.
"""

from django.db import migrations, models


WHOSE = "{% if for_guardian %}{{ patient_first_name }}'s{% else %}your{% endif %}"
WHOSE_CAPITAL = "{% if for_guardian %}{{ patient_first_name }}'s{% else %}Your{% endif %}"
WHEN = '{{ starts_at|date:"l j F" }} at {{ starts_at|time:"g:i A" }}'

CONFIRMATIONS = [
    {
        "channel": "sms",
        "subject": "",
        "body_text": (
            "{{ sms_name }}: " + WHOSE + " visit is booked for " + WHEN + ". "
            "Add it to a calendar, confirm or cancel: {{ visit_url }}"
        ),
        "body_html": "",
    },
    {
        "channel": "email",
        "subject": "Booked: " + WHOSE + ' visit on {{ starts_at|date:"D j M" }}',
        "body_text": (
            "Hello {{ recipient_name }},\n\n"
            + WHOSE_CAPITAL
            + " visit is booked for "
            + WHEN
            + " with {{ dermatologist }}.\n\n"
            "The attached calendar file adds the visit to your calendar. "
            "To confirm or cancel it: {{ visit_url }}\n\n"
            "{{ mail_name }} · {{ clinic_phone }}\n"
            "To stop reminders: {{ stop_url }}\n"
        ),
        "body_html": (
            "<p>Hello {{ recipient_name }},</p>"
            "<p>" + WHOSE_CAPITAL + " visit is booked for <strong>" + WHEN + "</strong>"
            " with {{ dermatologist }}.</p>"
            "<p>The attached calendar file adds the visit to your calendar. "
            '<a href="{{ visit_url }}">Confirm or cancel it</a></p>'
            '<p>{{ mail_name }} · {{ clinic_phone }}<br><a href="{{ stop_url }}">Stop reminders</a></p>'
        ),
    },
]

# (kind, channel, field): the old default's words and the new ones.
SHORTER = [
    (
        "appointment",
        "sms",
        "body_text",
        "Confirm: {{ confirm_url }} Cancel: {{ cancel_url }} Stop reminders: {{ stop_url }}",
        "Confirm, cancel or stop reminders: {{ visit_url }}",
    ),
    (
        "waitlist_offer",
        "sms",
        "body_text",
        "Call {{ clinic_phone }} to take it. Stop reminders: {{ stop_url }}",
        "The first to claim it gets it: {{ claim_url }}",
    ),
    (
        "waitlist_offer",
        "email",
        "body_text",
        "Call us at {{ clinic_phone }} to take it; the first to call gets it.",
        "The first to claim it gets it: {{ claim_url }}\nor call us at {{ clinic_phone }}.",
    ),
    (
        "waitlist_offer",
        "email",
        "body_html",
        "Call us at {{ clinic_phone }} to take it; the first to call gets it.",
        '<a href="{{ claim_url }}">Claim it</a> (the first to claim it gets it) '
        "or call us at {{ clinic_phone }}.",
    ),
]


def short_texts(apps, schema_editor, *, backwards: bool = False):
    ReminderTemplate = apps.get_model("clinic", "ReminderTemplate")
    for kind, channel, field, old, new in SHORTER:
        if backwards:
            old, new = new, old
        for template in ReminderTemplate.objects.filter(kind=kind, channel=channel):
            setattr(template, field, getattr(template, field).replace(old, new))
            template.save(update_fields=[field])
    if backwards:
        ReminderTemplate.objects.filter(kind="confirmation").delete()
        return
    for template in CONFIRMATIONS:
        ReminderTemplate.objects.get_or_create(
            kind="confirmation",
            channel=template["channel"],
            language="en",
            defaults={field: template[field] for field in ("subject", "body_text", "body_html")},
        )


def long_texts(apps, schema_editor):
    short_texts(apps, schema_editor, backwards=True)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0014_neutral_email_texts"),
        ("patients", "0003_search_trigram_indexes"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="reminder",
            name="reminder_kind_valid",
        ),
        migrations.RemoveConstraint(
            model_name="remindertemplate",
            name="reminder_template_kind_valid",
        ),
        migrations.AlterField(
            model_name="reminder",
            name="kind",
            field=models.CharField(
                choices=[
                    ("appointment", "Appointment"),
                    ("aftercare", "Aftercare"),
                    ("recurrence_check", "Recurrence check"),
                    ("waitlist_offer", "Waitlist offer"),
                    ("confirmation", "Booking confirmation"),
                ],
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="remindertemplate",
            name="kind",
            field=models.CharField(
                choices=[
                    ("appointment", "Appointment"),
                    ("aftercare", "Aftercare"),
                    ("recurrence_check", "Recurrence check"),
                    ("waitlist_offer", "Waitlist offer"),
                    ("confirmation", "Booking confirmation"),
                ],
                max_length=20,
            ),
        ),
        migrations.AddConstraint(
            model_name="reminder",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "kind__in",
                        [
                            "appointment",
                            "aftercare",
                            "recurrence_check",
                            "waitlist_offer",
                            "confirmation",
                        ],
                    )
                ),
                name="reminder_kind_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="remindertemplate",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "kind__in",
                        [
                            "appointment",
                            "aftercare",
                            "recurrence_check",
                            "waitlist_offer",
                            "confirmation",
                        ],
                    )
                ),
                name="reminder_template_kind_valid",
            ),
        ),
        migrations.RunPython(short_texts, long_texts),
    ]
