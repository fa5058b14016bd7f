VISIT_DAY_FORMAT = "l j F"  # mardi 8 décembre
VISIT_DATE_FORMAT = "l j F Y"  # mardi 8 décembre 2026
PLAIN_DATE_FORMAT = "j F Y"  # 8 décembre 2026
VISIT_TIME_FORMAT = "H:i"  # 14:00
