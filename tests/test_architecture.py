"""The layout the README's architecture section promises, checked on the source.

- Imports flow one way: patients ← clinic ← treatments ← portal (patients online).
- Every write of treatments/ and patients/ is in a service (`services/` or `services.py`);
  demo and scale data in `seed/`. In clinic/, `services.py` and the four modules that
  are services of their own: the reminder outbox, patient links, the access log,
  patients' texts (sms_inbound) and the schedule's version.
- Views and forms parse and render: they never save, create, update or delete.
- Reads of treatments/ live in `selectors/`, forms in `forms/`: no `selectors_*.py` or
  `forms_*.py` beside them.
"""

import ast
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[1]
APPS = ("clinic", "patients", "treatments", "portal", "fhir_api")
# app: the apps it must not import
FORBIDDEN = {
    "patients": {"clinic", "treatments", "portal", "fhir_api"},
    "clinic": {"treatments", "portal", "fhir_api"},
    "treatments": {"portal", "fhir_api"},
    "portal": {"fhir_api"},
    "fhir_api": {"portal"},
}
# Methods that write to the database whatever they are called on...
ALWAYS_WRITES = {"save", "delete", "bulk_create", "bulk_update", "get_or_create"}
ALWAYS_WRITES |= {"update_or_create"}
# ...and ones that write when called on a manager or a queryset (not on a dict or a set).
QUERYSET_WRITES = {"create", "update"}
QUERYSET_MAKERS = {"objects", "filter", "exclude", "all", "select_for_update", "using"}
CLINIC_WRITERS = {"clinic/services.py", "clinic/outbox.py", "clinic/links.py", "clinic/audit.py"}
CLINIC_WRITERS |= {"clinic/sms_inbound.py", "clinic/schedule_version.py"}


def sources(app: str) -> list[Path]:
    return [path for path in (BASE_DIR / app).rglob("*.py") if "migrations" not in path.parts]


def relative(path: Path) -> str:
    return str(path.relative_to(BASE_DIR))


def imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _on_a_queryset(receiver: ast.expr) -> bool:
    """Whether an expression is a manager or queryset chain: `X.objects`, `….filter(…)`."""
    while True:
        if isinstance(receiver, ast.Call):
            receiver = receiver.func
        if not isinstance(receiver, ast.Attribute):
            return False
        if receiver.attr in QUERYSET_MAKERS:
            return True
        receiver = receiver.value


def database_writes(path: Path) -> list[str]:
    """Each call in the file that writes to the database, as `line: call`."""
    writes = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method = node.func.attr
        if method in ALWAYS_WRITES or (
            method in QUERYSET_WRITES and _on_a_queryset(node.func.value)
        ):
            writes.append(f"{node.lineno}: {ast.unparse(node.func)}")
    return writes


def may_write(path: Path) -> bool:
    parts = path.relative_to(BASE_DIR).parts
    if parts[0] == "clinic":
        return relative(path) in CLINIC_WRITERS
    return (
        "services" in parts
        or path.name == "services.py"
        or "seed" in parts
        or "management" in parts  # the seeding commands
    )


@pytest.mark.parametrize("app", sorted(FORBIDDEN))
def test_an_app_does_not_import_the_apps_that_build_on_it(app):
    offending = {
        relative(path): sorted(imported_apps(path) & FORBIDDEN[app]) for path in sources(app)
    }
    assert {path: apps for path, apps in offending.items() if apps} == {}


@pytest.mark.parametrize("app", APPS)
def test_only_services_write_to_the_database(app):
    offending = {
        relative(path): database_writes(path) for path in sources(app) if not may_write(path)
    }
    assert {path: writes for path, writes in offending.items() if writes} == {}


def test_views_and_forms_never_write():
    layers = [
        path
        for app in APPS
        for path in sources(app)
        if {"views", "forms"} & set(path.parts) or path.stem in ("views", "views_auth", "forms")
    ]
    assert len(layers) > 10  # the check looks where the views and forms are
    assert {relative(path): database_writes(path) for path in layers if database_writes(path)} == {}


def test_the_write_check_sees_the_writes_it_forbids(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "entry.save()\nAppointment.objects.create(x=1)\n"
        "Reminder.objects.filter(pk=1).update(status='sent')\nform.instance.delete()\n"
        "context.update(a=1)\nwidget.attrs.update({})\n"
    )
    assert [write.split(":")[0] for write in database_writes(sample)] == ["1", "2", "3", "4"]


def test_reads_and_forms_of_treatments_live_in_their_packages():
    treatments = BASE_DIR / "treatments"
    strays = sorted(
        path.name
        for pattern in ("selectors*.py", "forms*.py", "services*.py")
        for path in treatments.glob(pattern)
    )
    assert strays == []
    assert {"services", "selectors", "forms", "views", "seed"} <= {
        path.name for path in treatments.iterdir() if (path / "__init__.py").exists()
    }
