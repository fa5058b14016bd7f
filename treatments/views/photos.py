"""Clinical photos: upload, the checked view that serves them, before and after."""

from django.http import Http404

from clinic.permissions import CLINICIANS, role_required

PHOTO_READERS = (*CLINICIANS, "manager")


@role_required(*CLINICIANS)
def photo_upload(request, patient_id):
    raise Http404("Not built yet")


@role_required(*PHOTO_READERS)
def photo_image(request, pk):
    raise Http404("Not built yet")


@role_required(*PHOTO_READERS)
def photo_thumbnail(request, pk):
    raise Http404("Not built yet")


@role_required(*PHOTO_READERS)
def lesion_compare(request, lesion_id):
    raise Http404("Not built yet")
