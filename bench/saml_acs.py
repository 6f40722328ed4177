"""Validated SAML responses per second on one core: our processor, the HTTP ACS, and the floor.

Prints ONE JSON line. Every response is a fresh, genuinely signed one (RSA-2048, SHA-256, exclusive
c14n, signed assertion — the shape Okta sends, about 5–6 KB): the unsigned fixture
``response_unsigned.xml`` gets a new assertion ID and is signed with the fixture IdP key by signxml
before timing starts, so the replay cache never refuses one.

- ``processor``: ``ResponseProcessor.run()`` (all checks, an in-memory one-time store);
- ``acs_http``: Django's test client POSTing to ``/saml/<id>/acs`` in process, on SQLite in a
  temporary directory: the processor, the database replay cache, matching the account, the sign-in
  (session, audit event) — everything but the network;
- ``floor``: lxml parse + exclusive c14n of the assertion + SHA-256 + RSA-2048 verify, nothing else.

- ``python3_saml``: python3-saml 1.16's ``is_valid`` (strict) on the same responses at the same
  moment, in its own virtualenv (``bench/.venv-python3-saml``, made on first run with
  ``pip install python3-saml==1.16.0``): its xmlsec wheel must match the libxml2 of the lxml beside
  it, so it never shares orgwarden's environment. ``BENCH_PYTHON3_SAML=0`` skips it.

Usage: ``python bench/saml_acs.py`` (``BENCH_N`` responses per measurement, default 500).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

N = int(os.environ.get("BENCH_N", "500"))
os.environ.setdefault("ORGWARDEN_DATA_DIR", tempfile.mkdtemp(prefix="bench-saml-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orgwarden.test_settings")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import django  # noqa: E402

django.setup()

from lxml import etree  # noqa: E402
from signxml import CanonicalizationMethod, SignatureMethod, XMLSigner  # noqa: E402

from orgwarden.sso.processors.response import ResponseProcessor  # noqa: E402
from orgwarden.sso.tests.fixtures import generate as fx  # noqa: E402
from orgwarden.sso.tests.test_processor import SETTINGS  # noqa: E402

FIXTURES = Path(fx.__file__).parent
KEY = (FIXTURES / "idp_key.pem").read_text()
CERT = (FIXTURES / "idp_cert.pem").read_text()
SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"


def signed_responses(n: int, *, sp_entity_id: str, acs_url: str) -> list[str]:
    base = etree.fromstring((FIXTURES / "response_unsigned.xml").read_bytes())
    out = []
    for i in range(n):
        root = copy.deepcopy(base)
        root.set("Destination", acs_url)
        assertion = root.find(f"{SAML}Assertion")
        assertion.set("ID", f"_bench{i:08d}")
        assertion.find(f".//{SAML}SubjectConfirmationData").set("Recipient", acs_url)
        assertion.find(f".//{SAML}Audience").text = sp_entity_id
        # signxml puts the signature where this placeholder is: right after the Issuer, where SAML's
        # schema wants it and real IdPs put it (python3-saml validates the schema).
        placeholder = etree.Element("{http://www.w3.org/2000/09/xmldsig#}Signature", Id="placeholder")
        assertion.insert(1, placeholder)
        signed = XMLSigner(
            signature_algorithm=SignatureMethod.RSA_SHA256,
            c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
        ).sign(assertion, key=KEY, cert=CERT, reference_uri=assertion.get("ID"))
        # Spliced in as text: moving the element into the Response would let lxml rename the ds
        # prefix to the Response's own, which changes the canonical SignedInfo (as it should).
        root.replace(assertion, etree.Element("PLACEHOLDER"))
        document = etree.tostring(root).replace(b"<PLACEHOLDER/>", etree.tostring(signed))
        out.append(base64.b64encode(document).decode())
    return out


class AlwaysNew:
    def request_consume(self, request_id, now):
        return None

    def assertion_remember(self, assertion_id, expires_at):
        return True


def measure(fn, items) -> dict:
    laps = []
    start = time.perf_counter()
    for item in items:
        t = time.perf_counter()
        fn(item)
        laps.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    laps.sort()
    return {
        "per_second": round(len(items) / total, 1),
        "p50_ms": round(statistics.median(laps) * 1000, 3),
        "p99_ms": round(laps[int(len(laps) * 0.99) - 1] * 1000, 3),
    }


def floor(b64: str) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    root = etree.fromstring(base64.b64decode(b64))
    signature = root.find(".//{http://www.w3.org/2000/09/xmldsig#}Signature")
    signed_info = signature.find("{http://www.w3.org/2000/09/xmldsig#}SignedInfo")
    c14n = etree.tostring(signed_info, method="c14n", exclusive=True)
    assertion = signature.getparent()
    assertion.remove(signature)
    hashlib.sha256(etree.tostring(assertion, method="c14n", exclusive=True)).digest()
    value = base64.b64decode(signature.findtext("{http://www.w3.org/2000/09/xmldsig#}SignatureValue"))
    FLOOR_KEY.verify(value, c14n, padding.PKCS1v15(), hashes.SHA256())


def main() -> None:
    from cryptography import x509

    global FLOOR_KEY
    FLOOR_KEY = x509.load_pem_x509_certificate(CERT.encode()).public_key()
    now = fx.FIXTURE_NOW + dt.timedelta(seconds=30)
    responses = signed_responses(N, sp_entity_id=SETTINGS.sp_entity_id, acs_url=SETTINGS.acs_url)
    size = len(base64.b64decode(responses[0]))
    settings = SETTINGS
    result = {"operation": "saml_acs", "n": N, "response_bytes": size, "database": "sqlite"}
    result["processor"] = measure(
        lambda r: ResponseProcessor(settings=settings, saml_response=r, now=now, store=AlwaysNew()).run(),
        responses,
    )
    result["floor"] = measure(floor, responses)
    result["acs_http"] = acs_http(now)
    result["processor_vs_floor"] = round(result["processor"]["per_second"] / result["floor"]["per_second"], 3)
    if os.environ.get("BENCH_PYTHON3_SAML", "1") != "0":
        result["python3_saml"] = python3_saml(responses, now)
        if isinstance(result["python3_saml"], dict) and result["python3_saml"].get("valid") == len(responses):
            result["processor_vs_python3_saml"] = round(
                result["processor"]["per_second"] / result["python3_saml"]["per_second"], 2
            )
    print(json.dumps(result))


def python3_saml(responses: list[str], now) -> dict | str:
    """python3-saml's ``is_valid`` on the same responses, run in its own virtualenv."""
    import subprocess

    venv = Path(__file__).resolve().parent / ".venv-python3-saml"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        installed = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "python3-saml==1.16.0"],
            capture_output=True,
            text=True,
        )
        if installed.returncode:
            return f"python3-saml did not install: {installed.stderr.strip()[-300:]}"
    job = {
        "responses": responses,
        "sp_entity_id": SETTINGS.sp_entity_id,
        "acs_url": SETTINGS.acs_url,
        "idp_entity_id": SETTINGS.idp_entity_id,
        "cert": CERT,
        "now": now.timestamp(),
    }
    runner = Path(__file__).resolve().parent / "_python3_saml_runner.py"
    done = subprocess.run([str(python), str(runner)], input=json.dumps(job), capture_output=True, text=True)
    if done.returncode:
        return f"python3-saml run failed: {done.stderr.strip()[-300:]}"
    return json.loads(done.stdout)


def acs_http(now) -> dict:
    import time_machine
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from orgwarden.accounts.models import Account
    from orgwarden.orgs.models import Domain, OrgAdmin, Organization
    from orgwarden.sso import selectors, services

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    org = Organization.objects.create(name="Bench")
    admin = Account.objects.create(email="admin@bench.test", display_name="Admin")
    OrgAdmin.objects.create(org=org, account=admin)
    Account.objects.create(email=fx.EMAIL, display_name="Ada")
    domain = Domain.objects.create(
        org=org, name="example.com", token="t", status="verified", verified_at=timezone.now()
    )
    connection = services.idp_add(org=org, actor=admin, vendor="other", name="Bench IdP")
    services.idp_update(
        org=org,
        actor=admin,
        connection_id=connection.connection_id,
        idp_entity_id=SETTINGS.idp_entity_id,
        idp_sso_url="https://idp.example.test/sso",
    )
    with time_machine.travel(now, tick=False):
        services.idp_certificate_add(org=org, actor=admin, connection_id=connection.connection_id, pem=CERT)
    services.idp_domain_link(
        org=org, actor=admin, connection_id=connection.connection_id, domain_id=domain.domain_id
    )
    responses = signed_responses(
        N, sp_entity_id=selectors.sp_entity_id(connection), acs_url=selectors.acs_url(connection)
    )
    path = f"/saml/{connection.connection_id}/acs"

    def post(r: str) -> None:
        response = Client().post(path, {"SAMLResponse": r})
        assert response.status_code == 302, response.content[:300]

    with time_machine.travel(now, tick=True):
        return measure(post, responses)


if __name__ == "__main__":
    main()
