"""Bad input gets a one-line error naming the problem, before any SQL runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.config import ConfigError
from checks.kinds import load_config
from checks.migrations import discover, version_key

ROOT = Path(__file__).resolve().parent.parent


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "invariants.toml"
    path.write_text(f'migrations_dir = "{ROOT / "db" / "migrations"}"\n' + text)
    return path


def test_default_config_loads():
    cfg = load_config(ROOT / "verify" / "invariants.toml")
    assert cfg.ledger.table == "schema_migrations"
    assert cfg.migrations_dir.resolve() == (ROOT / "db" / "migrations").resolve()


@pytest.mark.parametrize(("text", "message"), [
    ("[ledger]\ntabel = 'x'\n", "ledger: unknown key 'tabel'"),
    ("[ledger]\ntable = 'x\"; DROP TABLE y; --'\n", "is not a valid SQL identifier"),
    ("[settings]\nstatement_timeout = 'soon'\n", "not a positive duration"),
    ("[settings]\nsample_rows = 'many'\n", "expected an integer"),
    ("surprise = 1\n", "unknown key 'surprise'"),
    ("[ledger\n", "not valid TOML"),
])
def test_bad_config_is_one_line_error(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as info:
        load_config(_write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_an_entry_is_named_the_way_an_operator_finds_it_in_the_file(tmp_path):
    """tomllib gives no line numbers: the entry's section, its position counted from 1,
    and its name."""
    text = ('[[unique]]\nname = "a"\ntable = "t"\ncolumns = ["c"]\n'
            '[[unique]]\nname = "second"\ntable = "t"\n'
            '[[freshness]]\ntable = "beats"\ncolumn = "at"\nmax_age = "soon"\n')
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text))
    assert str(info.value) == ('invariants.toml: [[unique]] #2 (name = "second"): missing '
                               "required key 'columns'")
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text.replace('table = "t"\n[[freshness]]',
                                                  'table = "t"\ncolumns = ["c"]\n[[freshness]]')))
    assert str(info.value).startswith('invariants.toml: [[freshness]] #1 (table = "beats")')


def test_versions_order_numerically_not_as_text(tmp_path):
    for name in ("1001_y.sql", "009_x.sql", "2026_02_02_0001_z.sql", "10_a.sql"):
        (tmp_path / name).write_text("SELECT 1;")
    assert [f.version for f in discover(tmp_path)] == [
        "009_x", "10_a", "1001_y", "2026_02_02_0001_z"]
    assert version_key("2026_02_02_0001_position_telemetry") == (2026, 2, 2, 1)


def test_migration_without_numeric_version_is_an_error(tmp_path):
    (tmp_path / "init.sql").write_text("SELECT 1;")
    with pytest.raises(ConfigError, match="must start with a numeric version"):
        discover(tmp_path)


@pytest.mark.parametrize(("make", "problem"), [
    (lambda d: (d / "0005_unique_order_id.SQL").write_text("SELECT 1;"), "suffix is not .sql"),
    (lambda d: (d / "0006_link.sql").symlink_to(d / "gone.sql"), "not a readable file"),
    (lambda d: (d / "0007_folder.sql").mkdir(), "not a readable file"),
    (lambda d: ((d / "2026_03").mkdir(), (d / "2026_03" / "2026_03_05_0001_x.sql").write_text(
        "SELECT 1;")), "2026_03/ holds .sql files"),
], ids=["upper-case-suffix", "broken-symlink", "directory", "subfolder"])
def test_a_migration_file_that_would_be_left_out_is_an_error(tmp_path, make, problem):
    (tmp_path / "001_init.sql").write_text("SELECT 1;")
    make(tmp_path)
    with pytest.raises(ConfigError, match=problem):
        discover(tmp_path)


def test_cli_config_errors_exit_before_sql(verify, tmp_path):
    bad = _write(tmp_path, "[ledger]\ntabel = 'x'\n")
    run = verify("--config", str(bad), "--dsn", "host=/nonexistent dbname=x")
    assert run.returncode == 4
    assert "unknown key 'tabel'" in run.output


def test_cli_bad_dsn_is_named(verify):
    run = verify("--dsn", "postgresql://[broken")
    assert run.returncode == 4
    assert "bad DSN" in run.output


@pytest.mark.parametrize(("dsn", "password", "part"), [
    ("postgresql://ops_verify:Zq9/Kx7vLm2pR4tW@localhost:5432/db", "Zq9/Kx7vLm2pR4tW",
     "Kx7vLm2pR4tW"),
    ("postgresql://ops_verify:Zq9@Kx7vLm2pR4tW@localhost:5432/db", "Zq9@Kx7vLm2pR4tW",
     "Kx7vLm2pR4tW"),
], ids=["slash", "at"])
def test_a_url_password_with_a_raw_slash_or_at_is_a_usage_error(verify, dsn, password, part):
    """libpq would read part of it as the host or database: the wrong server, and the
    password printed as its name."""
    run = verify("--dsn", dsn)
    assert run.returncode == 4
    assert "its password holds '/' or '@' that is not URL-encoded" in run.output
    assert run.leaks(password) == [] and run.leaks(part) == []


@pytest.mark.parametrize(("dsn", "password", "part"), [
    ("postgresql://ops:S3cr%ZZet@db.internal/ops", "S3cr%ZZet", "S3cr"),  # '%' not encoded
    ("host=db.internal user=ops password=Hunter2 Secret dbname=ops", "Hunter2 Secret",
     "Secret"),  # libpq reads the password Hunter2, then chokes on Secret
], ids=["url", "key-value"])
def test_a_dsn_libpq_cannot_parse_never_shows_its_password(verify, dsn, password, part):
    run = verify("--dsn", dsn)
    assert run.returncode == 4
    assert "bad DSN" in run.output and "quoted text hidden" in run.output
    assert [p for p in run.reports_dir.iterdir() if p.is_file()]  # the usage error's reports
    assert run.leaks(password) == [] and run.leaks(part) == []


@pytest.mark.parametrize("text", [
    "SELECT 1", " select id FROM t WHERE a = 'x;y' ", "SELECT 1;",
    "WITH x AS (SELECT 1) SELECT *", "SELECT 1; SELECT 2", "SELECT 1;;", "-- a note\nSELECT 1",
    "SELECT 1 /* ; */", "/* c */ SELECT 1",
    "SELECT ';'", "DELETE FROM t", "selectx FROM t", "SELECT 1 -- ; DROP TABLE t", "",
    "UPDATE t SET a = 1", " insert INTO t VALUES (1);", "WITH d AS (DELETE FROM t RETURNING *) "
    "SELECT * FROM d", "DELETE FROM t; DELETE FROM u", "-- x\nUPDATE t SET a = 1", "SELECT 1",
    "updated", "COPY t FROM stdin", "UPDATE t SET a = ';'"])
def test_custom_sql_texts_read_without_parsing_are_judged_as_sqlparse_judges_them(text):
    """The shortcut for plain texts says what sqlparse says, for a query and a violation."""
    import sqlparse

    from checks.kinds import custom_sql

    stripped = sqlparse.format(text, strip_comments=True)
    select = bool(custom_sql._SELECT.match(stripped)) and len(sqlparse.split(stripped)) == 1
    written = [s for s in sqlparse.parse(stripped) if s.value.strip()]
    write = len(written) == 1 and written[0].get_type() in ("INSERT", "UPDATE", "DELETE")
    assert (custom_sql._one_select(text), custom_sql._one_write(text)) == (select, write)
