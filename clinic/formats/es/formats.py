VISIT_DAY_FORMAT = r"l j \d\e F"  # martes 8 de diciembre
VISIT_DATE_FORMAT = r"l j \d\e F \d\e Y"  # martes 8 de diciembre de 2026
PLAIN_DATE_FORMAT = r"j \d\e F \d\e Y"  # 8 de diciembre de 2026
VISIT_TIME_FORMAT = "H:i"  # 14:00
