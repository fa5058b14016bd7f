"""Forms of the dermatologist's records: the procedure, amendments, outcomes, alerts."""

from typing import cast

from django import forms
from django.db.models import Q
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from clinic.models import StaffMember
from patients.models import Lesion, PatientAlert

from ..models import (
    DIAGNOSIS_MILIA,
    FollowUpOutcome,
    Procedure,
    ProcedureType,
    cpt_code_validator,
)
from ..selectors.diagnoses import SEARCH_LIMIT_MAX, icd10_billable
from ..services.records import ALL_TECHNIQUE_FIELDS


def _billable(value: str) -> str:
    """The ICD-10-CM code as the code set writes it (l720 → L72.0), or a form error."""
    code = icd10_billable(code=value)
    if code is None:
        raise forms.ValidationError(
            _("%(code)s is not a billable ICD-10-CM code: search by code or by words."),
            params={"code": value},
            code="icd10_not_billable",
        )
    return code.code


class DiagnosisSearchInput(forms.TextInput):
    """A code box whose suggestions (a datalist) the diagnosis search fills as one types."""

    def __init__(self, attrs=None):
        super().__init__(
            {
                "list": "icd10-codes",
                "autocomplete": "off",
                "data-hx-get": reverse_lazy("treatments:diagnosis_search"),
                "data-hx-trigger": "input changed delay:300ms",
                "data-hx-target": "#icd10-codes",
                "data-hx-swap": "innerHTML",
                **(attrs or {}),
            }
        )


class DiagnosisSearchForm(forms.Form):
    q = forms.CharField(max_length=100, required=False, label=_("Code or words"))
    limit = forms.IntegerField(min_value=1, max_value=SEARCH_LIMIT_MAX, required=False)


class ProcedureForm(forms.Form):
    procedure_type = forms.ModelChoiceField(
        queryset=ProcedureType.objects.filter(is_active=True), label=_("Procedure")
    )
    lesions = forms.ModelMultipleChoiceField(
        queryset=Lesion.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Lesions treated"),
    )
    instrument = forms.ChoiceField(
        choices=[("", "—"), *Procedure.Instrument.choices], required=False
    )
    needle_gauge = forms.IntegerField(
        required=False, min_value=18, max_value=34, label=_("Needle gauge")
    )
    lesions_cleared = forms.IntegerField(required=False, min_value=1, label=_("Milia cleared"))
    cryo_method = forms.ChoiceField(
        choices=[("", "—"), *Procedure.CryoMethod.choices], required=False, label=_("Method")
    )
    freeze_seconds = forms.IntegerField(
        required=False, min_value=1, label=_("Freeze time (seconds)")
    )
    freeze_thaw_cycles = forms.IntegerField(
        required=False, min_value=1, label=_("Freeze–thaw cycles")
    )
    halo_mm = forms.DecimalField(
        required=False, min_value=0, max_digits=3, decimal_places=1, label=_("Halo (mm)")
    )
    anesthetic = forms.ChoiceField(
        choices=[("", "—"), *Procedure.Anesthetic.choices], required=False
    )
    anesthetic_volume_ml = forms.DecimalField(
        required=False, max_digits=3, decimal_places=1, label=_("Anesthetic volume (ml)")
    )
    hemostasis = forms.ChoiceField(
        choices=[("", "—"), *Procedure.Hemostasis.choices], required=False
    )
    consent_obtained = forms.BooleanField(required=False, label=_("Consent obtained"))
    consent_given_by = forms.ChoiceField(
        choices=[("", "—"), *Procedure.ConsentBy.choices],
        required=False,
        label=_("Consent given by"),
    )
    complication_bleeding = forms.BooleanField(required=False, label=_("Bleeding"))
    complication_blistering = forms.BooleanField(required=False, label=_("Blistering"))
    complication_pain = forms.BooleanField(required=False, label=_("Pain"))
    complication_note = forms.CharField(
        required=False, max_length=300, label=_("Complications, details")
    )
    note = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), label=_("Note")
    )
    diagnosis_code = forms.CharField(
        max_length=10,
        initial=DIAGNOSIS_MILIA,
        label=_("Diagnosis (ICD-10-CM)"),
        help_text=_("A billable code; type a code or words to search, e.g. milia."),
        widget=DiagnosisSearchInput,
    )
    secondary_diagnosis_codes = forms.CharField(
        required=False,
        max_length=200,
        label=_("Other diagnoses, in order"),
        help_text=_("Billable ICD-10-CM codes separated by commas, e.g. L70.0, L74.0."),
    )
    procedure_code = forms.CharField(
        required=False,
        max_length=10,
        label=_("Procedure code"),
        help_text=_("A CPT code (17110, 3008F, 0479T). Leave empty for the suggested code."),
    )
    on_behalf = forms.BooleanField(required=False)

    def __init__(self, *args, patient, on_behalf_of: StaffMember | None = None, **kwargs):
        """`on_behalf_of`: the visit's dermatologist when someone else records the visit;
        the form then asks whether they record it on that dermatologist's behalf."""
        super().__init__(*args, **kwargs)
        if on_behalf_of is None:
            del self.fields["on_behalf"]
        else:
            self.fields["on_behalf"].label = _("I record this visit on behalf of %(name)s") % {
                "name": on_behalf_of
            }
            self.fields["on_behalf"].help_text = _(
                "The record stays %(name)s's, shows that you wrote it, and %(name)s signs it."
            ) % {"name": on_behalf_of}
        lesions = cast("forms.ModelMultipleChoiceField[Lesion]", self.fields["lesions"])
        lesions.queryset = Lesion.objects.filter(patient=patient, status__in=Lesion.CURRENT)
        self.fields["procedure_type"].widget.attrs.update(
            {
                "data-hx-get": "",
                "data-hx-target": "#technique",
                "data-hx-select": "#technique",
                "data-hx-swap": "outerHTML",
                "data-hx-include": "closest form",
            }
        )

    def clean_procedure_code(self) -> str:
        # Category II and III codes end in a capital F or T; a lower-case one is a typo.
        code: str = self.cleaned_data["procedure_code"].upper()
        if code:
            cpt_code_validator(code)
        return code

    def clean_diagnosis_code(self) -> str:
        return _billable(self.cleaned_data["diagnosis_code"])

    def clean_secondary_diagnosis_codes(self) -> list[str]:
        values = self.cleaned_data["secondary_diagnosis_codes"].replace(",", " ").split()
        return [_billable(value) for value in values]

    def technique(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in ALL_TECHNIQUE_FIELDS}

    def consent(self) -> dict:
        return {k: self.cleaned_data.get(k) for k in ("consent_obtained", "consent_given_by")}

    def complications(self) -> dict:
        names = [
            "complication_bleeding",
            "complication_blistering",
            "complication_pain",
            "complication_note",
        ]
        return {name: self.cleaned_data.get(name) for name in names}


class ProcedureReviseForm(ProcedureForm):
    """A draft's values to change before signing: the procedure type and who wrote it stay."""

    def __init__(self, *args, procedure: Procedure, **kwargs):
        initial = {name: getattr(procedure, name) for name in REVISED_FIELDS}
        initial["secondary_diagnosis_codes"] = ", ".join(procedure.secondary_diagnosis_codes)
        initial["lesions"] = [lesion.pk for lesion in procedure.lesions.all()]
        super().__init__(*args, patient=procedure.patient, initial=initial, **kwargs)
        del self.fields["procedure_type"]
        lesions = cast("forms.ModelMultipleChoiceField[Lesion]", self.fields["lesions"])
        lesions.queryset = Lesion.objects.filter(
            Q(status__in=Lesion.CURRENT) | Q(procedures=procedure), patient=procedure.patient
        ).distinct()
        # The code as recorded; left as the suggestion when it was not overridden.
        if not procedure.procedure_code_overridden:
            self.initial["procedure_code"] = ""


REVISED_FIELDS = [
    *sorted(ALL_TECHNIQUE_FIELDS),
    "consent_obtained",
    "consent_given_by",
    "complication_bleeding",
    "complication_blistering",
    "complication_pain",
    "complication_note",
    "note",
    "diagnosis_code",
    "secondary_diagnosis_codes",
    "procedure_code",
]


class AmendmentForm(forms.Form):
    reason = forms.CharField(max_length=300, label=_("Why the correction"))
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), label=_("The correction"))
    procedure_code = forms.CharField(
        max_length=10,
        required=False,
        label=_("Corrected CPT code"),
        help_text=_("Only if the code was wrong: the record's charge line is then replaced."),
    )
    diagnosis_code = forms.CharField(
        max_length=10,
        required=False,
        label=_("Corrected ICD-10-CM code"),
        help_text=_("Only if the diagnosis code was wrong."),
    )


class OutcomeForm(forms.Form):
    """One lesion's outcome at a follow-up; one form per lesion (prefix = lesion id)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.widget.attrs["class"] = "form-control" if name == "note" else "form-select"

    outcome = forms.ChoiceField(
        choices=[("", _("Not seen")), *FollowUpOutcome.Outcome.choices], required=False
    )
    complication = forms.ChoiceField(
        choices=[("", "—"), *FollowUpOutcome.Complication.choices], required=False
    )
    note = forms.CharField(max_length=300, required=False)

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data  # what clean() returned; typed, never None
        if cleaned.get("outcome") == FollowUpOutcome.Outcome.COMPLICATION and not cleaned.get(
            "complication"
        ):
            self.add_error("complication", _("Which complication?"))
        if cleaned.get("outcome") != FollowUpOutcome.Outcome.COMPLICATION:
            cleaned["complication"] = ""
        return cleaned


class AlertForm(forms.ModelForm):
    class Meta:
        model = PatientAlert
        fields = ["kind", "description"]
