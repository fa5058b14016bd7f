"""Date and time formats that patients read, per language (settings.FORMAT_MODULE_PATH).

Templates name them (`{{ starts_at|date:"VISIT_DAY_FORMAT" }}`) and Django picks the
active language's: "Tuesday 8 December at 2:00 PM", "martes 8 de diciembre, 14:00",
"mardi 8 décembre à 14:00". Anything not named here is Django's own format for the language.
"""
