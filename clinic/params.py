"""Ids read from a query string or a form: anything but a plain id is no id."""

# PostgreSQL's bigint holds 19 digits; 18 always fit.
ID_MAX_DIGITS = 18


def id_param(value: object) -> int | None:
    """The id `value` spells in ASCII digits, or None: a date, "²", Arabic-Indic digits or
    a thousand digits name no row, and asking the database for them would be a 500."""
    text = str(value) if value is not None else ""
    if text.isascii() and text.isdigit() and len(text) <= ID_MAX_DIGITS:
        return int(text)
    return None
