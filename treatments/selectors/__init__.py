"""Every read of the treatments app, one module per area: appointments (and the
waitlist), availability (free slots), schedule (day and week views), records (charts,
procedures, follow-ups) and dashboard (the manager's figures). Writes are in services/."""
