"""Runs python3-saml's ``OneLogin_Saml2_Response.is_valid`` over responses read from stdin.

Executed by ``bench/saml_acs.py`` with the Python of a separate virtualenv (python3-saml's xmlsec
wheel must match the libxml2 of the lxml beside it, so it never shares orgwarden's environment).
Reads one JSON object: {"responses": [base64 …], "sp_entity_id", "acs_url", "idp_entity_id",
"cert", "now": unix seconds}; prints one JSON object with the timings. python3-saml reads the
clock through ``OneLogin_Saml2_Utils.now``, which is pinned to ``now`` so the fixture responses'
validity window holds — the same moment our processor is given.
"""

import json
import statistics
import sys
import time

from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils


def main() -> None:
    job = json.load(sys.stdin)
    OneLogin_Saml2_Utils.now = staticmethod(lambda: int(job["now"]))
    settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "sp": {
                "entityId": job["sp_entity_id"],
                "assertionConsumerService": {"url": job["acs_url"]},
                "NameIDFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            },
            "idp": {
                "entityId": job["idp_entity_id"],
                "singleSignOnService": {"url": "https://idp.example.test/sso"},
                "x509cert": job["cert"],
            },
            "security": {"wantAssertionsSigned": True, "wantMessagesSigned": False},
        },
        sp_validation_only=True,
    )
    from urllib.parse import urlsplit

    acs = urlsplit(job["acs_url"])
    request = {
        "https": "on" if acs.scheme == "https" else "off",
        "http_host": acs.netloc,
        "script_name": acs.path,
    }
    laps, valid, errors = [], 0, set()
    start = time.perf_counter()
    for b64 in job["responses"]:
        t = time.perf_counter()
        response = OneLogin_Saml2_Response(settings, b64)
        ok = response.is_valid(request, raise_exceptions=False)
        laps.append(time.perf_counter() - t)
        valid += bool(ok)
        if not ok:
            errors.add(response.get_error())
    total = time.perf_counter() - start
    laps.sort()
    print(
        json.dumps(
            {
                "per_second": round(len(laps) / total, 1),
                "p50_ms": round(statistics.median(laps) * 1000, 3),
                "p99_ms": round(laps[int(len(laps) * 0.99) - 1] * 1000, 3),
                "valid": valid,
                "errors": sorted(errors)[:3],
            }
        )
    )


if __name__ == "__main__":
    main()
