"""Backups that restore: `manage.py backup` and `manage.py restore` (clinic/backup.py).

A backup of this test database is restored by a separate `manage.py` process into a fresh
database (another database on PostgreSQL, another file on SQLite) and a fresh photo folder,
named by DATABASE_URL and CLINIC_PRIVATE_MEDIA_ROOT as an operator would; then every row of
every table and every photo file is compared with the original.
"""

import io
import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from PIL import Image

from clinic.backup import (
    BackupError,
    _write_checksums,
    backup_create,
    backup_restore,
    backups_complete,
)
from treatments.models import ClinicalPhoto, private_photo_storage
from treatments.services.photos import photo_add

from ..factories import LesionFactory, StaffMemberFactory

BASE_DIR = Path(django_settings.BASE_DIR)
POSTGRESQL = connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def folders(settings, tmp_path, monkeypatch):
    """This test's photos and backups in folders of its own (the photo fields built their
    storage when the model was loaded, so they get one made from the new setting)."""
    settings.CLINIC_PRIVATE_MEDIA_ROOT = tmp_path / "private-media"
    settings.CLINIC_BACKUP_DIR = tmp_path / "backups"
    for name in ("image", "thumbnail"):
        monkeypatch.setattr(ClinicalPhoto._meta.get_field(name), "storage", private_photo_storage())


def add_a_photo() -> ClinicalPhoto:
    """A real clinical photo, through the service that stores them."""
    lesion = LesionFactory()
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 150, 140)).save(buffer, "JPEG")
    return photo_add(
        patient=lesion.patient,
        lesion=lesion,
        uploaded_file=SimpleUploadedFile("lesion.jpg", buffer.getvalue(), "image/jpeg"),
        uploaded_by=StaffMemberFactory(role="dermatologist").user,
    )


# --- The fresh database a restore goes into -----------------------------------------


class Target:
    """A database and a photo folder that a `manage.py` process is pointed at."""

    def __init__(self, *, name: str, media: Path):
        self.name = name
        self.media = media

    @property
    def url(self) -> str:
        if not POSTGRESQL:
            return f"sqlite:///{self.name}"
        database = connection.settings_dict
        password = f":{quote(database['PASSWORD'], safe='')}" if database["PASSWORD"] else ""
        host = f"{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
        return f"postgres://{quote(database['USER'], safe='')}{password}@{host}/{self.name}"

    def manage(self, *arguments: str) -> subprocess.CompletedProcess:
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "clinic.settings.test",
            "DATABASE_URL": self.url,
            "CLINIC_PRIVATE_MEDIA_ROOT": str(self.media),
            "CLINIC_BACKUP_DIR": str(django_settings.CLINIC_BACKUP_DIR),
        }
        return subprocess.run(
            [sys.executable, str(BASE_DIR / "manage.py"), *arguments],
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def tables(self) -> dict[str, Counter]:
        return database_rows(self.name)


def database_rows(name: str) -> dict[str, Counter]:
    """Every table of a database, each as the multiset of its rows (read through the
    driver, the same way for both sides); on PostgreSQL each sequence's position too."""
    if POSTGRESQL:
        params = {**connection.get_connection_params(), "dbname": name}
        with psycopg.connect(**params) as raw:
            tables = [
                row[0]
                for row in raw.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                )
            ]
            rows = {table: raw.execute(f'SELECT * FROM "{table}"').fetchall() for table in tables}
            rows["sequences"] = raw.execute(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
            ).fetchall()
    else:
        raw = sqlite3.connect(name)
        try:
            tables = [
                row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            rows = {table: raw.execute(f'SELECT * FROM "{table}"').fetchall() for table in tables}
        finally:
            raw.close()
    return {table: Counter(map(repr, table_rows)) for table, table_rows in rows.items()}


def files_in(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file()
    }


@pytest.fixture
def fresh_target(tmp_path) -> Iterator[Target]:
    """An empty database that is not the test database, and an empty photo folder."""
    media = tmp_path / "restored-media"
    if not POSTGRESQL:
        yield Target(name=str(tmp_path / "restored.sqlite3"), media=media)
        return
    name = f"{connection.settings_dict['NAME']}_restored"
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    yield Target(name=name, media=media)
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def back_up_this_database() -> Path:
    """`manage.py backup` as a process of its own, on the test database."""
    target = Target(name=str(connection.settings_dict["NAME"]), media=photos_folder())
    finished = target.manage("backup")
    assert finished.returncode == 0, finished.stderr
    (backup,) = backups_complete()
    return backup


def photos_folder() -> Path:
    return Path(django_settings.CLINIC_PRIVATE_MEDIA_ROOT)


# --- The tests ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_backup_of_the_demo_clinic_restores_every_row_and_every_photo(fresh_target):
    call_command("seed_demo", stdout=io.StringIO())
    photo = add_a_photo()
    backup = back_up_this_database()

    restored = fresh_target.manage("restore", str(backup))

    assert restored.returncode == 0, restored.stderr
    original = database_rows(str(connection.settings_dict["NAME"]))
    assert fresh_target.tables() == original
    every_model_table = {
        model._meta.db_table for model in apps.get_models(include_auto_created=True)
    }
    assert every_model_table <= set(original)  # ... so every model's rows were compared
    assert sum(original["patients_patient"].values()) >= 50
    assert sum(original["treatments_clinicalphoto"].values()) == 1
    photos = files_in(photos_folder())
    assert {photo.image.name, photo.thumbnail.name} <= set(photos)
    assert files_in(fresh_target.media) == photos
    assert backup.stat().st_mode & 0o077 == 0  # health data: for the clinic's account only


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_restore_refuses_a_database_that_holds_data_unless_forced(fresh_target):
    add_a_photo()
    backup = back_up_this_database()
    assert fresh_target.manage("restore", str(backup)).returncode == 0
    restored_once = fresh_target.tables()

    refused = fresh_target.manage("restore", str(backup))

    assert refused.returncode != 0
    assert "already holds staff accounts or patients" in refused.stderr
    assert "--force" in refused.stderr
    forced = fresh_target.manage("restore", "--force", str(backup))
    assert forced.returncode == 0, forced.stderr
    assert fresh_target.tables() == restored_once
    assert files_in(fresh_target.media) == files_in(photos_folder())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_restore_refuses_a_photo_folder_that_holds_files(fresh_target):
    backup = back_up_this_database()
    fresh_target.media.mkdir()
    (fresh_target.media / "photo-of-another-clinic.jpg").write_bytes(b"not ours")

    refused = fresh_target.manage("restore", str(backup))

    assert refused.returncode != 0
    assert "already holds files" in refused.stderr
    assert files_in(fresh_target.media) == {"photo-of-another-clinic.jpg": b"not ours"}


@pytest.mark.parametrize("damaged", ["the database dump", "a photo"])
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_backup_with_one_byte_changed_is_refused_and_nothing_is_restored(fresh_target, damaged):
    photo = add_a_photo()
    backup = back_up_this_database()
    manifest = json.loads((backup / "manifest.json").read_text())
    if damaged == "a photo":
        tampered = backup / "files" / "private-media" / photo.image.name
    else:
        tampered = backup / manifest["database"]["file"]
    content = bytearray(tampered.read_bytes())
    content[len(content) // 2] ^= 0x01
    tampered.write_bytes(bytes(content))

    refused = fresh_target.manage("restore", "--force", str(backup))

    assert refused.returncode != 0
    assert f"{tampered} does not match its SHA-256 checksum" in refused.stderr
    assert "Nothing was restored" in refused.stderr
    assert not fresh_target.media.exists()
    assert fresh_target.tables() in ({}, {"sequences": Counter()})  # not a table was made


@pytest.mark.django_db
def test_a_backup_cut_short_leaves_no_folder_that_looks_complete(monkeypatch):
    def disk_full(folder):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("clinic.backup._write_checksums", disk_full)

    with pytest.raises(OSError, match="No space left"):
        backup_create()

    assert list(Path(django_settings.CLINIC_BACKUP_DIR).iterdir()) == []
    assert backups_complete() == []


@pytest.mark.django_db
def test_only_the_newest_backups_are_kept(settings):
    settings.CLINIC_BACKUP_KEEP = 2
    first = datetime(2027, 3, 14, 6, 0, tzinfo=UTC)

    made = [backup_create(now=first + timedelta(days=day)) for day in range(3)]

    assert [folder.name for folder in made] == [
        "20270314T060000Z",
        "20270315T060000Z",
        "20270316T060000Z",
    ]
    assert backups_complete() == made[1:]
    assert not made[0].exists()


@pytest.mark.django_db
def test_two_backups_in_one_second_get_two_folders():
    now = datetime(2027, 3, 14, 6, 0, tzinfo=UTC)

    made = [backup_create(now=now), backup_create(now=now)]

    assert [folder.name for folder in made] == ["20270314T060000Z", "20270314T060000Z-2"]
    assert backups_complete() == made


@pytest.mark.skipif(not POSTGRESQL, reason="pg_dump's version matters on PostgreSQL only")
@pytest.mark.django_db
def test_a_pg_dump_older_than_the_server_is_refused_by_name(settings, tmp_path):
    old_tools = tmp_path / "bin"
    old_tools.mkdir()
    pg_dump = old_tools / "pg_dump"
    pg_dump.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    pg_dump.chmod(0o755)
    settings.CLINIC_PG_BIN_DIR = str(old_tools)

    with pytest.raises(BackupError, match=r"pg_dump is version 9 and the server 1\d"):
        backup_create()

    assert backups_complete() == []


@pytest.mark.django_db
def test_a_backup_of_the_other_kind_of_database_is_refused():
    backup = backup_create()
    manifest = json.loads((backup / "manifest.json").read_text())
    other = "sqlite" if POSTGRESQL else "postgresql"
    manifest["database"]["vendor"] = other
    (backup / "manifest.json").write_text(json.dumps(manifest))
    _write_checksums(backup)  # as if it had been made so: every checksum holds

    with pytest.raises(BackupError, match=f"This is a backup of a {other} database"):
        backup_restore(folder=backup, force=True)


@pytest.mark.django_db
def test_a_file_slipped_into_a_backup_is_refused():
    backup = backup_create()
    (backup / "files" / "private-media" / "extra.jpg").write_bytes(b"\xff\xd8")

    with pytest.raises(BackupError, match=r"extra\.jpg is not listed in SHA256SUMS"):
        backup_restore(folder=backup, force=True)
