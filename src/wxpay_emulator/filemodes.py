"""Modes of the files that hold secrets: the data dir is 0700, every file in it that the emulator
writes 0600.

``emulator.db`` (and its ``-wal`` / ``-shm``) holds every private key, APIv3 key and API key;
``merchants/<mchid>/`` holds a merchant's ``apiclient_key.pem`` and ``merchant.json`` (``apiv3_key``,
``api_key``); ``tls/server.key`` is the HTTPS key. Files are created with their mode from the start
(``os.open(..., 0o600)``, never written first and narrowed after), and a data dir written by an older
version is narrowed at start. SQLite gives ``-wal`` and ``-shm`` the mode of the database file, so the
database is created empty with 0600 before SQLite opens it.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")
# The folders of the data dir the emulator writes (anything else in it belongs to the user).
OWN_FOLDERS = ("merchants", "tls")


def private_dir(path: Path) -> Path:
    """``path`` as a directory of mode 0700 (missing parents are made 0700 as well: ``mkdir(parents=True)``
    would give them the umask's mode)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def write_private(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path``, a file of mode 0600 from its creation on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # an existing file keeps its old mode through O_CREAT
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def sqlite_path(database_url: str) -> Path | None:
    """The database file of a SQLite URL (None for other databases and in-memory SQLite)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def prepare_data_dir(data_dir: Path, database_url: str) -> None:
    """Make the data dir 0700, create the SQLite file 0600 before SQLite does, and narrow the modes of
    what an older version left (database files, merchant material, TLS material)."""
    private_dir(data_dir)
    database = sqlite_path(database_url)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(database, os.O_RDWR | os.O_CREAT, FILE_MODE))
        for suffix in SQLITE_SUFFIXES:
            _narrow(Path(f"{database}{suffix}"), FILE_MODE)
    for name in OWN_FOLDERS:
        folder = data_dir / name
        if not folder.is_dir():
            continue
        _narrow(folder, DIR_MODE)
        for root, dirs, files in os.walk(folder):
            for d in dirs:
                _narrow(Path(root) / d, DIR_MODE)
            for f in files:
                _narrow(Path(root) / f, FILE_MODE)


def _narrow(path: Path, mode: int) -> None:
    try:
        if not path.is_symlink() and (path.stat().st_mode & 0o777) != mode:
            os.chmod(path, mode)
    except FileNotFoundError:
        pass
