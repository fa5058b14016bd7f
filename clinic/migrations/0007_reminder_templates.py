"""The default reminder texts, in English (other languages fall back to them).

Kept deliberately plain: SMS texts name no diagnosis, procedure or lesion (nor the
clinic's full name, which may say what it treats: they use CLINIC_SMS_NAME), and emails
say no more than the SMS; the details sit behind the patient's link. The clinic manager
edits them in the admin.
"""

from django.db import migrations

WHOSE = "{% if for_guardian %}{{ patient_first_name }}'s{% else %}your{% endif %}"
WHEN = '{{ starts_at|date:"l j F" }} at {{ starts_at|time:"g:i A" }}'
SIGNATURE = "{{ clinic_name }} · {{ clinic_phone }}"
STOP = "To stop reminders: {{ stop_url }}"

TEMPLATES = [
    {
        "kind": "appointment",
        "channel": "sms",
        "body_text": (
            "{{ sms_name }}: reminder of " + WHOSE + " visit on " + WHEN + ". "
            "Confirm: {{ confirm_url }} Cancel: {{ cancel_url }} Stop reminders: {{ stop_url }}"
        ),
    },
    {
        "kind": "appointment",
        "channel": "email",
        "subject": "Reminder: " + WHOSE + ' visit on {{ starts_at|date:"D j M" }}',
        "body_text": (
            "Hello {{ recipient_name }},\n\n"
            "This is a reminder of "
            + WHOSE
            + " visit on "
            + WHEN
            + " with {{ dermatologist }}.\n\n"
            "Confirm: {{ confirm_url }}\nCancel: {{ cancel_url }}\n\n"
            "The attached calendar file adds the visit to your calendar.\n\n"
            + SIGNATURE
            + "\n"
            + STOP
            + "\n"
        ),
        "body_html": (
            "<p>Hello {{ recipient_name }},</p>"
            "<p>This is a reminder of " + WHOSE + " visit on <strong>" + WHEN + "</strong>"
            " with {{ dermatologist }}.</p>"
            '<p><a href="{{ confirm_url }}">Confirm the visit</a> · '
            '<a href="{{ cancel_url }}">Cancel it</a></p>'
            "<p>" + SIGNATURE + '<br><a href="{{ stop_url }}">Stop reminders</a></p>'
        ),
    },
    {
        "kind": "aftercare",
        "channel": "sms",
        "body_text": (
            "{{ sms_name }}: thank you for visiting today. How to look after the treated "
            "area: {{ aftercare_url }} Questions: {{ clinic_phone }}"
        ),
    },
    {
        "kind": "aftercare",
        "channel": "email",
        "subject": "Looking after " + WHOSE + " skin after today's visit",
        "body_text": (
            "Hello {{ recipient_name }},\n\n"
            "Thank you for visiting {{ clinic_name }} today. What to do in the next days: "
            "{{ aftercare_url }}\n\nCall us at {{ clinic_phone }} with any question.\n\n"
            + SIGNATURE
            + "\n"
            + STOP
            + "\n"
        ),
        "body_html": (
            "<p>Hello {{ recipient_name }},</p>"
            "<p>Thank you for visiting {{ clinic_name }} today. "
            '<a href="{{ aftercare_url }}">What to do in the next days</a>.</p>'
            "<p>Call us at {{ clinic_phone }} with any question.</p>"
            "<p>" + SIGNATURE + '<br><a href="{{ stop_url }}">Stop reminders</a></p>'
        ),
    },
    {
        "kind": "recurrence_check",
        "channel": "sms",
        "body_text": (
            "{{ sms_name }}: it is time for " + WHOSE + " check-up visit. "
            "Ask us to book it: {{ book_url }} or call {{ clinic_phone }}"
        ),
    },
    {
        "kind": "recurrence_check",
        "channel": "email",
        "subject": "Time for " + WHOSE + " check-up visit",
        "body_text": (
            "Hello {{ recipient_name }},\n\n"
            "It is time for " + WHOSE + ' check-up visit (due {{ due_on|date:"j F Y" }}). '
            "Ask us to book it: {{ book_url }}\nor call {{ clinic_phone }}.\n\n"
            + SIGNATURE
            + "\n"
            + STOP
            + "\n"
        ),
        "body_html": (
            "<p>Hello {{ recipient_name }},</p>"
            "<p>It is time for " + WHOSE + ' check-up visit (due {{ due_on|date:"j F Y" }}).</p>'
            '<p><a href="{{ book_url }}">Ask us to book it</a> or call {{ clinic_phone }}.</p>'
            "<p>" + SIGNATURE + '<br><a href="{{ stop_url }}">Stop reminders</a></p>'
        ),
    },
    {
        "kind": "waitlist_offer",
        "channel": "sms",
        "body_text": (
            "{{ sms_name }}: an earlier time is free on " + WHEN + ". "
            "Call {{ clinic_phone }} to take it. Stop reminders: {{ stop_url }}"
        ),
    },
    {
        "kind": "waitlist_offer",
        "channel": "email",
        "subject": 'An earlier visit is free on {{ starts_at|date:"D j M" }}',
        "body_text": (
            "Hello {{ recipient_name }},\n\n"
            "A time you were waiting for is free: " + WHEN + ". "
            "Call us at {{ clinic_phone }} to take it; the first to call gets it.\n\n"
            + SIGNATURE
            + "\n"
            + STOP
            + "\n"
        ),
        "body_html": (
            "<p>Hello {{ recipient_name }},</p>"
            "<p>A time you were waiting for is free: <strong>" + WHEN + "</strong>. "
            "Call us at {{ clinic_phone }} to take it; the first to call gets it.</p>"
            "<p>" + SIGNATURE + '<br><a href="{{ stop_url }}">Stop reminders</a></p>'
        ),
    },
]


def load_templates(apps, schema_editor):
    ReminderTemplate = apps.get_model("clinic", "ReminderTemplate")
    for template in TEMPLATES:
        ReminderTemplate.objects.update_or_create(
            kind=template["kind"],
            channel=template["channel"],
            language="en",
            defaults={
                "subject": template.get("subject", ""),
                "body_text": template["body_text"],
                "body_html": template.get("body_html", ""),
            },
        )


class Migration(migrations.Migration):
    dependencies = [("clinic", "0006_reminder_outbox")]

    operations = [migrations.RunPython(load_templates, migrations.RunPython.noop)]
