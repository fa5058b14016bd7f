"""Backups that restore: the database and the clinical photos, with a checksum for each file.

A backup is a folder, `<CLINIC_BACKUP_DIR>/<UTC time>/`, holding

    database.dump      PostgreSQL: pg_dump's custom format (read back with pg_restore)
    database.sqlite3   the embedded default: a copy made with SQLite's online backup API
    files/<root>/...   the clinical photos (CLINIC_PRIVATE_MEDIA_ROOT as `private-media`,
                       MEDIA_ROOT as `media` when one is set)
    manifest.json      what was backed up: the database vendor, when, the file roots
    SHA256SUMS         the SHA-256 of every file above, as `sha256sum -c SHA256SUMS` reads it

It is written into a `.partial-…` folder next to the others and renamed when complete, so
a backup that a crash or a full disk cut short never looks like one. Only the newest
CLINIC_BACKUP_KEEP backups are kept.

A restore checks every checksum before it touches anything, refuses a target database that
holds staff accounts or patients and a photo folder that holds files (unless forced), then
restores the database (in one transaction on PostgreSQL) and then the photos.
"""

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, connections

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
FILES = "files"
PARTIAL_PREFIX = ".partial-"
DUMP_NAMES = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}
# pg_dump and pg_restore: a dump of a clinic's size takes minutes; a hung server must not
# hold the nightly job for ever.
PG_TOOL_TIMEOUT_SECONDS = 3 * 3600
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class RestoreResult:
    database: str
    files: int


# --- Writing a backup ---------------------------------------------------------------


def backup_create(*, now: datetime | None = None) -> Path:
    """Write a complete backup under CLINIC_BACKUP_DIR and prune the oldest ones.

    Returns the backup's folder. Nothing but a `.partial-…` folder, removed on failure,
    exists until the backup is complete.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    root = Path(settings.CLINIC_BACKUP_DIR)
    # Health data: only the account that runs the clinic may open a backup.
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = root / f"{PARTIAL_PREFIX}{uuid.uuid4().hex}"
    partial.mkdir(mode=0o700)
    try:
        vendor = _dump_database(partial)
        roots = _copy_file_roots(partial / FILES)
        _write_json(
            partial / MANIFEST,
            {
                "format": FORMAT_VERSION,
                "created_at": now.isoformat(),
                "database": {"vendor": vendor, "file": DUMP_NAMES[vendor]},
                "file_roots": sorted(roots),
            },
        )
        _write_checksums(partial)
        final = _free_name(root, now.strftime("%Y%m%dT%H%M%SZ"))
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _fsync_folder(root)
    backups_prune(keep=settings.CLINIC_BACKUP_KEEP)
    return final


def backups_complete() -> list[Path]:
    """The complete backups under CLINIC_BACKUP_DIR, oldest first."""
    root = Path(settings.CLINIC_BACKUP_DIR)
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        if folder.name.startswith(".") or not (folder / CHECKSUMS).is_file():
            continue
        try:
            created_at = json.loads((folder / MANIFEST).read_text())["created_at"]
        except (OSError, ValueError, KeyError):
            continue  # not one of ours, or damaged: never pruned, never counted
        found.append((datetime.fromisoformat(created_at), folder.name, folder))
    return [folder for _, _, folder in sorted(found)]


def backups_prune(*, keep: int) -> list[Path]:
    """Delete all but the newest `keep` complete backups; returns the ones deleted."""
    doomed = backups_complete()[:-keep] if keep > 0 else []
    for folder in doomed:
        shutil.rmtree(folder)
    return doomed


def _dump_database(folder: Path) -> str:
    vendor = connection.vendor
    target = folder / DUMP_NAMES.get(vendor, "database")
    if vendor == "postgresql":
        _pg_tool_check("pg_dump")
        _run_pg_tool(
            "pg_dump",
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--file={target}",
        )
    elif vendor == "sqlite":
        source = sqlite3.connect(f"file:{_sqlite_path()}?mode=ro", uri=True)
        copy = sqlite3.connect(target)
        try:
            # A consistent copy while the clinic goes on writing (WAL readers never block),
            # then one self-contained file: no -wal or -shm beside it, in the backup or later.
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
            source.close()
    else:
        raise BackupError(f"Backups support PostgreSQL and SQLite, not {vendor}.")
    return vendor


def _file_roots() -> dict[str, Path]:
    roots = {"private-media": Path(settings.CLINIC_PRIVATE_MEDIA_ROOT)}
    if settings.MEDIA_ROOT:
        roots["media"] = Path(settings.MEDIA_ROOT)
    return roots


def _copy_file_roots(destination: Path) -> list[str]:
    destination.mkdir()
    for name, source in _file_roots().items():
        if source.is_dir():
            shutil.copytree(source, destination / name, symlinks=False)
        else:
            (destination / name).mkdir()
    return list(_file_roots())


def _write_json(path: Path, content: dict[str, Any]) -> None:
    path.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")


def _write_checksums(folder: Path) -> None:
    lines = [f"{_sha256(path)}  {name}\n" for name, path in _files_of(folder)]
    with open(folder / CHECKSUMS, "w") as checksums:
        checksums.writelines(lines)
        checksums.flush()
        os.fsync(checksums.fileno())


def _files_of(folder: Path) -> list[tuple[str, Path]]:
    """Every file of a backup but SHA256SUMS, as (path relative to the folder, path)."""
    return sorted(
        (path.relative_to(folder).as_posix(), path)
        for path in folder.rglob("*")
        if path.is_file() and path.relative_to(folder).as_posix() != CHECKSUMS
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
        # Checksums are taken last, so this also puts every file on disk before the rename.
        os.fsync(handle.fileno())
    return digest.hexdigest()


def _free_name(root: Path, name: str) -> Path:
    """`root/name`, or `root/name-2`, `-3` … when a backup of the same second exists."""
    candidate, number = root / name, 1
    while candidate.exists():
        number += 1
        candidate = root / f"{name}-{number}"
    return candidate


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# --- Restoring ------------------------------------------------------------------------


def backup_verify(folder: Path) -> dict[str, Any]:
    """Check every file of a backup against SHA256SUMS; returns its manifest.

    Raises BackupError naming the first file that is missing, changed or not listed.
    """
    checksums = folder / CHECKSUMS
    if not checksums.is_file():
        raise BackupError(f"{folder} is not a complete backup: it has no {CHECKSUMS}.")
    expected = {}
    for line in checksums.read_text().splitlines():
        match = re.fullmatch(r"([0-9a-f]{64})  (.+)", line)
        if not match:
            raise BackupError(f"{checksums} is damaged: cannot read the line {line!r}.")
        expected[match[2]] = match[1]
    present = dict(_files_of(folder))
    unlisted = sorted(set(present) - set(expected))
    if unlisted:
        raise BackupError(
            f"{folder / unlisted[0]} is not listed in {CHECKSUMS}. Nothing was restored."
        )
    for name, digest in sorted(expected.items()):
        if name not in present:
            raise BackupError(f"{folder / name} is missing. Nothing was restored.")
        if _sha256(present[name]) != digest:
            raise BackupError(
                f"{folder / name} does not match its SHA-256 checksum: the backup is "
                "damaged or was changed. Nothing was restored."
            )
    if MANIFEST not in expected:
        raise BackupError(f"{folder} has no {MANIFEST}. Nothing was restored.")
    manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text())
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"{folder} has a backup format this version cannot read.")
    return manifest


def backup_restore(*, folder: Path, force: bool = False) -> RestoreResult:
    """Restore a backup into the configured database and photo folders.

    Every checksum is verified first. Refused, with nothing written, when a checksum fails,
    when the backup is of another kind of database, or (unless `force`) when the database
    holds staff accounts or patients or a photo folder holds files. Then the database is
    restored (on PostgreSQL in one transaction, replacing the objects the dump holds; on
    SQLite the whole file) and then each photo folder is replaced.
    """
    manifest = backup_verify(folder)
    vendor = manifest["database"]["vendor"]
    if vendor != connection.vendor:
        raise BackupError(
            f"This is a backup of a {vendor} database; DATABASE_URL names a "
            f"{connection.vendor} one. Nothing was restored."
        )
    roots = {name: _file_roots().get(name) for name in manifest["file_roots"]}
    unplaced = sorted(name for name, target in roots.items() if target is None)
    if unplaced:
        raise BackupError(
            f"The backup holds {unplaced[0]} files, but no folder is set for them here "
            "(MEDIA_ROOT). Nothing was restored."
        )
    if not force:
        _refuse_unless_empty(roots)
    if vendor == "postgresql":
        _pg_tool_check("pg_restore")
    dump = folder / manifest["database"]["file"]
    connections.close_all()
    if vendor == "postgresql":
        _run_pg_tool(
            "pg_restore",
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            "--no-privileges",
            f"--dbname={settings.DATABASES['default']['NAME']}",
            str(dump),
        )
    else:
        _sqlite_restore(dump)
    restored = sum(
        _replace_folder(folder / FILES / name, target)
        for name, target in roots.items()
        if target is not None
    )
    return RestoreResult(database=str(settings.DATABASES["default"]["NAME"]), files=restored)


def _refuse_unless_empty(roots: dict[str, Path | None]) -> None:
    if _database_holds_data():
        raise BackupError(
            f"The database {settings.DATABASES['default']['NAME']} already holds staff "
            "accounts or patients. Restore into a new database, or pass --force to replace "
            "what it holds. Nothing was restored."
        )
    for target in roots.values():
        if target is not None and target.is_dir() and any(target.iterdir()):
            raise BackupError(
                f"The folder {target} already holds files. Restore into an empty folder, "
                "or pass --force to replace it. Nothing was restored."
            )


def _database_holds_data() -> bool:
    """Whether the target has a user or a patient: `migrate` writes neither, a clinic both.

    A database that does not exist yet, or has no tables, holds nothing.
    """
    from patients.models import Patient

    try:
        tables = set(connection.introspection.table_names())
    except DatabaseError as error:
        raise BackupError(f"Cannot reach the database to restore into: {error}") from None
    for model in (get_user_model(), Patient):
        table = model._meta.db_table
        if table in tables and model._base_manager.exists():
            return True
    return False


def _sqlite_path() -> Path:
    return Path(settings.DATABASES["default"]["NAME"])


def _sqlite_restore(dump: Path) -> None:
    """Copy the backup into the database file through SQLite, page by page, in one step:
    other connections see the old database or the new one, never half of each."""
    target = _sqlite_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
    destination = sqlite3.connect(target, timeout=20)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()


def _replace_folder(source: Path, target: Path) -> int:
    """Make `target` a copy of `source`: copied beside it first, then swapped in."""
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = target.with_name(f"{target.name}{PARTIAL_PREFIX}{uuid.uuid4().hex}")
    shutil.copytree(source, incoming)
    outgoing = target.with_name(f"{target.name}.replaced-{uuid.uuid4().hex}")
    if target.exists():
        target.rename(outgoing)
    incoming.rename(target)
    shutil.rmtree(outgoing, ignore_errors=True)
    return sum(1 for path in target.rglob("*") if path.is_file())


# --- PostgreSQL's client tools ------------------------------------------------------


def _pg_tool(name: str) -> str:
    folder = settings.CLINIC_PG_BIN_DIR
    return str(Path(folder) / name) if folder else name


def _pg_environment() -> dict[str, str]:
    """The connection of DATABASE_URL as libpq's variables: no password on a command line."""
    database = settings.DATABASES["default"]
    values = {
        "PGHOST": database.get("HOST"),
        "PGPORT": database.get("PORT"),
        "PGUSER": database.get("USER"),
        "PGPASSWORD": database.get("PASSWORD"),
        "PGDATABASE": database.get("NAME"),
        "PGSSLMODE": database.get("OPTIONS", {}).get("sslmode"),
    }
    return {**os.environ, **{key: str(value) for key, value in values.items() if value}}


def _pg_tool_check(name: str) -> None:
    """Refuse a pg_dump or pg_restore older than the server: it cannot read the server's
    catalogue (pg_dump) or may not know what a newer pg_dump wrote."""
    try:
        output = subprocess.run(
            [_pg_tool(name), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        raise BackupError(
            f"{name} was not found or does not run. Install PostgreSQL's client tools "
            "(Debian: postgresql-client) of the server's major version, or set "
            "CLINIC_PG_BIN_DIR to the folder that holds them."
        ) from None
    match = re.search(r"(\d+)(?:\.\d+)?", output)
    try:
        with connection.cursor():
            server_major = connection.pg_version // 10_000  # type: ignore[attr-defined]
    except DatabaseError as error:
        raise BackupError(f"Cannot reach the database: {error}") from None
    tool_major = int(match[1]) if match else 0
    if tool_major < server_major:
        raise BackupError(
            f"{name} is version {tool_major} and the server {server_major}: install the "
            f"client tools of version {server_major} (or newer) or set CLINIC_PG_BIN_DIR."
        )


def _run_pg_tool(name: str, *arguments: str) -> None:
    try:
        result = subprocess.run(
            [_pg_tool(name), *arguments],
            env=_pg_environment(),
            capture_output=True,
            text=True,
            timeout=PG_TOOL_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise BackupError(f"{name} did not finish in {PG_TOOL_TIMEOUT_SECONDS} s.") from None
    if result.returncode != 0:
        raise BackupError(f"{name} failed: {result.stderr.strip()}")
