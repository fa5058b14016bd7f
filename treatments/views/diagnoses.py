"""The ICD-10-CM search behind the record form's diagnosis box."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from clinic.permissions import CLINICAL_READERS, role_required

from ..forms.records import DiagnosisSearchForm
from ..selectors.diagnoses import icd10_search


@require_GET
@role_required(*CLINICAL_READERS)
def diagnosis_search(request):
    """Billable codes for ?q= (a code's start or words of its description; the record
    form's box sends its own name, diagnosis_code), as <option>s for the box's datalist.
    ?limit= (1 to 50, default 20). No patient data, so no access-log row."""
    query = request.GET.get("q", request.GET.get("diagnosis_code", ""))
    form = DiagnosisSearchForm({"q": query, "limit": request.GET.get("limit")})
    if not form.is_valid():
        return render(
            request, "treatments/_diagnosis_options.html", {"errors": form.errors}, status=400
        )
    codes = icd10_search(query=form.cleaned_data["q"], limit=form.cleaned_data["limit"] or 20)
    return render(request, "treatments/_diagnosis_options.html", {"codes": codes})
