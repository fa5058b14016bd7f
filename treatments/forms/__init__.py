"""Forms of the treatments app, one module per area: appointments (booking, the slot
picker, rescheduling, cancelling, the waitlist), records and photos. A form checks the
shape of what was typed; the services check the clinic's rules."""
