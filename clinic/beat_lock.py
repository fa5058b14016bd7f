"""One beat for the whole clinic, enforced by a lock rather than by counting replicas.

Two beats would send every periodic task twice. `python -m clinic.beat_lock [beat options]`
takes the lock, then runs `celery -A clinic beat [beat options]` in this same process, which
holds the lock until it ends. A second one logs that it is waiting and checks again every
CLINIC_BEAT_LOCK_CHECK_SECONDS; it starts beat once the first one's process has ended.

- PostgreSQL: a session advisory lock on a connection of its own. The server releases it
  when the process or its connection dies, so a crashed beat never leaves it behind. The
  connection is checked at the same interval; a beat whose connection is gone may have
  lost its lock, so it exits (with status 3) and, restarted, waits for the lock again.
- SQLite (the embedded default, one machine): an exclusive `flock` on `beat.lock` in
  CLINIC_VAR_DIR, which the kernel releases when the process ends.
"""

import fcntl
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import IO, Protocol

logger = logging.getLogger("clinic.beat_lock")

# pg_advisory_lock takes one bigint; this one means "the clinic's beat" (b"beatlock").
ADVISORY_LOCK_KEY = int.from_bytes(b"beatlock", "big") >> 1
LOST_LOCK_EXIT_STATUS = 3


class BeatLock(Protocol):
    def try_acquire(self) -> bool: ...

    def still_held(self) -> bool: ...


class PostgresBeatLock:
    """A session advisory lock, on a connection that lives as long as the lock is wanted."""

    def __init__(self, database: dict) -> None:
        import psycopg

        self.connection = psycopg.connect(
            dbname=database["NAME"],
            user=database.get("USER") or None,
            password=database.get("PASSWORD") or None,
            host=database.get("HOST") or None,
            port=database.get("PORT") or None,
            autocommit=True,
            application_name="clinic beat lock",
            connect_timeout=10,
            # A dead server or network is noticed in about half a minute, not hours.
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
            tcp_user_timeout=30_000,
            options="-c statement_timeout=10000",
        )

    def try_acquire(self) -> bool:
        row = self.connection.execute(
            "SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY]
        ).fetchone()
        return bool(row and row[0])

    def still_held(self) -> bool:
        """True while this session holds the lock; False once the connection is gone."""
        try:
            row = self.connection.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND objid = (%s::bigint & 4294967295)::oid",
                [ADVISORY_LOCK_KEY],
            ).fetchone()
        except Exception:  # psycopg raises several kinds for a lost connection
            return False
        return bool(row and row[0])


class FileBeatLock:
    """An exclusive flock on a file; for one machine (the embedded default)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file: IO[str] = path.open("a")

    def try_acquire(self) -> bool:
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def still_held(self) -> bool:
        return True


def beat_lock_for(database: dict, var_dir: Path) -> BeatLock:
    """The lock that fits the configured database."""
    if database["ENGINE"] == "django.db.backends.postgresql":
        return PostgresBeatLock(database)
    return FileBeatLock(var_dir / "beat.lock")


def wait_for(lock: BeatLock, *, check_seconds: float) -> None:
    """Return once the lock is ours; log once that another beat holds it, then wait."""
    if lock.try_acquire():
        return
    logger.warning("Another beat holds the beat lock; waiting (checking every %ss).", check_seconds)
    while not lock.try_acquire():
        time.sleep(check_seconds)


def watch(lock: BeatLock, *, check_seconds: float) -> None:
    """Stop this process as soon as the lock may be lost; a thread of its own runs this."""
    while lock.still_held():
        time.sleep(check_seconds)
    logger.error("The beat lock was lost (database connection gone); stopping this beat.")
    logging.shutdown()
    os._exit(LOST_LOCK_EXIT_STATUS)


def main(argv: list[str]) -> int | None:
    import django
    from django.conf import settings

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings.local")
    django.setup()
    check_seconds = settings.CLINIC_BEAT_LOCK_CHECK_SECONDS
    lock = beat_lock_for(settings.DATABASES["default"], settings.VAR_DIR)
    wait_for(lock, check_seconds=check_seconds)
    logger.info("This process holds the beat lock; starting beat.")
    threading.Thread(
        target=watch, args=(lock,), kwargs={"check_seconds": check_seconds}, daemon=True
    ).start()

    from clinic.celery import app

    return app.start(["beat", *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
