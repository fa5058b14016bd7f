import factory.random
import pytest
from django.core.cache import cache
from django.test import Client

from clinic.celery import app
from clinic.models import StaffMember

from .factories import StaffMemberFactory, UserFactory


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache, as with an empty database: rows a factory
    writes bump no schedule version (the services do), and a test's rolled-back versions
    start again at 0, so a page cached by an earlier test would be read as current."""
    cache.clear()


@pytest.fixture(autouse=True)
def _the_same_data_every_run(request):
    """Each test's factories draw the same names and words on every run, whatever ran
    before it in its process: a failure that hangs on a drawn name (a surname such as
    "English" is also a word of the interface) shows on every run, not one in many."""
    factory.random.reseed_random(request.node.nodeid)


@pytest.fixture
def worker_at_once():
    """The worker's tasks run in this process as they are queued (Celery's eager mode):
    a portal code is in the test outbox once the request that asked for it commits."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = eager


def _client_for(role: str) -> Client:
    client = Client()
    staff_member = StaffMemberFactory(user=UserFactory(username=role), role=role)
    client.force_login(staff_member.user)
    client.staff_member = staff_member
    return client


@pytest.fixture
def receptionist_client(db):
    return _client_for(StaffMember.Role.RECEPTIONIST)


@pytest.fixture
def dermatologist_client(db):
    return _client_for(StaffMember.Role.DERMATOLOGIST)


@pytest.fixture
def manager_client(db):
    return _client_for(StaffMember.Role.MANAGER)


@pytest.fixture
def as_role(request):
    """A logged-in client for a role name, or an anonymous one for "anonymous"."""

    def client_for(role: str) -> Client:
        return Client() if role == "anonymous" else request.getfixturevalue(f"{role}_client")

    return client_for


def pytest_report_header(config):
    from django.conf import settings

    if settings.TEST_NOW:
        return f"clock: CLINIC_TEST_NOW, this run started at {settings.TEST_NOW.isoformat()}"
    return None


def _flushes_the_database(item: pytest.Item) -> bool:
    """A transactional test: Django empties every table after it."""
    marker = item.get_closest_marker("django_db")
    if marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])):
        return True
    fixtures = getattr(item, "fixturenames", ())
    return "transactional_db" in fixtures or "live_server" in fixtures


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """After a transactional test, put back what the migrations wrote (role groups,
    reminder templates, the procedure catalogue) before a test that expects it.

    Django empties the tables after such a test and reloads that data only before the
    next one with serialized_rollback; so it runs them after all others. Under
    pytest-xdist a process takes one file after another, and a plain test may follow."""
    result = yield
    if nextitem is None or not _flushes_the_database(item) or _flushes_the_database(nextitem):
        return result
    from django.db import connections
    from pytest_django.plugin import blocking_manager_key

    with item.config.stash[blocking_manager_key].unblock():
        for connection in connections.all(initialized_only=True):
            contents = getattr(connection, "_test_serialized_contents", None)
            if contents:
                connection.creation.deserialize_db_from_string(contents)
    return result


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The browser journeys run without coverage measuring (pytest-cov's no_cover): they
    walk pages whose code the view and service tests measure, and measuring their live
    server too slows `make coverage`."""
    coverage = config.pluginmanager.get_plugin("_cov")
    if getattr(coverage, "cov_controller", None) is None:
        return  # not measuring (no --cov): pytest-cov cannot pause what it did not start
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.no_cover)
