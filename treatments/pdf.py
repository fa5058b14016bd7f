"""HTML templates printed as PDF with WeasyPrint: invoices, receipts, superbills.

A template is rendered by Django's loader, then laid out by WeasyPrint with the fonts
installed on the machine (fontconfig; DejaVu in the image). Nothing is fetched: the
templates carry their style inline and name no image, font or stylesheet by URL, and the
fetcher allows no protocol at all, so a URL that slips in is skipped (WeasyPrint logs a
warning), never fetched: a PDF never waits on a network.
"""

from typing import Any

from django.template.loader import render_to_string
from weasyprint import HTML
from weasyprint.urls import URLFetcher


def pdf_from_template(template_name: str, context: dict[str, Any]) -> bytes:
    """The template rendered with `context` (in the active language), as PDF bytes."""
    html = render_to_string(template_name, context)
    pdf: bytes = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=())).write_pdf()
    return pdf
