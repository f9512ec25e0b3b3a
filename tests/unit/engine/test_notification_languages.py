"""A notification written in several languages (SPEC 15): one outbox row per language the recipients read,
each rendered from that language's templates; a plain notification stays one row, as before."""

from __future__ import annotations

import pytest
from core_support import MONDAY_9, PACK, FakeLookups, person

from itsm.engine.runtime.compiled import CompiledVersion, compile_version
from itsm.engine.runtime.plan import Plan
from itsm.engine.runtime.rules import Context, Request, plan
from itsm.engine.runtime.snapshot import UserFacts
from itsm.interpreter import load_pack

HELLO = '''subject: "{{ ticket.number }} received"
body: "Hello {{ requester.name }}"'''
BILINGUAL = '''subject: {en: "{{ ticket.number }} received", zh-CN: "{{ ticket.number }} 已受理"}
body:
  en: "Hello {{ requester.name }}"
  zh-CN: "{{ requester.name }}，您好"'''


def created(context: Context) -> Plan:
    request = Request("create", person(context.compiled, "rita"), MONDAY_9, process="ticket",
                      values={"summary": "Printer jams"})
    made = plan(context, None, request, UserFacts("rita"))
    assert made is not None
    return made


@pytest.fixture(scope="module")
def bilingual(tmp_path_factory: pytest.TempPathFactory) -> CompiledVersion:
    folder = tmp_path_factory.mktemp("bilingual")
    assert HELLO in PACK
    (folder / "pack.yaml").write_text(PACK.replace(HELLO, BILINGUAL), encoding="utf-8")
    pack = load_pack(folder)
    return compile_version(pack.digest, pack)


def test_each_recipient_gets_the_notification_in_their_language(bilingual: CompiledVersion) -> None:
    lookups = FakeLookups()
    lookups.user_locales = {"rita": "zh-CN", "bob": "en-GB"}  # ann has none: the pack's language (en)
    made = created(Context(bilingual, lookups))
    rows = [(row["recipients"], row["subject"], row["body"]) for row in made.outbox if row["notification"] == "hello"]
    assert rows == [(["user:rita"], "T0000001 已受理", "rita，您好"),
                    (["user:ann", "user:bob"], "T0000001 received", "Hello rita")]  # the team, member by member


def test_a_notification_in_one_language_is_one_row_for_everybody(context: Context, lookups: FakeLookups) -> None:
    lookups.user_locales = {"rita": "zh-CN"}
    made = created(context)
    assert [(row["recipients"], row["subject"]) for row in made.outbox] == [
        (["user:rita", "team:desk"], "T0000001 received")]  # the team resolved at delivery, as ever


def test_readers_of_one_text_share_a_row(bilingual: CompiledVersion) -> None:
    lookups = FakeLookups()
    lookups.user_locales = {"rita": "fr", "ann": "de"}  # neither written: both read the pack's English
    made = created(Context(bilingual, lookups))
    assert [row["recipients"] for row in made.outbox] == [["user:rita", "user:ann", "user:bob"]]
