VISIT_DAY_FORMAT = "l j F"  # Tuesday 8 December
VISIT_DATE_FORMAT = "l j F Y"  # Tuesday 8 December 2026
PLAIN_DATE_FORMAT = "j F Y"  # 8 December 2026
VISIT_TIME_FORMAT = "g:i A"  # 2:00 PM
