"""CSV files for download, safe to open in a spreadsheet.

Quoting is the csv module's (RFC 4180: a field with a comma, quote or line break is
quoted, quotes doubled). A spreadsheet runs a cell that starts with = + - @ (or a tab or
carriage return) as a formula, so such a text cell gets a leading apostrophe (OWASP,
"CSV Injection"); a plain number such as -12.50 is left as it is: it is no formula.
"""

import csv
import re
from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def csv_cell(value: Any) -> str:
    """The value as a CSV cell that no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable[Any]]) -> HttpResponse:
    """A download of `rows` under `header`, UTF-8 with a byte-order mark (so that a
    spreadsheet reads accents right), lines ending CRLF as RFC 4180 says."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return response
