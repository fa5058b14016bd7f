"""`make deploy-check`: docker-compose.yml rendered by a real compose implementation, and
the properties the README promises of the production stack checked in what it rendered.

Needs `docker compose` (the plugin) or `docker-compose` (Debian's package), not a running
Docker daemon: `config` only reads and interpolates the file. deploy/Caddyfile is adapted
by `caddy adapt` too when caddy is installed. Exit status 0 when every property holds;
otherwise 1, with one line per property that does not.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat", "migrate")
# Compose stops with this variable's message when it is missing.
REQUIRED = ("DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "EMAIL_URL")
# Variables of .env.example that compose does not pass through from .env, and why.
NOT_PASSED_THROUGH = {
    # Set by compose itself, whatever .env says: the stack's own wiring.
    "DJANGO_SETTINGS_MODULE", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "CLINIC_BASE_URL",
    "DATABASE_URL", "CELERY_BROKER_URL", "CLINIC_CACHE_URL", "EMAIL_URL",
    "CLINIC_TRUSTED_PROXY_COUNT",
    # Paths inside the image and its volume.
    "CLINIC_VAR_DIR", "CLINIC_PRIVATE_MEDIA_ROOT", "DJANGO_STATIC_ROOT",
    # `make run` (Procfile) and tests only.
    "HOST", "PORT", "WEB_CONCURRENCY", "KEEP_RUNNING_PAUSE_SECONDS", "CLINIC_TEST_EMAIL_URL",
    "CLINIC_TEST_SMS_PROVIDERS",
    # `make run` only: production settings always serve the image's collected files.
    "CLINIC_STATIC_COLLECTED",
    # Read by compose and Caddy, not by the app.
    "CLINIC_DOMAIN", "CLINIC_TLS", "POSTGRES_PASSWORD",
}  # fmt: skip
# A version with its minor number at least (postgres:15.10, caddy:2.8.4): no floating tag.
PINNED_TAG = re.compile(r":v?\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$")
CHECK_ENV = {
    "DJANGO_SECRET_KEY": "deploy-check-secret-key",
    "POSTGRES_PASSWORD": "deploycheckpassword",
    "EMAIL_URL": "smtp://mail:1025",
}


def compose_command() -> list[str]:
    """The compose implementation on this machine: the plugin, else docker-compose."""
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) and _succeeds([*command, "version"]):
            return command
    sys.exit("deploy-check: no compose found; apt-get install -y docker-compose")


def _succeeds(command: list[str]) -> bool:
    result = subprocess.run(command, capture_output=True, timeout=60, check=False)
    return result.returncode == 0


def render(compose: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """`config` with the dev profile, reading only `env` (not a developer's own .env)."""
    with tempfile.NamedTemporaryFile("w", suffix=".env") as empty:
        return subprocess.run(
            [*compose, "--env-file", empty.name, "--profile", "dev", "config"],
            cwd=BASE_DIR,
            env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def env_example_names() -> set[str]:
    names = set()
    for line in (BASE_DIR / ".env.example").read_text().splitlines():
        match = re.match(r"#?\s*([A-Z][A-Z0-9_]+)=", line)
        if match:
            names.add(match.group(1))
    return names


def environment_of(service: dict) -> dict:
    environment = service.get("environment") or {}
    if isinstance(environment, list):  # KEY=value, the form some versions print
        return dict(item.partition("=")[::2] for item in environment)
    return environment


def problems_in(config: dict, raw: dict, env_names: set[str]) -> list[str]:
    """Every promised property that the rendered `config` (and the file, `raw`) breaks."""
    problems = []
    services = config.get("services", {})

    def expect(condition: bool, problem: str) -> None:
        if not condition:
            problems.append(problem)

    missing = {"db", "redis", "proxy", "mail", *APP_SERVICES} - set(services)
    expect(not missing, f"services missing: {sorted(missing)}")
    if missing:
        return problems

    for name, service in services.items():
        image = service.get("image", "")
        if "build" not in service:
            expect(
                bool(PINNED_TAG.search(image)), f"{name}: image {image!r} is not a pinned x.y.z tag"
            )
        logging = service.get("logging") or {}
        options = logging.get("options") or {}
        expect(
            logging.get("driver") == "json-file"
            and "max-size" in options
            and "max-file" in options,
            f"{name}: no json-file log rotation (max-size, max-file)",
        )
        memory = service.get("mem_limit") or (
            service.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory")
        )
        expect(bool(memory), f"{name}: no memory limit")

    expect(services["db"]["image"].startswith("postgres:15."), "db: not PostgreSQL 15.x")

    # Exposure: only the proxy is published on every interface; the mail catcher is for
    # development, on loopback only.
    for name, service in services.items():
        ports = [_port(port) for port in service.get("ports") or []]
        if name == "proxy":
            expect("443:443" in ports, "proxy: 443 not published")
        elif name == "mail":
            expect(
                all(p.startswith("127.0.0.1:") for p in ports), "mail: published beyond loopback"
            )
            expect(service.get("profiles") == ["dev"], "mail: not in the dev profile alone")
        else:
            expect(not ports, f"{name}: publishes {ports}; only the proxy may")
    proxy = services["proxy"]
    expect(proxy["image"].startswith("caddy:"), "proxy: not Caddy")
    expect(
        any(str(v).endswith("deploy/Caddyfile:/etc/caddy/Caddyfile:ro") for v in _volumes(proxy)),
        "proxy: deploy/Caddyfile not mounted read-only",
    )

    # Configuration: the app services get every setting and their secrets from outside.
    wanted = env_names - NOT_PASSED_THROUGH
    raw_app_env = raw.get("x-app", {}).get("environment", {})
    for name in APP_SERVICES:
        environment = environment_of(services[name])
        absent = wanted - set(environment)
        expect(not absent, f"{name}: settings of .env.example not passed through: {sorted(absent)}")
        expect(
            environment.get("DJANGO_SETTINGS_MODULE") == "clinic.settings.production",
            f"{name}: not clinic.settings.production",
        )
        expect(
            str(environment.get("CLINIC_TRUSTED_PROXY_COUNT")) == "1",
            f"{name}: CLINIC_TRUSTED_PROXY_COUNT is not 1 (exactly Caddy)",
        )
        expect(
            environment.get("DJANGO_SECRET_KEY") == CHECK_ENV["DJANGO_SECRET_KEY"]
            and CHECK_ENV["POSTGRES_PASSWORD"] in str(environment.get("DATABASE_URL")),
            f"{name}: secret key or database password not taken from the environment",
        )
    for variable, value in [*raw_app_env.items(), *raw["services"]["db"]["environment"].items()]:
        if re.search(r"SECRET|PASSWORD|TOKEN|_SID|DATABASE_URL", variable) and value is not None:
            expect(
                bool(re.search(r"\$\{[A-Z_]+:\?", str(value))),
                f"{variable}: a credential written in the file, not a required ${{VAR:?message}}",
            )

    # Operations: migrations once, before the app starts; healthchecks; one beat, by lock.
    expect("migrate" in services["migrate"].get("command", []), "migrate: does not migrate")
    expect(services["migrate"].get("restart") == "no", "migrate: restarts; it must run once")
    for name in ("web", "worker", "beat"):
        depends_on = services[name].get("depends_on") or {}
        expect(
            depends_on.get("migrate", {}).get("condition") == "service_completed_successfully",
            f"{name}: does not wait for migrate to complete",
        )
        expect("migrate" not in " ".join(services[name].get("command") or []), f"{name}: migrates")
    for name, probe in (("worker", "inspect ping"), ("beat", "beat_check")):
        healthcheck = services[name].get("healthcheck") or {}
        expect(
            not healthcheck.get("disable") and probe in " ".join(healthcheck.get("test") or []),
            f"{name}: no healthcheck running {probe!r}",
        )
    expect(
        services["beat"].get("command", [])[:3] == ["python", "-m", "clinic.beat_lock"],
        "beat: not started through clinic.beat_lock",
    )
    beats = [n for n, s in services.items() if "beat" in " ".join(s.get("command") or [])]
    expect(beats == ["beat"], f"more than one service runs beat: {beats}")
    return problems


def _port(port: str | dict) -> str:
    """[host_ip:]published:target, from the short form or the long one `config` prints."""
    if isinstance(port, dict):
        host_ip = f"{port['host_ip']}:" if port.get("host_ip") else ""
        return f"{host_ip}{port.get('published')}:{port.get('target')}"
    return str(port).removesuffix("/tcp").removesuffix("/udp")


def _volumes(service: dict) -> list[str]:
    volumes = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):  # the long form `config` prints in newer versions
            volume = f"{volume.get('source')}:{volume.get('target')}" + (
                ":ro" if volume.get("read_only") else ""
            )
        volumes.append(str(volume))
    return volumes


def missing_secret_problems(compose: list[str]) -> list[str]:
    """Each required variable missing alone stops compose with a message that names it."""
    problems = []
    for variable in REQUIRED:
        env = {name: value for name, value in CHECK_ENV.items() if name != variable}
        result = render(compose, env)
        if result.returncode == 0 or variable not in result.stderr:
            problems.append(f"compose starts without {variable}, or says nothing of it")
    return problems


def caddyfile_problems() -> list[str]:
    """deploy/Caddyfile adapted by caddy: localhost by its own CA, a domain by ACME."""
    if not shutil.which("caddy"):
        print("deploy-check: caddy not installed; deploy/Caddyfile not adapted")
        return []
    issuers = {}
    for domain, tls in (("localhost", None), ("clinic.example.com", "ops@clinic.example.com")):
        env = {"PATH": os.environ["PATH"], "CLINIC_DOMAIN": domain}
        if tls:
            env["CLINIC_TLS"] = tls
        result = subprocess.run(
            ["caddy", "adapt", "--config", str(BASE_DIR / "deploy" / "Caddyfile")],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            return [f"deploy/Caddyfile does not adapt: {result.stderr.strip()}"]
        adapted = json.loads(result.stdout)
        policies = adapted["apps"].get("tls", {}).get("automation", {}).get("policies", [])
        issuers[domain] = {i["module"] for p in policies for i in p.get("issuers", [])}
        if '"dial":"web:8000"' not in result.stdout.replace(" ", ""):
            return ["deploy/Caddyfile does not pass requests to web:8000"]
    problems = []
    if issuers["localhost"] != {"internal"}:
        problems.append(f"localhost is not signed by Caddy's internal CA: {issuers['localhost']}")
    if "acme" not in issuers["clinic.example.com"]:
        problems.append("a real domain does not get ACME certificates")
    return problems


def main() -> int:
    compose = compose_command()
    version = subprocess.run([*compose, "version"], capture_output=True, text=True, timeout=60)
    print(f"deploy-check: {' '.join(compose)}: {version.stdout.splitlines()[0]}")
    result = render(compose, CHECK_ENV)
    if result.returncode != 0:
        print(f"deploy-check: docker-compose.yml is invalid:\n{result.stderr}")
        return 1
    config = yaml.safe_load(result.stdout)
    raw = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    problems = [
        *problems_in(config, raw, env_example_names()),
        *missing_secret_problems(compose),
        *caddyfile_problems(),
    ]
    for problem in problems:
        print(f"deploy-check: FAIL {problem}")
    if problems:
        return 1
    print(f"deploy-check: docker-compose.yml valid; {len(config['services'])} services checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
