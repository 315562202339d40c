"""podiam's SigV4 signer against botocore's own, on many generated requests.

Each case is generated from a fixed seed (PODIAM_SIGV4_SEED overrides it, PODIAM_SIGV4_CASES the
count): random keys, session tokens, regions of every partition, dates, hosts (with ports, IPv6,
upper case), paths, query strings, extra headers with messy whitespace, and form bodies with
unicode. podiam signs them through `podiam_sigv4_tool` (src/podiam/aws/sigv4_tool.cpp, found under
$PODIAM_BUILD_DIR, default build/), botocore 1.43.11 with `SigV4Auth` at the same fixed time; the
Authorization headers must match byte for byte, and podiam's STS form encoder must produce the
same body as botocore's RFC 3986 encoder (`percent_encode_sequence`).
"""

from __future__ import annotations

import datetime
import json
import os
import random
import string
import subprocess
from pathlib import Path
from unittest import mock

import pytest

from podiam_testenv.paths import REPO

botocore = pytest.importorskip("botocore")
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.utils import percent_encode_sequence  # noqa: E402

pytestmark = pytest.mark.integration

SEED = int(os.environ.get("PODIAM_SIGV4_SEED", "20150830"))
CASES = int(os.environ.get("PODIAM_SIGV4_CASES", "200"))

REGIONS = {  # region -> DNS suffix, one or two per partition
    "us-east-1": "amazonaws.com", "eu-west-1": "amazonaws.com", "ap-southeast-2": "amazonaws.com",
    "cn-north-1": "amazonaws.com.cn", "us-gov-west-1": "amazonaws.com",
    "us-iso-east-1": "c2s.ic.gov", "us-isob-east-1": "sc2s.sgov.gov",
    "eu-isoe-west-1": "cloud.adc-e.uk", "us-isof-south-1": "csp.hci.ic.gov",
    "eusc-de-east-1": "amazonaws.eu",
}
B64 = string.ascii_letters + string.digits + "+/"
UNICODE_POOLS = [
    string.ascii_letters + string.digits,
    " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "àéîõüßçñøåÆŒ",          # Latin-1 and Latin Extended
    "日本語中文한국어",         # CJK, Hangul
    "😀🚀🔑🌍",               # astral plane (4-byte UTF-8)
    "\u00a0\u2028\u200b\t\n",  # odd whitespace
]


def _binary() -> Path:
    build = Path(os.environ.get("PODIAM_BUILD_DIR", REPO / "build"))
    build = build if build.is_absolute() else REPO / build
    for candidate in (build / "src/podiam/aws/podiam_sigv4_tool", build / "bin/podiam_sigv4_tool"):
        if candidate.exists():
            return candidate
    pytest.fail(f"podiam_sigv4_tool not found under {build}; build it: "
                f"ninja -C {build} podiam_sigv4_tool", pytrace=False)


def _text(rng: random.Random, max_len: int) -> str:
    return "".join(rng.choice(rng.choice(UNICODE_POOLS)) for _ in range(rng.randint(0, max_len)))


def _messy(rng: random.Random, value: str) -> str:
    """Whitespace that SigV4's Trimall must remove: leading, trailing and inner runs."""
    pad = lambda: "".join(rng.choice(" \t") for _ in range(rng.randint(0, 3)))  # noqa: E731
    return pad() + pad().join(value.split(" ")) + pad()


def _case(rng: random.Random, i: int) -> dict:
    region = rng.choice(list(REGIONS))
    kind = rng.random()
    if kind < 0.6:
        host = f"sts.{region}.{REGIONS[region]}"
        url = f"https://{host}/"
    elif kind < 0.75:
        url = f"http://127.0.0.1:{rng.randint(1024, 65535)}/"
    elif kind < 0.85:
        url = f"https://[::1]:{rng.choice([443, 8443])}/"
    else:
        url = f"https://STS.{region.upper()}.{REGIONS[region]}:{rng.choice([443, 4443])}/"
    method = "POST" if rng.random() < 0.8 else "GET"
    if method == "GET" or rng.random() < 0.2:  # a path and a query string
        segments = ["".join(rng.choice(string.ascii_letters + "-_.~!$'()*,;=:@") for _ in
                            range(rng.randint(1, 8))) for _ in range(rng.randint(1, 3))]
        url = url.rstrip("/") + "/" + "/".join(segments)
        if rng.random() < 0.5:
            url += "%20x"
        pairs = [(_text(rng, 6) or "k", _text(rng, 8)) for _ in range(rng.randint(0, 4))]
        if pairs:
            url += "?" + percent_encode_sequence(pairs)
    form = [("Action", rng.choice(["AssumeRole", "GetCallerIdentity", "AssumeRoleWithWebIdentity"])),
            ("Version", "2011-06-15")]
    for n in range(rng.randint(0, 8)):
        form.append((rng.choice(["RoleArn", "RoleSessionName", f"Tags.member.{n + 1}.Key",
                                 f"Tags.member.{n + 1}.Value", "Policy", "ExternalId"]),
                     _text(rng, 40)))
    headers = [["Content-Type", "application/x-www-form-urlencoded; charset=utf-8"]]
    if rng.random() < 0.3:
        headers.append(["User-Agent", "Botocore/1.43.11 podiam-oracle"])  # never signed
    if rng.random() < 0.4:
        headers.append([rng.choice(["X-Custom", "x-amz-meta-Thing", "Accept"]),
                        _messy(rng, "a b  c " + "".join(rng.choice(string.ascii_letters)
                                                        for _ in range(5)))])
    when = datetime.datetime(2000, 1, 1) + datetime.timedelta(
        seconds=rng.randint(0, 100 * 365 * 86400))
    token = ""
    if rng.random() < 0.5:
        token = "".join(rng.choice(B64) for _ in range(rng.randint(16, 900)))
        token += "=" * rng.randint(0, 2)
    return {
        "case": i,
        "method": method,
        "url": url,
        "headers": headers,
        "form": form if method == "POST" else [],
        "access_key_id": rng.choice(["AKIA", "ASIA"]) + "".join(
            rng.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
        "secret_access_key": "".join(rng.choice(B64) for _ in range(40)),
        "session_token": token,
        "region": region,
        "service": rng.choice(["sts", "sts", "sts", "service", "iam"]),
        "timestamp": when.strftime("%Y%m%dT%H%M%SZ"),
        "when": when,
    }


def _botocore_sign(case: dict, body: bytes) -> str:
    request = AWSRequest(method=case["method"], url=case["url"], data=body)
    for name, value in case["headers"]:
        request.headers[name] = value
    creds = Credentials(case["access_key_id"], case["secret_access_key"],
                        case["session_token"] or None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=case["when"]):
        SigV4Auth(creds, case["service"], case["region"]).add_auth(request)
    return request.headers["Authorization"]


def _podiam_sign(cases: list[dict]) -> list[dict]:
    payload = [{k: v for k, v in c.items() if k not in ("case", "when")} for c in cases]
    proc = subprocess.run([str(_binary())], input=json.dumps(payload), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"podiam_sigv4_tool failed: {proc.stderr}"
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def signed():
    rng = random.Random(SEED)
    cases = [_case(rng, i) for i in range(CASES)]
    return list(zip(cases, _podiam_sign(cases)))


def test_generated_cases_cover_the_space(signed):
    cases = [c for c, _ in signed]
    assert len(cases) == CASES
    assert sum(bool(c["session_token"]) for c in cases) > CASES // 4
    assert {c["region"] for c in cases} == set(REGIONS)
    assert any(any(ord(ch) > 0xFFFF for _, v in c["form"] for ch in v) for c in cases)
    assert any(c["method"] == "GET" and "?" in c["url"] for c in cases)


def test_form_bodies_match_botocore_rfc3986_encoder(signed):
    mismatches = []
    for case, ours in signed:
        expected = percent_encode_sequence(case["form"]) if case["form"] else ""
        if ours.get("body") != expected:
            mismatches.append((case["case"], expected, ours))
    assert not mismatches, f"{len(mismatches)} body mismatches, first: {mismatches[0]}"


def test_authorization_matches_botocore_byte_for_byte(signed):
    mismatches = []
    for case, ours in signed:
        assert "error" not in ours, f"case {case['case']}: {ours['error']} ({case['url']})"
        expected = _botocore_sign(case, ours["body"].encode())
        if ours["authorization"] != expected:
            mismatches.append(f"case {case['case']} {case['method']} {case['url']}\n"
                              f"  botocore: {expected}\n  podiam:   {ours['authorization']}\n"
                              f"  canonical request (podiam):\n{ours['canonical_request']}")
    assert not mismatches, f"{len(mismatches)}/{len(signed)} differ:\n" + "\n".join(mismatches[:3])


def test_botocore_urlencoded_dict_bodies_sign_the_same(signed):
    """botocore itself sends STS bodies built by urllib's urlencode (space as '+'); whatever the
    bytes, podiam's signature over the same bytes must match."""
    cases = []
    for case, _ in signed[:50]:
        if case["method"] != "POST":
            continue
        body = AWSRequest(method="POST", url=case["url"], data=dict(case["form"])).prepare().body
        c = dict(case, body=body if isinstance(body, str) else body.decode())
        c.pop("form")
        cases.append(c)
    ours = _podiam_sign(cases)
    for case, result in zip(cases, ours):
        assert result["authorization"] == _botocore_sign(case, case["body"].encode()), case["case"]
