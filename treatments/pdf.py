"""HTML templates printed as PDF with WeasyPrint: invoices, receipts, superbills.

A template is rendered by Django's loader, then laid out by WeasyPrint with the fonts
installed on the machine (fontconfig; DejaVu in the image). Nothing is fetched: the
templates carry their style inline and name no image, font or stylesheet by URL, and the
fetcher allows no protocol at all, so a URL that slips in is skipped (WeasyPrint logs a
warning), never fetched: a PDF never waits on a network.
"""

from functools import cache
from typing import Any

from django.template.loader import render_to_string
from PIL import ImageFile


@cache
def _weasyprint() -> Any:
    """WeasyPrint, imported on first use. Its import turns on Pillow's process-wide
    LOAD_TRUNCATED_IMAGES, which would let a truncated photo upload pass the photo
    checks (treatments/services/photos.py): the setting is put back as it was. The
    billing templates hold no image, so WeasyPrint never needs it."""
    loading_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    import weasyprint
    import weasyprint.urls

    ImageFile.LOAD_TRUNCATED_IMAGES = loading_truncated
    return weasyprint


def pdf_from_template(template_name: str, context: dict[str, Any]) -> bytes:
    """The template rendered with `context` (in the active language), as PDF bytes."""
    weasyprint = _weasyprint()
    html = render_to_string(template_name, context)
    fetcher = weasyprint.urls.URLFetcher(allowed_protocols=())
    pdf: bytes = weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()
    return pdf
