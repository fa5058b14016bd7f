"""Form widgets are drawn from Django's Jinja2 templates of them (faster), with the same
HTML as its template language draws (but for the blank lines between a select's options
and the spelling of an escaped quote); a widget with no Jinja2 template (the admin's) still
draws."""

import re

import pytest
from django.forms.renderers import DjangoTemplates
from django.template.backends.django import Template as DjangoTemplate
from django.template.backends.jinja2 import Template as Jinja2Template

from clinic.form_renderer import WidgetRenderer
from patients.forms import GuardianForm, PatientRegisterForm
from treatments.forms.appointments import BookingForm, FirstAvailableForm, WaitlistEntryForm

from ..factories import StaffMemberFactory

pytestmark = pytest.mark.django_db


def test_a_widget_comes_from_jinja2_and_an_admin_widget_from_django_templates():
    renderer = WidgetRenderer()

    select = renderer.get_template("django/forms/widgets/select.html")
    related = renderer.get_template("admin/widgets/related_widget_wrapper.html")

    assert isinstance(select, Jinja2Template)
    assert isinstance(related, DjangoTemplate)


@pytest.mark.parametrize(
    "form_class",
    [BookingForm, FirstAvailableForm, WaitlistEntryForm, PatientRegisterForm, GuardianForm],
)
def test_every_widget_draws_the_same_html_as_django_templates_draw(form_class):
    StaffMemberFactory()  # a dermatologist among a select's options
    form = form_class(data={"reason": 'a <b>"quoted"</b> & escaped value'})
    form.is_valid()  # bound, with errors: what a refused form shows again
    drawn = {}
    for renderer in (WidgetRenderer(), DjangoTemplates()):
        form.renderer = renderer
        drawn[type(renderer).__name__] = [
            same_spelling(str(field) + str(field.errors)) for field in form
        ]

    assert drawn["WidgetRenderer"] == drawn["DjangoTemplates"]
    assert len(drawn["WidgetRenderer"]) == len(form.fields) > 2


def test_a_typed_value_comes_back_escaped():
    form = BookingForm(data={"reason": 'a <b>"quoted"</b> & escaped value'})
    form.renderer = WidgetRenderer()

    assert 'value="a &lt;b&gt;&#34;quoted&#34;&lt;/b&gt; &amp; escaped value"' in str(
        form["reason"]
    )


def same_spelling(html: str) -> str:
    """Without the blank lines between tags; an escaped quote spelled one way."""
    html = re.sub(r">\s+<", "><", html)
    return html.replace("&#34;", "&quot;").replace("&#39;", "&#x27;")
