"""Billing (issue 20): the fee schedule, estimates stored with appointments, charge lines,
payments and refunds, invoices and their number series (docs/billing.md).

The fee schedule's overlap rule is an exclusion constraint on PostgreSQL and a pair of
triggers on SQLite. Managers edit the fee schedule in the admin and read the rest there;
receptionists and dermatologists get no admin permission on billing (the desk takes
payments on its own pages).
"""

import django.contrib.postgres.fields.ranges
import django.core.validators
import django.db.models.deletion
import django.utils.timezone
import simple_history.models
import treatments.constraints
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models

from clinic.migrations._grants import grant

READ = ["view"]
GRANTS = {
    "Clinic managers": {
        "treatments.feescheduleentry": ["view", "add", "change", "delete"],
        "treatments.appointmentestimate": READ,
        "treatments.charge": READ,
        "treatments.payment": READ,
        "treatments.invoice": READ,
    },
}


def grant_billing(apps, schema_editor):
    grant(apps, GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0018_staff_language"),
        ("patients", "0006_guardian_language"),
        ("treatments", "0010_translatable_field_names"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="BillingSequence",
            fields=[
                ("name", models.CharField(max_length=20, primary_key=True, serialize=False)),
                ("last_number", models.PositiveIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="FeeScheduleEntry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "cpt_code",
                    models.CharField(
                        blank=True,
                        help_text="For the charge lines of this code; or give a procedure type instead.",
                        max_length=5,
                        validators=[
                            django.core.validators.RegexValidator(
                                "\\A[0-9]{4}[0-9FT]\\Z",
                                "A CPT code is five digits, or four digits and F or T (17110, 3008F, 0479T).",
                                code="cpt_code",
                            )
                        ],
                        verbose_name="CPT code",
                    ),
                ),
                ("description", models.CharField(max_length=200)),
                ("self_pay_price", models.DecimalField(decimal_places=2, max_digits=10)),
                ("insured_price", models.DecimalField(decimal_places=2, max_digits=10)),
                (
                    "tax_rate",
                    models.DecimalField(
                        decimal_places=3,
                        default=Decimal("0"),
                        help_text="Percent added to the price, e.g. 8.875",
                        max_digits=6,
                    ),
                ),
                ("effective_from", models.DateField()),
                (
                    "effective_to",
                    models.DateField(
                        blank=True,
                        help_text="The last day of this price; empty: until changed",
                        null=True,
                    ),
                ),
                (
                    "procedure_type",
                    models.ForeignKey(
                        blank=True,
                        help_text="For the estimate of a visit of this type; or give a CPT code instead.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="fee_entries",
                        to="treatments.proceduretype",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "fee schedule entries",
                "ordering": ["procedure_type", "cpt_code", "effective_from"],
            },
        ),
        migrations.CreateModel(
            name="AppointmentEstimate",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("price", models.DecimalField(decimal_places=2, max_digits=10)),
                ("tax_rate", models.DecimalField(decimal_places=3, max_digits=6)),
                ("tax_amount", models.DecimalField(decimal_places=2, max_digits=10)),
                ("total", models.DecimalField(decimal_places=2, max_digits=10)),
                ("currency", models.CharField(max_length=3)),
                ("priced_on", models.DateField(help_text="The day whose price this is")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "appointment",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="estimate",
                        to="treatments.appointment",
                    ),
                ),
                (
                    "fee_entry",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="treatments.feescheduleentry",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="HistoricalFeeScheduleEntry",
            fields=[
                (
                    "id",
                    models.BigIntegerField(
                        auto_created=True, blank=True, db_index=True, verbose_name="ID"
                    ),
                ),
                (
                    "cpt_code",
                    models.CharField(
                        blank=True,
                        help_text="For the charge lines of this code; or give a procedure type instead.",
                        max_length=5,
                        validators=[
                            django.core.validators.RegexValidator(
                                "\\A[0-9]{4}[0-9FT]\\Z",
                                "A CPT code is five digits, or four digits and F or T (17110, 3008F, 0479T).",
                                code="cpt_code",
                            )
                        ],
                        verbose_name="CPT code",
                    ),
                ),
                ("description", models.CharField(max_length=200)),
                ("self_pay_price", models.DecimalField(decimal_places=2, max_digits=10)),
                ("insured_price", models.DecimalField(decimal_places=2, max_digits=10)),
                (
                    "tax_rate",
                    models.DecimalField(
                        decimal_places=3,
                        default=Decimal("0"),
                        help_text="Percent added to the price, e.g. 8.875",
                        max_digits=6,
                    ),
                ),
                ("effective_from", models.DateField()),
                (
                    "effective_to",
                    models.DateField(
                        blank=True,
                        help_text="The last day of this price; empty: until changed",
                        null=True,
                    ),
                ),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(
                        choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1
                    ),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "procedure_type",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        help_text="For the estimate of a visit of this type; or give a CPT code instead.",
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="treatments.proceduretype",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical fee schedule entry",
                "verbose_name_plural": "historical fee schedule entries",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="Invoice",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.CharField(editable=False, max_length=20, unique=True)),
                ("issued_at", models.DateTimeField()),
                ("currency", models.CharField(max_length=3)),
                ("subtotal", models.DecimalField(decimal_places=2, max_digits=10)),
                ("tax_total", models.DecimalField(decimal_places=2, max_digits=10)),
                ("total", models.DecimalField(decimal_places=2, max_digits=10)),
                (
                    "issued_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="invoices",
                        to="patients.patient",
                    ),
                ),
            ],
            options={
                "ordering": ["-issued_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="Charge",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("procedure", "Procedure"),
                            ("evaluation", "Evaluation and management visit"),
                        ],
                        max_length=12,
                    ),
                ),
                (
                    "service_date",
                    models.DateField(help_text="Date of service, in the clinic's time zone"),
                ),
                (
                    "cpt_code",
                    models.CharField(
                        max_length=5,
                        validators=[
                            django.core.validators.RegexValidator(
                                "\\A[0-9]{4}[0-9FT]\\Z",
                                "A CPT code is five digits, or four digits and F or T (17110, 3008F, 0479T).",
                                code="cpt_code",
                            )
                        ],
                        verbose_name="CPT code",
                    ),
                ),
                (
                    "modifiers",
                    models.CharField(
                        blank=True,
                        help_text="e.g. 25",
                        max_length=11,
                        validators=[
                            django.core.validators.RegexValidator(
                                "\\A([0-9A-Z]{2})(,[0-9A-Z]{2}){0,3}\\Z",
                                "Modifiers are two characters each, comma-separated (25, 59).",
                                "modifiers",
                            )
                        ],
                    ),
                ),
                ("description", models.CharField(max_length=200)),
                ("units", models.PositiveSmallIntegerField(default=1)),
                ("unit_price", models.DecimalField(decimal_places=2, max_digits=10)),
                (
                    "tax_rate",
                    models.DecimalField(decimal_places=3, default=Decimal("0"), max_digits=6),
                ),
                ("tax_amount", models.DecimalField(decimal_places=2, max_digits=10)),
                (
                    "total",
                    models.DecimalField(
                        decimal_places=2, help_text="Units × unit price, plus tax", max_digits=10
                    ),
                ),
                (
                    "payer",
                    models.CharField(
                        choices=[("self_pay", "Self-pay"), ("insurance", "Insurance")],
                        help_text="The patient's payer then",
                        max_length=10,
                    ),
                ),
                (
                    "price_missing",
                    models.BooleanField(
                        default=False,
                        help_text="The fee schedule had no price for the code that day",
                    ),
                ),
                ("diagnosis_codes", models.JSONField(default=list)),
                (
                    "status",
                    models.CharField(
                        choices=[("active", "Active"), ("voided", "Voided")],
                        default="active",
                        max_length=8,
                    ),
                ),
                ("voided_at", models.DateTimeField(blank=True, null=True)),
                ("void_reason", models.CharField(blank=True, max_length=200)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "appointment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="charges",
                        to="treatments.appointment",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="charges",
                        to="patients.patient",
                    ),
                ),
                (
                    "procedure",
                    models.ForeignKey(
                        blank=True,
                        help_text="The signed record the line comes from",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="charges",
                        to="treatments.procedure",
                    ),
                ),
                (
                    "replaces",
                    models.ForeignKey(
                        blank=True,
                        help_text="The voided line this one corrects",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="replaced_by",
                        to="treatments.charge",
                    ),
                ),
                (
                    "voided_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "fee_entry",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="treatments.feescheduleentry",
                    ),
                ),
                (
                    "invoice",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="charges",
                        to="treatments.invoice",
                    ),
                ),
            ],
            options={
                "ordering": ["service_date", "created_at", "id"],
            },
        ),
        migrations.CreateModel(
            name="Payment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("receipt_number", models.CharField(editable=False, max_length=20, unique=True)),
                (
                    "kind",
                    models.CharField(
                        choices=[("payment", "Payment"), ("refund", "Refund")],
                        default="payment",
                        max_length=8,
                    ),
                ),
                (
                    "amount",
                    models.DecimalField(
                        decimal_places=2,
                        help_text="Always positive; a refund's kind says so",
                        max_digits=10,
                    ),
                ),
                (
                    "method",
                    models.CharField(
                        choices=[
                            ("cash", "Cash"),
                            ("card", "Card"),
                            ("bank_transfer", "Bank transfer"),
                        ],
                        max_length=14,
                    ),
                ),
                (
                    "reference",
                    models.CharField(
                        blank=True,
                        help_text="The card terminal's or the bank transfer's",
                        max_length=100,
                    ),
                ),
                (
                    "reason",
                    models.CharField(blank=True, help_text="Why, for a refund", max_length=200),
                ),
                ("received_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "appointment",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="payments",
                        to="treatments.appointment",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="payments",
                        to="patients.patient",
                    ),
                ),
                (
                    "received_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["received_at", "id"],
            },
        ),
        migrations.AddIndex(
            model_name="feescheduleentry",
            index=models.Index(fields=["cpt_code", "effective_from"], name="fee_cpt_from_idx"),
        ),
        migrations.AddIndex(
            model_name="feescheduleentry",
            index=models.Index(
                fields=["procedure_type", "effective_from"], name="fee_type_from_idx"
            ),
        ),
        migrations.AddConstraint(
            model_name="feescheduleentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("procedure_type__isnull", False), ("cpt_code", "")),
                    models.Q(
                        ("procedure_type__isnull", True), models.Q(("cpt_code", ""), _negated=True)
                    ),
                    _connector="OR",
                ),
                name="fee_entry_one_key",
                violation_error_message="Give either a procedure type or a CPT code.",
            ),
        ),
        migrations.AddConstraint(
            model_name="feescheduleentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("cpt_code", ""), ("cpt_code__regex", "\\A[0-9]{4}[0-9FT]\\Z"), _connector="OR"
                ),
                name="fee_entry_code_is_cpt",
            ),
        ),
        migrations.AddConstraint(
            model_name="feescheduleentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("self_pay_price__gte", 0), ("insured_price__gte", 0)),
                name="fee_entry_prices_not_negative",
                violation_error_message="A price cannot be negative.",
            ),
        ),
        migrations.AddConstraint(
            model_name="feescheduleentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("tax_rate__gte", 0), ("tax_rate__lte", 30)),
                name="fee_entry_tax_rate_range",
                violation_error_message="A tax rate is from 0 to 30 percent.",
            ),
        ),
        migrations.AddConstraint(
            model_name="feescheduleentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("effective_to__isnull", True),
                    ("effective_to__gte", models.F("effective_from")),
                    _connector="OR",
                ),
                name="fee_entry_dates_in_order",
                violation_error_message="The last day comes on or after the first.",
            ),
        ),
        migrations.AddConstraint(
            model_name="feescheduleentry",
            constraint=treatments.constraints.PostgresExclusionConstraint(
                condition=models.Q(("procedure_type__isnull", False)),
                expressions=[
                    (
                        treatments.constraints.DateRange(
                            "effective_from",
                            "effective_to",
                            django.contrib.postgres.fields.ranges.RangeBoundary(
                                inclusive_upper=True
                            ),
                        ),
                        "&&",
                    ),
                    ("procedure_type", "="),
                ],
                name="fee_entry_no_type_overlap",
                violation_error_message="Another price for this applies on some of these days.",
            ),
        ),
        migrations.AddConstraint(
            model_name="feescheduleentry",
            constraint=treatments.constraints.PostgresExclusionConstraint(
                condition=models.Q(("cpt_code", ""), _negated=True),
                expressions=[
                    (
                        treatments.constraints.DateRange(
                            "effective_from",
                            "effective_to",
                            django.contrib.postgres.fields.ranges.RangeBoundary(
                                inclusive_upper=True
                            ),
                        ),
                        "&&",
                    ),
                    ("cpt_code", "="),
                ],
                name="fee_entry_no_code_overlap",
                violation_error_message="Another price for this applies on some of these days.",
            ),
        ),
        migrations.AddConstraint(
            model_name="appointmentestimate",
            constraint=models.CheckConstraint(
                condition=models.Q(("price__gte", 0), ("tax_amount__gte", 0), ("total__gte", 0)),
                name="estimate_amounts_not_negative",
            ),
        ),
        migrations.AddIndex(
            model_name="invoice",
            index=models.Index(fields=["patient", "issued_at"], name="invoice_patient_idx"),
        ),
        migrations.AddConstraint(
            model_name="invoice",
            constraint=models.CheckConstraint(
                condition=models.Q(("subtotal__gte", 0), ("tax_total__gte", 0), ("total__gte", 0)),
                name="invoice_totals_not_negative",
            ),
        ),
        migrations.AddIndex(
            model_name="charge",
            index=models.Index(fields=["patient", "service_date"], name="charge_patient_day_idx"),
        ),
        migrations.AddIndex(
            model_name="charge",
            index=models.Index(
                condition=models.Q(("price_missing", True)),
                fields=["price_missing"],
                name="charge_unpriced_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="charge",
            constraint=models.CheckConstraint(
                condition=models.Q(("kind__in", ["procedure", "evaluation"])),
                name="charge_kind_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="charge",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["active", "voided"])), name="charge_status_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="charge",
            constraint=models.CheckConstraint(
                condition=models.Q(("payer__in", ["self_pay", "insurance"])),
                name="charge_payer_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="charge",
            constraint=models.CheckConstraint(
                condition=models.Q(("units__gte", 1)), name="charge_units_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="charge",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("unit_price__gte", 0), ("tax_amount__gte", 0), ("total__gte", 0)
                ),
                name="charge_amounts_not_negative",
            ),
        ),
        migrations.AddConstraint(
            model_name="charge",
            constraint=models.CheckConstraint(
                condition=models.Q(("tax_rate__gte", 0), ("tax_rate__lte", 30)),
                name="charge_tax_rate_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="charge",
            constraint=models.CheckConstraint(
                condition=models.Q(("cpt_code__regex", "\\A[0-9]{4}[0-9FT]\\Z")),
                name="charge_code_is_cpt",
            ),
        ),
        migrations.AddConstraint(
            model_name="charge",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("modifiers", ""),
                    ("modifiers__regex", "\\A([0-9A-Z]{2})(,[0-9A-Z]{2}){0,3}\\Z"),
                    _connector="OR",
                ),
                name="charge_modifiers_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="charge",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("price_missing", False),
                    models.Q(("unit_price", 0), ("fee_entry__isnull", True)),
                    _connector="OR",
                ),
                name="charge_unpriced_has_no_price",
            ),
        ),
        migrations.AddConstraint(
            model_name="charge",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("status", "active"),
                        ("voided_by__isnull", True),
                        ("voided_at__isnull", True),
                        ("void_reason", ""),
                    ),
                    models.Q(
                        ("status", "voided"),
                        ("voided_by__isnull", False),
                        ("voided_at__isnull", False),
                        models.Q(("void_reason", ""), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="charge_void_has_who_when_why",
            ),
        ),
        migrations.AddConstraint(
            model_name="charge",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "active"), ("procedure__isnull", False)),
                fields=("procedure", "kind"),
                name="charge_active_once_per_record",
            ),
        ),
        migrations.AddIndex(
            model_name="payment",
            index=models.Index(fields=["patient", "received_at"], name="payment_patient_idx"),
        ),
        migrations.AddIndex(
            model_name="payment",
            index=models.Index(fields=["received_at"], name="payment_received_idx"),
        ),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount__gt", 0)), name="payment_amount_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.CheckConstraint(
                condition=models.Q(("kind__in", ["payment", "refund"])), name="payment_kind_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.CheckConstraint(
                condition=models.Q(("method__in", ["cash", "card", "bank_transfer"])),
                name="payment_method_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("method", "cash"), models.Q(("reference", ""), _negated=True), _connector="OR"
                ),
                name="payment_card_or_transfer_has_reference",
                violation_error_message="A card or bank transfer needs its reference.",
            ),
        ),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "refund"), _negated=True),
                    models.Q(("reason", ""), _negated=True),
                    _connector="OR",
                ),
                name="payment_refund_has_reason",
                violation_error_message="A refund needs a reason.",
            ),
        ),
        treatments.constraints.create_sqlite_fee_triggers(),
        migrations.RunPython(grant_billing, migrations.RunPython.noop),
    ]
