"""Runtime commands: the embedded database is created on first use; publish, users and tokens."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from itsm.cli import main
from itsm.store import ApiToken, Database, orgs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'itsm.db'}"
    monkeypatch.setenv("ITSM_DATABASE_URL", url)
    return url


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_publish_user_token_and_rollback(cli_db: str) -> None:
    code, out = run("publish", str(ROOT / "definitions"))
    assert code == 0 and out.startswith("published version ")
    assert Database(cli_db).has_tables()  # the new embedded file got its schema
    version = out.split()[2]
    assert run("publish", str(ROOT / "definitions"))[1].startswith(f"version {version} is already active\n")
    code, out = run("user", "add", "rita", "--password", "pw", "--vip", "--org", "acme")
    assert code == 1 and "no organization 'acme'" in out  # organizations are records (SPEC 14)
    assert run("user", "add", "rita", "--password", "pw", "--vip")[0] == 0
    code, out = run("user", "add", "rita")
    assert code == 1 and "exists already" in out
    code, token = run("token", "create", "rita")
    assert code == 0 and token.startswith("itsm_")
    with Database(cli_db).read() as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
    assert stored == [hashlib.sha256(token.strip().encode()).hexdigest()]  # only the hash is kept
    code, out = run("publish", str(ROOT / "tests" / "packs" / "valid" / "minimal"))
    minimal = out.split()[-1]
    assert code == 0 and run("publish", str(ROOT / "definitions"))[1].startswith("published version ")
    assert run("rollback", "zzzz")[0] == 1
    code, out = run("rollback", minimal[:8])
    assert (code, out) == (0, f"rolled back to version {minimal}\n")


def test_publishing_warns_about_an_org_scope_naming_no_organization(cli_db: str) -> None:
    """Organizations are records, not pack documents: a team scoped to one the database lacks publishes
    (the pack is valid) with a warning line at the `org_scope`, which goes once the organization exists."""
    result = CliRunner().invoke(main, ["publish", str(ROOT / "examples" / "gov-desk")])
    assert result.exit_code == 0 and result.stdout.startswith("published version ")
    about_orgs = [line for line in result.stderr.splitlines() if ": org_scope: " in line]  # users: their own test
    assert about_orgs == ["teams/service_desk.yaml:72:12: warning: team/hangzhou_desk: org_scope: no organization "
                          "'hangzhou' in the database: the team sees and is routed no ticket until it exists "
                          "(itsm org import)"]
    with Database(cli_db).write() as session:
        orgs.add(session, "zhejiang", "浙江省")
        orgs.add(session, "hangzhou", "杭州市", parent="zhejiang")
    again = CliRunner().invoke(main, ["publish", str(ROOT / "examples" / "gov-desk")])
    assert again.exit_code == 0 and ": org_scope: " not in again.stderr and "is already active" in again.stdout


def test_publishing_warns_about_each_user_the_pack_names_who_does_not_exist(cli_db: str) -> None:
    """SPEC 4: not an error; one `warning:` line per place, at the name, until the user is created."""
    result = CliRunner().invoke(main, ["publish", str(ROOT / "tests" / "packs" / "valid" / "overlay_base")])
    assert result.exit_code == 0 and result.stdout.startswith("published version ")
    assert result.stderr.splitlines() == [
        "pack.yaml:73:18: warning: team/desk: members[0].user: no user 'lars' in the database: nothing is assigned "
        "to them until the user is created (itsm user add, itsm user import)",
        "pack.yaml:79:18: warning: team/network: members[0].user: no user 'nils' in the database: nothing is "
        "assigned to them until the user is created (itsm user add, itsm user import)"]
    assert run("user", "add", "lars")[0] == 0 and run("user", "add", "nils")[0] == 0
    again = CliRunner().invoke(main, ["publish", str(ROOT / "tests" / "packs" / "valid" / "overlay_base")])
    assert again.exit_code == 0 and again.stderr == "" and "is already active" in again.stdout


def test_publishing_an_invalid_pack_exits_1_and_keeps_serving(cli_db: str) -> None:
    run("publish", str(ROOT / "definitions"))
    code, out = run("publish", str(ROOT / "tests" / "packs" / "invalid" / "unknown_state_in_transition"))
    assert code == 1 and "unknown state" in out and "not published" in out


def test_db_upgrade(cli_db: str) -> None:
    code, out = run("db", "upgrade")
    assert code == 0 and "is up to date" in out


@pytest.mark.parametrize(("url", "expected"), [
    ("notaurl", "error: the database URL (notaurl:...) is not one SQLAlchemy can use: "),
    ("bogus://x", "error: the database URL (bogus:...) is not one SQLAlchemy can use: "),
    ("postgresql+psycopg://itsm:secret@127.0.0.1:1/itsm",
     "error: database postgresql+psycopg://itsm:***@127.0.0.1:1/itsm: connection failed: "),
    ("sqlite:////nonexistent/folder/itsm.db", "error: database sqlite:////nonexistent/folder/itsm.db: "
                                              "unable to open database file"),
])
@pytest.mark.parametrize("command", [["publish", str(ROOT / "definitions")], ["db", "upgrade"],
                                     ["worker", "--once"], ["user", "add", "rita"]])
def test_a_database_that_cannot_be_used_is_one_line_not_a_traceback(
        url: str, expected: str, command: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_DATABASE_URL", url)
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), result.output
    assert "secret" not in result.output


def test_stranded_tickets_are_listed_per_state_in_words(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from itsm.engine import Engine, system_actor

    monkeypatch.setenv("ITSM_DATABASE_URL", db_url)
    assert run("publish", str(ROOT / "definitions"))[0] == 0
    engine = Engine(Database(db_url))
    engine.create(system_actor(), "incident", {"short_description": "Printer jam", "category": "hardware",
                                                "impact": "low", "urgency": "low"})
    code, out = run("publish", str(ROOT / "tests" / "packs" / "valid" / "minimal"))
    assert code == 1
    assert out.splitlines() == [
        "error: publishing would strand open tickets in states the new version lacks (add them back, or map "
        "them in renamed_states): incident (process removed): new: 1 open ticket"]


def test_user_names_that_cannot_work_are_refused(cli_db: str) -> None:
    for name, message in (("", "error: user name '' is empty or starts or ends with a space"),
                          (" rita", "error: user name ' rita' is empty or starts or ends with a space"),
                          ("system", "error: 'system' is the built-in actor that holds every role: "
                                     "choose another user name")):
        assert run("user", "add", name) == (1, message + "\n")
    assert run("token", "create", "system") == (1, "error: no user 'system'\n")
