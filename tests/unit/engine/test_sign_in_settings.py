"""Sign-in settings from the environment, and what the directory's and the provider's answers say about a
person (SPEC 14): pure, no server, no database."""

from __future__ import annotations

import pytest

from itsm.engine.errors import BadRequest
from itsm.engine.people.directory import DirectorySettings, _person, unescape_dn_value
from itsm.engine.people.identities import LDAP, OIDC, SettingsError
from itsm.engine.people.oidc import ProviderSettings, person_from_claims

TEMPLATE = "uid={name},ou=people,dc=example,dc=gov"


def test_no_directory_and_no_provider_unless_their_url_is_set() -> None:
    assert DirectorySettings.from_environment({}) is None
    assert DirectorySettings.from_environment({"ITSM_LDAP_BIND_DN": TEMPLATE, "ITSM_LDAP_URL": " "}) is None
    assert ProviderSettings.from_environment({"ITSM_OIDC_CLIENT_ID": "desk"}) is None


def test_directory_settings_with_their_defaults() -> None:
    settings = DirectorySettings.from_environment({"ITSM_LDAP_URL": "ldap://ldap.example.gov",
                                                   "ITSM_LDAP_BIND_DN": TEMPLATE})
    assert settings == DirectorySettings(url="ldap://ldap.example.gov", bind_dn=TEMPLATE)
    assert (settings.timeout, settings.start_tls, settings.verify_tls) == (5.0, False, True)
    assert settings.attributes() == ["uid", "mail", "displayName", "cn"]
    search = DirectorySettings.from_environment({
        "ITSM_LDAP_URL": "ldaps://ldap.example.gov:636", "ITSM_LDAP_SEARCH_BASE": "dc=example,dc=gov",
        "ITSM_LDAP_SEARCH_FILTER": "(&(objectClass=inetOrgPerson)(uid={name}))",
        "ITSM_LDAP_SERVICE_DN": "cn=itsm,dc=example,dc=gov", "ITSM_LDAP_SERVICE_PASSWORD": " spaces kept ",
        "ITSM_LDAP_FULL_NAME_ATTRIBUTES": "displayName, cn", "ITSM_LDAP_ORG_ATTRIBUTE": "departmentNumber",
        "ITSM_LDAP_TIMEOUT": "2.5", "ITSM_LDAP_TLS_VERIFY": "0"})
    assert search is not None and search.service_password == " spaces kept " and search.timeout == 2.5
    assert search.attributes() == ["uid", "mail", "displayName", "cn", "departmentNumber"]
    assert not search.verify_tls
    by_dn = DirectorySettings(url="ldap://x", bind_dn=TEMPLATE, org_attribute="dn:ou")
    assert "dn:ou" not in by_dn.attributes()  # read off the DN, not asked for


@pytest.mark.parametrize(("environment", "says"), [
    ({"ITSM_LDAP_URL": "ldap.example.gov", "ITSM_LDAP_BIND_DN": TEMPLATE}, "ITSM_LDAP_URL="),
    ({"ITSM_LDAP_URL": "ldap://x"}, "set one of ITSM_LDAP_BIND_DN"),
    ({"ITSM_LDAP_URL": "ldap://x", "ITSM_LDAP_BIND_DN": TEMPLATE, "ITSM_LDAP_SEARCH_BASE": "dc=x"}, "set one of"),
    ({"ITSM_LDAP_URL": "ldap://x", "ITSM_LDAP_BIND_DN": "uid=someone,dc=x"}, "has no {name}"),
    ({"ITSM_LDAP_URL": "ldap://x", "ITSM_LDAP_SEARCH_BASE": "dc=x", "ITSM_LDAP_SEARCH_FILTER": "uid={name}"},
     "ITSM_LDAP_SEARCH_FILTER="),
    ({"ITSM_LDAP_URL": "ldap://x", "ITSM_LDAP_BIND_DN": TEMPLATE, "ITSM_LDAP_TIMEOUT": "soon"}, "ITSM_LDAP_TIMEOUT="),
    ({"ITSM_LDAP_URL": "ldap://x", "ITSM_LDAP_BIND_DN": TEMPLATE, "ITSM_LDAP_TIMEOUT": "0"}, "ITSM_LDAP_TIMEOUT="),
    ({"ITSM_LDAP_URL": "ldap://x", "ITSM_LDAP_BIND_DN": TEMPLATE, "ITSM_LDAP_STARTTLS": "maybe"},
     "ITSM_LDAP_STARTTLS="),
    ({"ITSM_LDAP_URL": "ldaps://x", "ITSM_LDAP_BIND_DN": TEMPLATE, "ITSM_LDAP_STARTTLS": "1"}, "ldaps:// is TLS"),
])
def test_a_directory_setting_that_cannot_work_names_the_variable(environment: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError, match=says.replace("{", r"\{").replace("(", r"\(")):
        DirectorySettings.from_environment(environment)


def test_provider_settings_with_their_defaults_and_mistakes() -> None:
    settings = ProviderSettings.from_environment({"ITSM_OIDC_ISSUER": "https://sso.example.gov/realms/gov",
                                                  "ITSM_OIDC_CLIENT_ID": "itsm", "ITSM_OIDC_CLIENT_SECRET": "s3cret"})
    assert settings is not None
    assert settings.discovery_url == "https://sso.example.gov/realms/gov/.well-known/openid-configuration"
    assert (settings.scopes, settings.name_claim, settings.org_claim) == (("openid", "profile", "email"),
                                                                          "preferred_username", None)
    assert settings.display_name == "OpenID Connect" and settings.redirect_uri is None
    for environment, says in [
        ({"ITSM_OIDC_ISSUER": "https://sso.example.gov"}, "ITSM_OIDC_CLIENT_ID is missing"),
        ({"ITSM_OIDC_ISSUER": "sso.example.gov", "ITSM_OIDC_CLIENT_ID": "itsm"}, "issuer URL"),
        ({"ITSM_OIDC_ISSUER": "http://sso.example.gov", "ITSM_OIDC_CLIENT_ID": "itsm"}, "over https"),
        ({"ITSM_OIDC_ISSUER": "https://sso.example.gov", "ITSM_OIDC_CLIENT_ID": "itsm",
          "ITSM_OIDC_SCOPES": "profile email"}, "must include openid"),
        ({"ITSM_OIDC_ISSUER": "https://sso.example.gov", "ITSM_OIDC_CLIENT_ID": "itsm",
          "ITSM_OIDC_REDIRECT_URI": "/login/oidc/callback"}, "an absolute URL"),
    ]:
        with pytest.raises(SettingsError, match=says):
            ProviderSettings.from_environment(environment)
    for local in ("http://127.0.0.1:8080/realms/gov", "http://localhost:8080", "http://[::1]:8080"):
        assert ProviderSettings(issuer=local, client_id="itsm").issuer == local


def test_claims_make_the_person() -> None:
    settings = ProviderSettings(issuer="https://sso.example.gov", client_id="itsm", org_claim="groups")
    person = person_from_claims(settings, {
        "sub": "f81d4fae", "preferred_username": " wangfang ", "name": "王芳", "email": "wangfang@example.gov",
        "email_verified": True, "groups": ["/浙江省/杭州市/西湖区", "xihu-helpdesk"]})
    assert person.method == OIDC and person.subject == "f81d4fae" and person.name == "wangfang"
    assert (person.full_name, person.email) == ("王芳", "wangfang@example.gov")
    assert person.orgs == ("西湖区", "杭州市", "浙江省", "xihu-helpdesk")  # group paths read from their end
    unverified = person_from_claims(settings, {"sub": "x", "preferred_username": "a", "email": "a@example.gov",
                                               "email_verified": False, "name": 3})
    assert unverified.email is None and unverified.full_name is None and unverified.orgs == ()
    with pytest.raises(BadRequest, match="no 'sub' claim"):
        person_from_claims(settings, {"preferred_username": "a"})
    with pytest.raises(BadRequest, match="gave no 'preferred_username'"):
        person_from_claims(settings, {"sub": "x", "email": "a@example.gov"})
    by_mail = ProviderSettings(issuer="https://sso.example.gov", client_id="itsm", name_claim="email")
    assert person_from_claims(by_mail, {"sub": "x", "email": "a@example.gov"}).name == "a@example.gov"


def test_a_directory_entry_makes_the_person() -> None:
    settings = DirectorySettings(url="ldap://x", search_base="dc=gov", org_attribute="dn:ou")
    dn = r"uid=LiHua,ou=\E8\A5\BF\E6\B9\96\E5\8C\BA,ou=杭州市\, 主城区,ou=units,dc=gov"
    person = _person(settings, "lihua", dn, {"uid": ["LiHua"], "cn": ["李华", "Li Hua"], "mail": []})
    assert person.method == LDAP and person.name == "LiHua"  # the directory's spelling
    assert person.full_name == "李华" and person.email is None  # displayName missing: the first cn
    assert person.orgs == ("西湖区", "杭州市, 主城区", "units")
    by_attribute = DirectorySettings(url="ldap://x", search_base="dc=gov", org_attribute="departmentNumber")
    person = _person(by_attribute, "wangfang", "uid=wangfang,dc=gov",
                     {"uid": ["someone-else"], "displayname": ["王芳"], "departmentnumber": ["xihu"]})
    assert (person.name, person.full_name, person.orgs) == ("wangfang", "王芳", ("xihu",))


@pytest.mark.parametrize(("written", "meant"), [
    ("西湖区", "西湖区"), (r"\E8\A5\BF\E6\B9\96\E5\8C\BA", "西湖区"), (r"a\,b", "a,b"), (r"\#1", "#1"),
    (r"x\5Cy", "x\\y"), (r"  \20lead", "lead"),
])
def test_dn_values_as_people_wrote_them(written: str, meant: str) -> None:
    assert unescape_dn_value(written) == meant
