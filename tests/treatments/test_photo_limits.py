"""Photos: the pixel limit is read from the header before anything is decoded, and the
largest accepted photo is cleaned in bounded memory (measured in a process of its own)."""

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from treatments.services.photos import photo_clean

BASE_DIR = Path(__file__).resolve().parents[2]
# The largest accepted photo (8000 × 5000, CLINIC_PHOTO_MAX_PIXELS' default) was measured
# at 60 to 95 MB of peak memory above the process's baseline; the bound leaves room for
# another Pillow build, and is far below the 1.7 GB a 9400 × 9400 photo took before.
PEAK_MEMORY_BOUND_MB = 450


def jpeg_claiming(width: int, height: int) -> bytes:
    """A tiny JPEG whose header claims width × height pixels (its SOF0 segment rewritten)."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 150, 140)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    start_of_frame = data.index(b"\xff\xc0")
    data[start_of_frame + 5 : start_of_frame + 9] = height.to_bytes(2, "big") + width.to_bytes(
        2, "big"
    )
    return bytes(data)


def test_a_photo_of_too_many_pixels_is_a_form_error_before_it_is_decoded():
    upload = SimpleUploadedFile("huge.jpg", jpeg_claiming(9400, 9400), content_type="image/jpeg")

    with pytest.raises(ValidationError) as refused:
        photo_clean(upload)

    assert refused.value.message_dict["image"] == [
        "This photo has more than 40 megapixels, the most accepted. "
        "Export it smaller and upload it again."
    ]


def test_the_limit_is_a_setting(settings):
    settings.CLINIC_PHOTO_MAX_PIXELS = 1_000_000
    buffer = io.BytesIO()
    Image.new("RGB", (1001, 1000)).save(buffer, "PNG")

    with pytest.raises(ValidationError) as refused:
        photo_clean(SimpleUploadedFile("a.png", buffer.getvalue()))

    assert "more than 1 megapixels" in refused.value.message_dict["image"][0]


MEASURE = textwrap.dedent(
    """
    import json, resource, sys
    import django
    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from treatments.services.photos import photo_clean

    data = open(sys.argv[1], "rb").read()
    upload = SimpleUploadedFile("largest.jpg", data, content_type="image/jpeg")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    clean = photo_clean(upload)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_kb": after - before, "width": clean.width, "height": clean.height}))
    """
)


def test_the_largest_accepted_photo_is_cleaned_in_bounded_memory(tmp_path):
    path = tmp_path / "largest.jpg"
    # 8000 × 5000 = 40,000,000 pixels: the default limit exactly. Noise would not
    # compress; a gradient gives the encoder and decoder real work at a modest size.
    gradient = Image.linear_gradient("L").resize((8000, 5000)).convert("RGB")
    gradient.save(path, "JPEG", quality=85)
    del gradient

    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)],
        cwd=BASE_DIR,
        env={"DJANGO_SETTINGS_MODULE": "clinic.settings.test", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    measured = json.loads(result.stdout.strip().splitlines()[-1])

    print(f"peak memory above baseline: {measured['peak_kb'] / 1024:.0f} MB")
    assert (measured["width"], measured["height"]) == (8000, 5000)
    assert measured["peak_kb"] / 1024 < PEAK_MEMORY_BOUND_MB
