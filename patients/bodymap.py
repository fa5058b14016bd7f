"""The body map: where each charted site sits on three drawings (face, body front, body back).

Coordinates are SVG user units in each view's viewBox. Left and right are the patient's: in
the face and front views the patient's right is on the viewer's left, in the back view it is
on the viewer's right. Only the patient's right side is drawn by hand; the left side is its
mirror image, so the two halves cannot drift apart.
"""

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, gettext_lazy

from patients.models import Lesion

Site = Lesion.Site

VIEWS = {
    # key: (heading, viewBox width, viewBox height, the patient's side on the viewer's left)
    "face": (gettext_lazy("Face"), 320, 380, "R"),
    "front": (gettext_lazy("Body, front"), 240, 460, "R"),
    "back": (gettext_lazy("Body, back"), 240, 460, "L"),
}
FACE_WIDTH = VIEWS["face"][1]


def _mirror_path(d: str, width: int) -> str:
    """The path reflected about the vertical midline; every command must be absolute (M L Q C Z)."""
    tokens = re.findall(r"[MLQCZ]|-?\d+(?:\.\d+)?", d)
    mirrored, is_x = [], True
    for token in tokens:
        if token.isalpha():
            mirrored.append(token)
            continue
        mirrored.append(f"{width - float(token):g}" if is_x else token)
        is_x = not is_x
    return " ".join(mirrored)


def _mirror(region: dict, width: int) -> dict:
    shape = dict(region["shape"])
    if "d" in shape:
        shape["d"] = _mirror_path(shape["d"], width)
    else:
        shape["cx"] = width - shape["cx"]
    x, y = region["marker"]
    return {"view": region["view"], "shape": shape, "marker": (width - x, y)}


def _path(d: str, **extra) -> dict:
    return {"d": d, **extra}


def _ellipse(cx, cy, rx, ry) -> dict:
    return {"cx": cx, "cy": cy, "rx": rx, "ry": ry}


def _ring_path(cx, cy, rx, ry, hole: str) -> dict:
    """An ellipse with a hole (filled even-odd): periorbital skin around the eyelids."""
    k = 0.5523  # cubic Bézier control-point factor for a quarter ellipse
    ox, oy = rx * k, ry * k
    outer = (
        f"M {cx - rx} {cy} C {cx - rx} {cy - oy} {cx - ox} {cy - ry} {cx} {cy - ry} "
        f"C {cx + ox} {cy - ry} {cx + rx} {cy - oy} {cx + rx} {cy} "
        f"C {cx + rx} {cy + oy} {cx + ox} {cy + ry} {cx} {cy + ry} "
        f"C {cx - ox} {cy + ry} {cx - rx} {cy + oy} {cx - rx} {cy} Z"
    )
    return _path(f"{outer} {hole}", **{"fill-rule": "evenodd"})


_EYELIDS_RIGHT = "M 90 170 Q 112 126 134 170 Q 112 212 90 170 Z"

# The patient's right side (viewer's left in the face and front views), mirrored below.
_RIGHT_SIDE = {
    Site.TEMPLE_RIGHT: ("face", _ellipse(80, 128, 11, 19), (80, 128)),
    Site.RIGHT_UPPER_EYELID: (
        "face",
        _path("M 90 170 Q 112 126 134 170 Q 112 156 90 170 Z"),
        (112, 155),
    ),
    Site.RIGHT_LOWER_EYELID: (
        "face",
        _path("M 90 170 Q 112 212 134 170 Q 112 182 90 170 Z"),
        (112, 186),
    ),
    Site.PERIORBITAL_RIGHT: ("face", _ring_path(112, 170, 38, 34, _EYELIDS_RIGHT), (80, 170)),
    Site.CHEEK_RIGHT: ("face", _ellipse(102, 238, 30, 27), (102, 238)),
    Site.EAR_RIGHT: (
        "face",
        _path("M 64 150 C 46 138 36 158 40 182 C 43 202 52 216 66 212 Z"),
        (51, 180),
    ),
    Site.SHOULDER_RIGHT: (
        "front",
        _path("M 96 86 L 82 98 L 80 124 L 60 124 C 58 104 68 90 96 86 Z"),
        (74, 106),
    ),
    Site.UPPER_ARM_RIGHT: ("front", _path("M 60 126 L 80 126 L 77 196 L 55 194 Z"), (68, 160)),
    Site.FOREARM_RIGHT: ("front", _path("M 55 197 L 77 199 L 71 262 L 50 260 Z"), (63, 230)),
    Site.HAND_RIGHT: (
        "front",
        _path("M 50 263 L 71 265 C 74 282 68 300 58 302 C 48 300 45 284 50 263 Z"),
        (60, 283),
    ),
    Site.THIGH_RIGHT: (
        "front",
        _path("M 84 232 L 99 232 L 111 264 L 117 268 L 115 342 L 90 342 Q 82 290 84 232 Z"),
        (100, 302),
    ),
    Site.LOWER_LEG_RIGHT: (
        "front",
        _path("M 90 345 L 115 345 L 112 420 L 95 420 Q 86 380 90 345 Z"),
        (102, 382),
    ),
    Site.FOOT_RIGHT: (
        "front",
        _path("M 95 423 L 112 423 L 114 444 Q 114 452 100 452 Q 84 452 88 446 Z"),
        (102, 439),
    ),
}

_MIDLINE = {
    Site.SCALP: (
        "face",
        _path(
            "M 62 140 C 50 60 105 22 160 22 C 215 22 270 60 258 140 "
            "C 250 100 215 70 160 70 C 105 70 70 100 62 140 Z"
        ),
        (160, 44),
    ),
    Site.FOREHEAD: (
        "face",
        _path("M 96 122 C 100 92 126 76 160 76 C 194 76 220 92 224 122 Z"),
        (160, 102),
    ),
    Site.GLABELLA: ("face", _ellipse(160, 140, 12, 13), (160, 140)),
    Site.NOSE_BRIDGE: ("face", _path("M 151 152 L 169 152 L 171 210 L 149 210 Z"), (160, 182)),
    Site.NOSE_TIP: (
        "face",
        _path(
            "M 149 212 L 171 212 C 176 224 190 230 186 242 "
            "C 182 252 138 252 134 242 C 130 230 144 224 149 212 Z"
        ),
        (160, 236),
    ),
    Site.PERIORAL: ("face", _ellipse(160, 284, 40, 24), (128, 290)),
    Site.CHIN: ("face", _ellipse(160, 326, 30, 15), (160, 326)),
    Site.NECK_FRONT: ("front", _path("M 110 58 L 130 58 L 133 84 L 107 84 Z"), (120, 72)),
    Site.CHEST: (
        "front",
        _path("M 98 86 L 142 86 L 156 98 L 154 160 L 86 160 L 84 98 Z"),
        (120, 122),
    ),
    Site.ABDOMEN: ("front", _path("M 86 162 L 154 162 L 156 230 L 84 230 Z"), (120, 196)),
    Site.GENITAL: ("front", _path("M 102 232 L 138 232 L 128 262 L 112 262 Z"), (120, 246)),
    Site.NECK_BACK: ("back", _path("M 110 58 L 130 58 L 133 84 L 107 84 Z"), (120, 72)),
    Site.UPPER_BACK: (
        "back",
        _path("M 98 86 L 142 86 L 156 98 L 154 168 L 86 168 L 84 98 Z"),
        (120, 126),
    ),
    Site.LOWER_BACK: ("back", _path("M 86 170 L 154 170 L 156 230 L 84 230 Z"), (120, 200)),
    Site.BUTTOCKS: (
        "back",
        _path(
            "M 84 232 L 156 232 Q 160 262 150 278 Q 136 290 121 276 "
            "L 119 276 Q 104 290 90 278 Q 80 262 84 232 Z"
        ),
        (120, 254),
    ),
}

# The patient's left, for each right-side site.
_LEFT_OF = {
    Site.TEMPLE_RIGHT: Site.TEMPLE_LEFT,
    Site.RIGHT_UPPER_EYELID: Site.LEFT_UPPER_EYELID,
    Site.RIGHT_LOWER_EYELID: Site.LEFT_LOWER_EYELID,
    Site.PERIORBITAL_RIGHT: Site.PERIORBITAL_LEFT,
    Site.CHEEK_RIGHT: Site.CHEEK_LEFT,
    Site.EAR_RIGHT: Site.EAR_LEFT,
    Site.SHOULDER_RIGHT: Site.SHOULDER_LEFT,
    Site.UPPER_ARM_RIGHT: Site.UPPER_ARM_LEFT,
    Site.FOREARM_RIGHT: Site.FOREARM_LEFT,
    Site.HAND_RIGHT: Site.HAND_LEFT,
    Site.THIGH_RIGHT: Site.THIGH_LEFT,
    Site.LOWER_LEG_RIGHT: Site.LOWER_LEG_LEFT,
    Site.FOOT_RIGHT: Site.FOOT_LEFT,
}


def _build_regions() -> dict[str, dict[str, Any]]:
    regions: dict[str, dict[str, Any]] = {}
    for site, (view, shape, marker) in {**_RIGHT_SIDE, **_MIDLINE}.items():
        regions[site] = {"view": view, "shape": shape, "marker": marker}
    for right, left in _LEFT_OF.items():
        width = VIEWS[regions[right]["view"]][1]
        regions[left] = _mirror(regions[right], width)
    return regions


# Lesion.Site -> {"view": "face"|"front"|"back", "shape": SVG attributes, "marker": (x, y)}.
REGIONS: dict[str, dict] = _build_regions()

# Drawn under (or, for the eyes and lips, over) the regions; never links.
_FACE_DECOR = [
    ("path", {"d": "M 125 338 L 121 378 L 199 378 L 195 338 Z"}, "skin"),
    (
        "path",
        {
            "d": "M 160 60 C 215 60 252 92 256 150 C 260 215 238 300 200 338 "
            "C 185 352 135 352 120 338 C 82 300 60 215 64 150 C 68 92 105 60 160 60 Z"
        },
        "skin",
    ),
]
_FACE_FEATURES = [
    ("path", {"d": "M 82 139 Q 110 122 140 133"}, "brow"),
    ("path", {"d": _mirror_path("M 82 139 Q 110 122 140 133", FACE_WIDTH)}, "brow"),
    ("path", {"d": "M 95 170 Q 112 159 129 170 Q 112 181 95 170 Z"}, "eye"),
    (
        "path",
        {"d": _mirror_path("M 95 170 Q 112 159 129 170 Q 112 181 95 170 Z", FACE_WIDTH)},
        "eye",
    ),
    ("circle", {"cx": 112, "cy": 170, "r": 5}, "iris"),
    ("circle", {"cx": FACE_WIDTH - 112, "cy": 170, "r": 5}, "iris"),
    ("path", {"d": "M 140 284 Q 160 276 180 284 Q 160 296 140 284 Z"}, "lips"),
]
_LIMBS = [
    Site.SHOULDER_RIGHT,
    Site.UPPER_ARM_RIGHT,
    Site.FOREARM_RIGHT,
    Site.HAND_RIGHT,
    Site.THIGH_RIGHT,
    Site.LOWER_LEG_RIGHT,
    Site.FOOT_RIGHT,
]
_HEAD = ("ellipse", _ellipse(120, 34, 21, 26), "skin")
_BACK_DECOR = [_HEAD] + [
    ("path", REGIONS[site]["shape"], "skin") for limb in _LIMBS for site in (limb, _LEFT_OF[limb])
]
DECOR = {
    "face": (_FACE_DECOR, _FACE_FEATURES),
    "front": ([_HEAD], []),
    "back": (_BACK_DECOR, []),
}
NOTES = {
    "face": "",
    "front": gettext_lazy("The face is charted on the face view."),
    "back": gettext_lazy("Arms, hands and legs are charted on the front view."),
}


def _attributes(attributes: dict) -> str:
    """SVG attributes as markup: ` name="value"` each, escaped."""
    return mark_safe(
        "".join(format_html(' {}="{}"', name, value) for name, value in attributes.items())
    )


def _decor(shapes) -> str:
    return mark_safe(
        "".join(
            format_html(
                '<{} class="body-map-decor body-map-decor-{}"{}/>\n', tag, kind, _attributes(attrs)
            )
            for tag, attrs, kind in shapes
        )
    )


# The drawing does not change from patient to patient: its markup is written once, and a
# chart fills in its titles, counts and link. (With format_html() for each region and
# marker, drawing the map took a millisecond per chart.)
SHAPES = {
    site: ("path" if "d" in region["shape"] else "ellipse", _attributes(region["shape"]))
    for site, region in REGIONS.items()
}
DECOR_MARKUP = {key: (_decor(under), _decor(over)) for key, (under, over) in DECOR.items()}


def _marker_radius(count: int) -> int:
    return 8 if count < 10 else 10 if count < 100 else 12


def _region_label(label: str, active: int, resolved: int) -> str:
    parts = []
    if active:
        parts.append(
            gettext("1 active milium")
            if active == 1
            else gettext("%(count)s active milia") % {"count": active}
        )
    if resolved:
        parts.append(
            gettext("1 resolved lesion")
            if resolved == 1
            else gettext("%(count)s resolved lesions") % {"count": resolved}
        )
    return f"{label}: {', '.join(parts)}" if parts else str(label)


def _region_markup(site: str, *, link: bool) -> str:
    """A region as a link to chart a lesion there, or as a labelled image, with {title}
    (escaped), {active} (the shape's extra class) and, for a link, {url} and {link_label}
    (escaped) to fill in."""
    element, attrs = SHAPES[site]
    shape = f'<{element} class="body-map-shape{{active}}"{attrs}/>'
    if link:
        return (
            f'<a class="body-map-region" href="{{url}}?site={site}" role="link"'
            f' aria-label="{{link_label}}" data-site="{site}">'
            f"<title>{{title}}</title>{shape}</a>\n"
        )
    return (
        f'<g class="body-map-region" role="img" aria-label="{{title}}" data-site="{site}">'
        f"<title>{{title}}</title>{shape}</g>\n"
    )


def _marker_markup(site: str) -> tuple[str, str]:
    """A site's marker with the {count} of active milia and its {radius} to fill in, and
    the hollow ring of a site with only resolved lesions."""
    x, y = REGIONS[site]["marker"]
    count = (
        f'<g class="body-map-marker" aria-hidden="true" data-site="{site}">'
        f'<circle cx="{x}" cy="{y}" r="{{radius}}"/>'
        f'<text x="{x}" y="{y}" text-anchor="middle" dominant-baseline="central">{{count}}</text>'
        "</g>\n"
    )
    ring = (
        f'<circle class="body-map-marker-resolved" cx="{x}" cy="{y}" r="5" aria-hidden="true"'
        f' data-site="{site}"/>\n'
    )
    return count, ring


REGION_LINKS = {site: _region_markup(site, link=True) for site in REGIONS}
REGION_IMAGES = {site: _region_markup(site, link=False) for site in REGIONS}
MARKERS = {site: _marker_markup(site) for site in REGIONS}


def body_map_context(*, patient, lesions: Iterable[Lesion], can_edit: bool) -> dict:
    """What templates/treatments/_body_map.html needs, for a patient and their lesions.

    Each region's marker carries the number of active milia at that site (the sum of the
    active lesions' counts). Resolved lesions add nothing to it: a site with only resolved
    lesions gets a dim, hollow marker so the clinician sees that something was there.
    With can_edit false (a manager reading the chart) the regions are not links.
    Returns patient, lesions, can_edit and body_map_views, and the same under "map".

    The drawing's markup is written here rather than in the partial: its 45 regions and
    their markers, with a dozen template variables each, took a third of the chart's
    rendering time.
    """
    lesions = list(lesions)
    active: defaultdict[str, int] = defaultdict(int)
    resolved: defaultdict[str, int] = defaultdict(int)
    for lesion in lesions:
        if lesion.status in Lesion.CURRENT:
            active[lesion.site] += lesion.count
        else:
            resolved[lesion.site] += 1
    add_url = escape(reverse("treatments:lesion_add", args=[patient.pk])) if can_edit else ""
    regions, markers = defaultdict(list), defaultdict(list)
    chart_here = gettext("%(title)s. Chart a lesion here.")
    for site, label in Site.choices:
        view, count = REGIONS[site]["view"], active[site]
        region = REGION_LINKS[site] if can_edit else REGION_IMAGES[site]
        title = _region_label(str(label), count, resolved[site])
        regions[view].append(
            region.format(
                url=add_url,
                title=escape(title),
                link_label=escape(chart_here % {"title": title}) if can_edit else "",
                active=" body-map-shape-active" if count else "",
            )
        )
        marker, ring = MARKERS[site]
        if count:
            markers[view].append(marker.format(count=count, radius=_marker_radius(count)))
        elif resolved[site]:
            markers[view].append(ring)
    views = []
    for key, (heading, width, height, viewer_left) in VIEWS.items():
        under, over = DECOR_MARKUP[key]
        views.append({
            "key": key,
            "heading": heading,
            "width": width,
            "height": height,
            "viewer_left": viewer_left,
            "viewer_right": "L" if viewer_left == "R" else "R",
            "note": NOTES[key],
            # Drawn in this order: the decor, the regions, the decor over them (eyes,
            # lips), the markers on top.
            "drawing": mark_safe("".join([under, *regions[key], over, *markers[key]])),
        })  # fmt: skip
    context = {
        "patient": patient,
        "lesions": lesions,
        "can_edit": can_edit,
        "body_map_views": views,
    }
    # The partial reads `map`, so it can be merged into a page's context or included
    # with map=<this dict>, and a page's own `patient` or `can_edit` never leak into it.
    return {**context, "map": context}
