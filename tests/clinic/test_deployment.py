"""The deployment files: no Docker engine runs here, so their structure is checked instead,
as written and as a real compose implementation renders it (deploy/deploy_check.py)."""

import copy
import importlib.util
import re
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml

from .test_settings import PRODUCTION, run_django

BASE_DIR = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def load_deploy_check():
    spec = importlib.util.spec_from_file_location(
        "deploy_check", BASE_DIR / "deploy" / "deploy_check.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


deploy_check = load_deploy_check()


@pytest.fixture(scope="module")
def rendered() -> dict:
    """docker-compose.yml as `docker-compose config` renders it, with the check's secrets."""
    if not (shutil.which("docker-compose") or shutil.which("docker")):
        pytest.skip("no compose implementation: apt-get install -y docker-compose")
    result = deploy_check.render(deploy_check.compose_command(), deploy_check.CHECK_ENV)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_runs_the_whole_stack():
    services = compose()["services"]
    assert set(services) == {"db", "redis", "migrate", "web", "worker", "beat", "proxy", "mail"}


def test_the_database_is_postgres_15_like_the_images_pg_dump_with_a_pg_isready_healthcheck():
    db = compose()["services"]["db"]
    assert re.fullmatch(r"postgres:15\.\d+-bookworm", db["image"])
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_redis_keeps_its_queue_and_never_evicts():
    command = " ".join(compose()["services"]["redis"]["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command


def test_web_worker_and_beat_share_one_image_and_wait_for_the_database_and_migrations():
    services = compose()["services"]
    for name in ("web", "worker", "beat"):
        service = services[name]
        assert service["build"] == "."
        assert service["image"] == "milia-clinic:latest"
        assert service["depends_on"]["db"] == {"condition": "service_healthy"}
        assert service["depends_on"]["redis"] == {"condition": "service_healthy"}
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert service["environment"]["DATABASE_URL"].startswith("postgres://clinic:${POSTGRES")
        assert service["environment"]["CELERY_BROKER_URL"].startswith("redis://redis:")


def test_migrations_run_once_in_a_service_of_their_own_and_web_only_serves():
    services = compose()["services"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    assert services["web"]["command"][0] == "gunicorn"
    assert "migrate" not in " ".join(services["web"]["command"])


def test_there_is_exactly_one_beat_and_it_starts_through_the_lock():
    services = compose()["services"]
    assert services["beat"]["command"][:3] == ["python", "-m", "clinic.beat_lock"]
    assert sum("beat" in " ".join(s.get("command") or []) for s in services.values()) == 1


def test_only_the_proxy_is_published_and_the_mail_catcher_is_a_loopback_dev_tool():
    services = compose()["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy", "mail"}
    assert services["proxy"]["image"].startswith("caddy:2.")
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"]
    assert services["mail"]["profiles"] == ["dev"]
    assert services["mail"]["ports"] == ["127.0.0.1:8025:8025"]


def test_the_rendered_file_keeps_every_promise_of_the_deploy_check(rendered):
    assert deploy_check.problems_in(rendered, compose(), deploy_check.env_example_names()) == []


@pytest.mark.parametrize(
    ("break_it", "problem"),
    [
        (lambda c: c["services"]["web"].update(ports=["8000:8000"]), "web: publishes"),
        (lambda c: c["services"]["mail"].update(ports=["8025:8025"]), "mail: published beyond"),
        (lambda c: c["services"]["redis"].update(image="redis:7"), "redis: image 'redis:7'"),
        (lambda c: c["services"]["worker"].pop("mem_limit"), "worker: no memory limit"),
        (lambda c: c["services"]["beat"].pop("logging"), "beat: no json-file log rotation"),
        (lambda c: c["services"]["beat"].update(healthcheck={"disable": True}), "beat: no health"),
        (lambda c: c["services"]["worker"]["depends_on"].pop("migrate"), "worker: does not wait"),
        (
            lambda c: c["services"]["web"]["environment"].pop("CLINIC_QUIET_HOURS"),
            "web: settings of .env.example not passed through: ['CLINIC_QUIET_HOURS']",
        ),
        (
            lambda c: c["services"]["web"]["environment"].update(CLINIC_TRUSTED_PROXY_COUNT="0"),
            "web: CLINIC_TRUSTED_PROXY_COUNT is not 1",
        ),
    ],
)
def test_the_deploy_check_names_each_broken_promise(rendered, break_it, problem):
    broken = copy.deepcopy(rendered)
    break_it(broken)
    problems = deploy_check.problems_in(broken, compose(), deploy_check.env_example_names())
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_a_password_written_into_the_file_is_refused_by_the_deploy_check(rendered):
    raw = compose()
    raw["services"]["db"]["environment"]["POSTGRES_PASSWORD"] = "clinic"
    problems = deploy_check.problems_in(rendered, raw, deploy_check.env_example_names())
    assert problems == [
        "POSTGRES_PASSWORD: a credential written in the file, not a required ${VAR:?message}"
    ]


@pytest.mark.parametrize(
    ("proxies", "believed"), [("0", "None"), ("1", "('HTTP_X_FORWARDED_PROTO', 'https')")]
)
def test_production_believes_x_forwarded_proto_only_behind_a_trusted_proxy(proxies, believed):
    shown = run_django(
        {**PRODUCTION, "CLINIC_TRUSTED_PROXY_COUNT": proxies},
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)",
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().splitlines()[-1] == believed


def test_every_setting_the_code_reads_is_listed_in_env_example():
    listed = {
        line.lstrip("# ").split("=")[0]
        for line in (BASE_DIR / ".env.example").read_text().splitlines()
        if "=" in line and line.lstrip("# ")[:1].isupper()
    }
    read = set()
    for path in (BASE_DIR / "clinic" / "settings").glob("*.py"):
        # env.str("NAME", ...), env_flag("NAME", ...), env_required("NAME") and the like
        read |= set(re.findall(r'env(?:\.\w+|_\w+)\(\s*"([A-Z0-9_]+)"', path.read_text()))
    assert {"DATABASE_URL", "DJANGO_SECRET_KEY", "CELERY_BROKER_URL"} <= read
    assert read <= listed, f"not in .env.example: {sorted(read - listed)}"


def test_dependencies_are_pinned_to_compatible_ranges():
    project = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        assert ">=" in requirement, f"{requirement} has no lower bound"
    assert any(r.startswith("Django>=5.2,<5.3") for r in project["dependencies"])


def test_clinical_photos_live_on_a_volume_of_their_own():
    web = compose()["services"]["web"]
    assert "private-media:/app/var/private-media" in web["volumes"]
    assert "private-media" in compose()["volumes"]
