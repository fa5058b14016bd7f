"""The deployment files: no Docker engine runs here, so their structure is checked instead."""

import re
import tomllib
from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def test_compose_runs_the_whole_stack():
    services = compose()["services"]
    assert set(services) == {"db", "redis", "web", "worker", "beat", "mail"}


def test_the_database_is_postgres_15_like_the_images_pg_dump_with_a_pg_isready_healthcheck():
    db = compose()["services"]["db"]
    assert db["image"].startswith("postgres:15")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_redis_keeps_its_queue_and_never_evicts():
    command = " ".join(compose()["services"]["redis"]["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command


def test_web_worker_and_beat_share_one_image_and_wait_for_a_healthy_database():
    services = compose()["services"]
    for name in ("web", "worker", "beat"):
        service = services[name]
        assert service["build"] == "."
        assert service["image"] == "milia-clinic:latest"
        assert service["depends_on"]["db"] == {"condition": "service_healthy"}
        assert service["depends_on"]["redis"] == {"condition": "service_healthy"}
        assert service["environment"]["DATABASE_URL"].startswith("postgres://")
        assert service["environment"]["CELERY_BROKER_URL"].startswith("redis://redis:")


def test_web_migrates_then_serves_on_port_8000_with_gunicorn():
    web = compose()["services"]["web"]
    assert web["command"].index("migrate") < web["command"].index("gunicorn")
    assert "8000:8000" in web["ports"]


def test_there_is_exactly_one_beat():
    services = compose()["services"]
    beat = services["beat"]
    assert "beat" in beat["command"]
    assert beat["deploy"]["replicas"] == 1
    assert sum("beat" in " ".join(s.get("command") or []) for s in services.values()) == 1


def test_mail_is_caught_with_a_web_ui():
    services = compose()["services"]
    assert "8025:8025" in services["mail"]["ports"]
    assert services["web"]["environment"]["EMAIL_URL"] == "smtp://mail:1025"


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
