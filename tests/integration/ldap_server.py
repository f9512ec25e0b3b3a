"""A private OpenLDAP directory for the sign-in tests: Debian's `slapd` on 127.0.0.1 and a free port.

`start_directory(folder, people)` writes a slapd.conf (core, cosine, inetOrgPerson schemas; an mdb database;
passwords readable by nobody, as a real directory keeps them), loads the entries with `slapadd`, makes a CA
and a server certificate for 127.0.0.1 (StartTLS), and starts slapd in the foreground as a child process.
The system slapd that Debian's package may have started (port 389) is never touched.

In CI (`ITSM_LDAP_TESTS=1`, set by .ci/run) a missing slapd fails the tests, elsewhere it skips them: the same
rule as PostgreSQL and Chromium.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ldap3 import MODIFY_REPLACE, Connection, Server

SLAPD = os.environ.get("ITSM_SLAPD", "/usr/sbin/slapd")
SLAPADD = os.environ.get("ITSM_SLAPADD", "/usr/sbin/slapadd")
SCHEMAS = Path("/etc/ldap/schema")
MODULES = Path("/usr/lib/ldap")
BASE = "dc=example,dc=gov"
ADMIN_DN, ADMIN_PASSWORD = f"cn=admin,{BASE}", "directory-admin-secret"
SERVICE_DN, SERVICE_PASSWORD = f"cn=itsm,ou=services,{BASE}", "service-secret"


def required() -> bool:
    return os.environ.get("ITSM_LDAP_TESTS") == "1"


def require_slapd() -> None:
    """Fail in CI, skip elsewhere, when Debian's slapd is not installed."""
    missing = [tool for tool in (SLAPD, SLAPADD) if not Path(tool).exists()] + \
        [str(SCHEMAS / "inetorgperson.schema")] * (not (SCHEMAS / "inetorgperson.schema").exists())
    if missing:
        message = f"OpenLDAP missing ({', '.join(missing)}): apt-get install -y slapd ldap-utils"
        if required():
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class Person:
    uid: str
    password: str
    cn: str
    parent: str = f"ou=people,{BASE}"
    attributes: Mapping[str, str | list[str]] = field(default_factory=dict)

    @property
    def dn(self) -> str:
        return f"uid={self.uid},{self.parent}"


@dataclass
class Directory:
    url: str  # ldap://127.0.0.1:PORT
    ca_file: Path  # the CA that signed the server's certificate (for 127.0.0.1)
    process: subprocess.Popen[bytes]

    def admin(self) -> Connection:
        return Connection(Server(self.url), ADMIN_DN, ADMIN_PASSWORD, auto_bind=True)

    def replace(self, dn: str, **values: str | list[str]) -> None:
        """Set attributes of an entry, as a directory administrator would."""
        with self.admin() as connection:
            assert connection.modify(dn, {name: [(MODIFY_REPLACE, value if isinstance(value, list) else [value])]
                                          for name, value in values.items()}), connection.result

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _value(name: str, value: str) -> str:
    """An LDIF line; values that are not plain ASCII in base64, as LDIF wants (RFC 2849)."""
    if value.isascii() and value.isprintable() and not value.startswith((" ", ":", "<")):
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode()).decode()}"


def _entry(dn: str, attributes: Iterable[tuple[str, str]]) -> str:
    return "\n".join([_value("dn", dn), *(_value(name, value) for name, value in attributes)]) + "\n"


def _units(people: Iterable[Person]) -> list[str]:
    """The organizational units above the people, parents first."""
    units: list[str] = []
    for person in people:
        parts = person.parent.split(",")
        for index in range(len(parts) - 1, -1, -1):
            dn = ",".join(parts[index:])
            if dn.startswith("ou=") and dn not in units:
                units.append(dn)
    return units


def ldif(people: Iterable[Person]) -> str:
    people = list(people)
    entries = [_entry(BASE, [("objectClass", "dcObject"), ("objectClass", "organization"), ("o", "Example"),
                             ("dc", "example")])]
    for unit in dict.fromkeys([f"ou=people,{BASE}", f"ou=services,{BASE}", *_units(people)]):
        name = unit.split(",")[0].removeprefix("ou=")
        entries.append(_entry(unit, [("objectClass", "organizationalUnit"), ("ou", name)]))
    entries.append(_entry(SERVICE_DN, [("objectClass", "organizationalRole"), ("objectClass", "simpleSecurityObject"),
                                       ("cn", "itsm"), ("userPassword", SERVICE_PASSWORD)]))
    for person in people:
        attributes = [("objectClass", "inetOrgPerson"), ("uid", person.uid), ("cn", person.cn),
                      ("sn", person.cn[:1]), ("userPassword", person.password)]
        for name, value in person.attributes.items():
            attributes += [(name, item) for item in (value if isinstance(value, list) else [value])]
        entries.append(_entry(person.dn, attributes))
    return "\n".join(entries)


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for 127.0.0.1 signed by it (ECDSA P-256, a day long)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ITSM test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def start_directory(folder: Path, people: Iterable[Person]) -> Directory:
    require_slapd()
    data = folder / "data"
    data.mkdir(parents=True)
    ca, cert, key = _certificates(folder)
    config = folder / "slapd.conf"
    config.write_text("\n".join([
        *(f"include {SCHEMAS / name}.schema" for name in ("core", "cosine", "inetorgperson")),
        f"pidfile {folder / 'slapd.pid'}",
        f"modulepath {MODULES}", "moduleload back_mdb",
        f"TLSCACertificateFile {ca}", f"TLSCertificateFile {cert}", f"TLSCertificateKeyFile {key}",
        "access to attrs=userPassword by anonymous auth by * none",
        "access to * by * read",
        "database mdb", "maxsize 16777216", f'suffix "{BASE}"', f'rootdn "{ADMIN_DN}"', f"rootpw {ADMIN_PASSWORD}",
        f"directory {data}", "",
    ]))
    (folder / "directory.ldif").write_text(ldif(people), encoding="utf-8")
    subprocess.run([SLAPADD, "-q", "-f", str(config), "-l", str(folder / "directory.ldif")], check=True,
                   capture_output=True)
    port = free_port()
    url = f"ldap://127.0.0.1:{port}"
    log = (folder / "slapd.log").open("wb")
    # -d 0: stay in the foreground (a child the tests can stop) without debug output
    process = subprocess.Popen([SLAPD, "-f", str(config), "-h", f"{url}/", "-d", "0"], stdout=log, stderr=log)
    directory = Directory(url, ca, process)
    deadline = time.monotonic() + 60
    while True:
        try:
            with directory.admin():
                return directory
        except Exception:
            if process.poll() is not None or time.monotonic() > deadline:
                directory.stop()
                raise RuntimeError(f"slapd did not start: {(folder / 'slapd.log').read_text()[-2000:]}") from None
            time.sleep(0.1)
