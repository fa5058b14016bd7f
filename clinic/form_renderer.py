"""How form widgets are drawn: Django's Jinja2 templates of its widgets where they exist
(a select's options, an input's attributes: the same HTML as its own template language,
drawn faster), its template language for the rest (the admin's related-object widgets,
which have no Jinja2 version)."""

from django.forms.renderers import BaseRenderer, DjangoTemplates, Jinja2
from django.template.exceptions import TemplateDoesNotExist


class WidgetRenderer(BaseRenderer):
    def __init__(self) -> None:
        self.faster, self.fallback = Jinja2(), DjangoTemplates()

    def get_template(self, template_name: str):
        try:
            return self.faster.get_template(template_name)
        except TemplateDoesNotExist:
            return self.fallback.get_template(template_name)
