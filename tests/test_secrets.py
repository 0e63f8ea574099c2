"""No secret in any output: a database password with spaces and special characters, given
each way the README allows (in the DSN, ``PGPASSWORD``, ``~/.pgpass``, Secrets Manager),
on a real failed login and a real successful one. The role logs in with scram-sha-256
(trust auth cannot fail a login); the password is searched for in every form it could be
printed in, in the console and every report file."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from checks.infra.cluster import Cluster, default_cache_dir

ROOT = Path(__file__).resolve().parents[1]
RIGHT = "Hunter2 Secret%/@:"
WRONG = "Wr0ng Guess%/@:"
WAYS = ("dsn", "dsn-url", "PGPASSWORD", "pgpass", "secrets-manager")


@pytest.fixture(scope="module")
def scram_role(cluster: Cluster) -> Iterator[str]:
    """A login role of the session's server whose password is RIGHT, checked with
    scram-sha-256 (the other roles keep trust); yields its name."""
    role = f"ops_secret_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE pg_read_all_data")
                     .format(sql.Identifier(role), sql.Literal(RIGHT)))
        stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                              (role,)).fetchone()[0]
        assert stored.startswith("SCRAM-SHA-256$")
    hba = cluster.data_dir / "pg_hba.conf"
    original = hba.read_text()
    hba.write_text(f"local all {role} scram-sha-256\n{original}")
    _reload_until(cluster, role, refused=True)
    yield role
    hba.write_text(original)
    _reload_until(cluster, role, refused=False)
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _reload_until(server: Cluster, role: str, *, refused: bool) -> None:
    """Reload the server's configuration, then wait until a connection of ``role`` without
    a password is refused (or accepted): the postmaster rereads pg_hba.conf on its own."""
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
    for _ in range(600):
        try:
            psycopg.connect(f"{server.conninfo()} user={role}").close()
            now_refused = False
        except psycopg.OperationalError as exc:
            assert "password" in str(exc), exc
            now_refused = True
        if now_refused == refused:
            return
        # not a guess of how long a reload takes: the next look at a condition
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            conn.execute("SELECT pg_sleep(0.05)")
    pytest.fail(f"pg_hba.conf was not reloaded (role {role} refused: {not refused})")


EVERY_AREA = ("recorded or drift_table_present or check_constraint_definition or "
              "no_duplicates or fresh")
"""One kind of each area whose checks read the database: where a refused login shows."""


def _run(way: str, password: str, role: str, database, verify, tmp_path: Path,
         aws, *select: str) -> object:
    """A read-only run as ``role`` with ``password`` given ``way``, as verbose as it gets
    (every check, unless ``select`` says)."""
    host = database.dsn.split("host=")[1].split()[0]
    plain = f"host={host} port=5432 dbname={database.name} user={role} sslmode=disable"
    env: dict[str, str] = {}
    if way == "dsn":
        args = ["--dsn", f"{plain} password='{password}'"]
    elif way == "dsn-url":
        args = ["--dsn", f"postgresql://{role}:{quote(password, safe='')}@/{database.name}"
                         f"?host={quote(host, safe='')}&port=5432&sslmode=disable"]
    elif way == "PGPASSWORD":
        args, env = ["--dsn", plain], {"PGPASSWORD": password}
    elif way == "pgpass":
        home = tmp_path / "home"
        home.mkdir()
        escaped = password.replace("\\", "\\\\").replace(":", "\\:")
        (home / ".pgpass").write_text(f"*:*:*:{role}:{escaped}\n")
        (home / ".pgpass").chmod(0o600)
        # the throwaway servers' cache stays where it is (a new HOME would start it cold)
        args, env = ["--dsn", plain], {"HOME": str(home),
                                       "VERIFY_PG_CACHE": str(default_cache_dir())}
    else:
        prefix = f"/ops-secret-{uuid.uuid4().hex[:6]}"
        ssm = aws.client("ssm")
        for name, value in (("db_host", host), ("db_port", "5432"),
                            ("db_name", database.name)):
            ssm.put_parameter(Name=f"{prefix}/{name}", Value=value, Type="String")
        aws.client("secretsmanager").create_secret(
            Name=f"{prefix[1:]}/db", SecretString=json.dumps({"username": role,
                                                             "password": password}))
        config = tmp_path / "vault.toml"
        shipped = ROOT / "verify" / "invariants.toml"  # its paths made absolute
        config.write_text(shipped.read_text().replace('"../', f'"{ROOT}/')
                          + f'\n[environments.vault]\nssm_prefix = "{prefix}"\n'
                          f'secret = "{prefix[1:]}/db"\naws_region = "us-west-2"\n')
        args, env = ["--env", "vault", "--config", str(config)], aws.env
    # the most an operator can ask to be shown: every check, pytest's own unredacted
    # per-item summary, long tracebacks with their local variables
    return verify(*args, "--read-only", "-v", "-rA", "--tb=long", "-l", *select, env=env)


@pytest.mark.parametrize("way", WAYS)
def test_a_wrong_password_fails_the_login_and_is_shown_nowhere(verify, database, aws_world,
                                                               scram_role, tmp_path, way):
    # each check errs alike (one long traceback with its locals each): every check once,
    # through the DSN; the other ways a check of each area
    select = () if way == "dsn" else ("-k", EVERY_AREA)
    run = _run(way, WRONG, scram_role, database, verify, tmp_path, aws_world, *select)
    assert run.returncode == 1, run.output
    assert set(run.target_checks().values()) == {"error"}
    assert len(run.target_checks()) > (100 if way == "dsn" else 5)
    assert f'password authentication failed for user "{scram_role}"' in run.message(
        "test_migration_recorded[001_init]")
    assert run.leaks(WRONG) == [] and run.leaks(RIGHT) == []


@pytest.mark.parametrize("way", WAYS)
def test_the_right_password_logs_in_and_is_shown_nowhere(verify, database, aws_world,
                                                         scram_role, tmp_path, way):
    run = _run(way, RIGHT, scram_role, database, verify, tmp_path, aws_world)
    assert run.returncode == 0, run.output
    assert run.summary["outcome"] == "passed"
    assert run.leaks(RIGHT) == []


@pytest.mark.parametrize("text, shown", [
    ("host=db PASSWORD=abc user=x", "host=db PASSWORD=*** user=x"),
    ("host=db pa\u017f\u017fword=abc", "host=db pa\u017f\u017fword=***"),  # what IGNORECASE takes
    ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
    ("https://push:token@gateway:9091", "https://push:***@gateway:9091"),
    ("a Hunter2 Secret%/@: b Hunter2%20Secret%25%2F%40%3A", "a *** b ***"),
    ("nothing to hide", "nothing to hide"),
])
def test_the_redactor_masks_each_form_and_leaves_other_text(text, shown):
    """Its shortcuts (a pattern only where "://" or the word password can be) take nothing
    the patterns would have masked."""
    from checks.redact import Redactor

    assert Redactor([RIGHT])(text) == shown
