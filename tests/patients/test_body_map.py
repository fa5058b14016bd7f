"""The body map: one region per site, lesion counts on it, and the patient's left and right."""

import re

import pytest
from django.template import Context, Template
from django.template.loader import render_to_string
from django.urls import reverse

from patients.bodymap import REGIONS, body_map_context
from patients.models import Lesion

from ..factories import LesionFactory, PatientFactory

pytestmark = pytest.mark.django_db
Site = Lesion.Site


def render_map(patient, lesions, *, can_edit=True) -> str:
    return render_to_string(
        "treatments/_body_map.html",
        body_map_context(patient=patient, lesions=lesions, can_edit=can_edit),
    )


def marker_counts(html: str) -> dict[str, str]:
    """Site -> the number drawn in its marker."""
    return dict(
        re.findall(r'<g class="body-map-marker"[^>]*data-site="(\w+)">\s*<circle[^>]*/>\s*'
                   r"<text[^>]*>(\d+)</text>", html)
    )  # fmt: skip


def path_xs(d: str) -> list[float]:
    """The x coordinates of a path written with absolute commands and coordinate pairs."""
    return [float(x) for x in re.findall(r"-?[\d.]+", d)[::2]]


def test_every_site_has_exactly_one_region_in_the_geometry():
    assert sorted(REGIONS) == sorted(Site.values)
    assert all(region["view"] in {"face", "front", "back"} for region in REGIONS.values())


def test_every_site_has_exactly_one_region_linking_to_lesion_add_with_that_site():
    patient = PatientFactory()
    html = render_map(patient, [])
    add_url = reverse("treatments:lesion_add", args=[patient.pk])
    for site in Site.values:
        assert html.count(f'href="{add_url}?site={site}"') == 1, site
    assert html.count('class="body-map-region"') == len(Site.values)


def test_the_map_can_be_included_with_its_context_passed_whole():
    patient = PatientFactory()
    LesionFactory(patient=patient, site=Site.NOSE_BRIDGE, count=2)
    page = Template('{% include "treatments/_body_map.html" with map=body_map %}')
    body_map = body_map_context(patient=patient, lesions=patient.lesions.all(), can_edit=True)
    html = page.render(Context({"body_map": body_map}))
    assert marker_counts(html) == {"nose_bridge": "2"}
    assert html.count('class="body-map-region"') == len(Site.values)


def test_every_region_is_titled_with_its_site_label():
    html = render_map(PatientFactory(), [])
    titles = re.findall(r"<title>([^<]+)</title>", html)
    assert sorted(titles) == sorted(Site.labels)


def test_the_map_shows_the_active_milia_at_a_site_and_nothing_at_an_empty_site():
    patient = PatientFactory()
    LesionFactory(patient=patient, site=Site.CHEEK_LEFT, count=3)
    LesionFactory(patient=patient, site=Site.CHEEK_LEFT, count=4)
    html = render_map(patient, patient.lesions.all())
    assert marker_counts(html) == {"cheek_left": "7"}
    assert "Cheek, left: 7 active milia" in html


@pytest.mark.parametrize("lesion_count", [1, 100])
def test_drawing_the_map_reads_the_lesions_once(django_assert_num_queries, lesion_count):
    patient = PatientFactory()
    LesionFactory.create_batch(lesion_count, patient=patient)
    # 1. the patient's lesions
    with django_assert_num_queries(1):
        html = render_map(patient, patient.lesions.all())
    assert f">{3 * lesion_count}</text>" in html


def test_resolved_lesions_add_no_count_and_leave_a_hollow_marker():
    patient = PatientFactory()
    LesionFactory(patient=patient, site=Site.CHIN, status="resolved", resolved_on="2026-02-01")
    html = render_map(patient, patient.lesions.all())
    assert marker_counts(html) == {}
    assert 'class="body-map-marker-resolved"' in html
    assert "Chin: 1 resolved lesion" in html


def test_a_manager_reading_the_map_gets_no_links():
    patient = PatientFactory()
    html = render_map(patient, [], can_edit=False)
    assert "<a " not in html
    assert html.count('class="body-map-region" role="img"') == len(Site.values)


def test_the_patients_left_eyelid_is_on_the_viewers_right_in_the_face_view():
    left, right = REGIONS[Site.LEFT_UPPER_EYELID], REGIONS[Site.RIGHT_UPPER_EYELID]
    assert left["view"] == right["view"] == "face"
    assert left["marker"][0] > right["marker"][0]
    assert min(path_xs(left["shape"]["d"])) > max(path_xs(right["shape"]["d"]))


def test_the_patients_left_hand_is_on_the_viewers_right_in_the_front_view():
    assert REGIONS[Site.HAND_LEFT]["marker"][0] > REGIONS[Site.HAND_RIGHT]["marker"][0]


def test_the_back_view_marks_the_patients_left_on_the_viewers_left():
    views = body_map_context(patient=PatientFactory(), lesions=[], can_edit=True)["body_map_views"]
    sides = {view["key"]: (view["viewer_left"], view["viewer_right"]) for view in views}
    assert sides == {"face": ("R", "L"), "front": ("R", "L"), "back": ("L", "R")}
