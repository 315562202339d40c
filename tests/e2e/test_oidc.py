"""`podiam oidc render|serve|check` against tokens minted by real kube-apiservers.

Two control planes share one public issuer URL (as a self-hosted cluster has it,
tests/cluster/up --sa-issuer): A signs with its RSA key, B with an EC P-256 key (B's apiserver
also publishes its own RSA key). Tokens come from the TokenRequest API; the independent verifier
is PyJWT + cryptography. docs/oidc.md and docs/irsa-self-hosted.md describe what is checked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import pytest
import requests

from podiam_testenv.agent import podiam_binary
from podiam_testenv.cluster import Cluster, ClusterError
from podiam_testenv.kube import Kube
from podiam_testenv.moto import free_port

pytestmark = pytest.mark.e2e

ISSUER = "https://oidc.podiam.test/cluster"
AUD = "sts.amazonaws.com"


def podiam(*args, check=True, timeout=30):
    env = {"PATH": os.environ["PATH"], "AWS_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true"}
    r = subprocess.run([str(podiam_binary()), *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, env=env)
    if check:
        assert r.returncode == 0, f"podiam {' '.join(map(str, args))}: {r.returncode}\n{r.stdout}{r.stderr}"
    return r


def openssl(*args):
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def ec_key(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ec")
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", d / "ec.key")
    openssl("pkey", "-in", d / "ec.key", "-pubout", "-out", d / "ec.pub")
    return d


@pytest.fixture(scope="module")
def clusters(ec_key):
    """(A, B): A signs with RSA, B with EC P-256; both issue for ISSUER."""
    args_b = (f"--service-account-signing-key-file={ec_key / 'ec.key'}",
              f"--service-account-key-file={ec_key / 'ec.pub'}")
    with ThreadPoolExecutor(2) as pool:
        fa = pool.submit(Cluster.start, sa_issuer=ISSUER)
        fb = pool.submit(Cluster.start, sa_issuer=ISSUER, apiserver_args=args_b)
        started = []
        try:
            for f in (fa, fb):
                started.append(f.result())
        except ClusterError as e:
            for c in started:
                c.stop()
            pytest.fail(f"could not start the test clusters:\n{e}", pytrace=False)
    a, b = started
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def sa_pub(cluster: Cluster) -> Path:
    return cluster.dir / "pki" / "sa.pub"


def token(cluster: Cluster, audiences=(AUD,)) -> str:
    return Kube(cluster.rest).request_token("default", audiences=audiences, namespace="default")


def render(tmp_path: Path, *keys: Path, name="out") -> Path:
    out = tmp_path / name
    args = ["oidc", "render", "--issuer", ISSUER, "--out", out]
    for k in keys:
        args += ["--key", k]
    podiam(*args)
    return out


def verify_with_pyjwt(jwks: dict, tok: str) -> dict:
    """The independent check: PyJWT picks the JWK by kid and verifies signature, iss, aud, exp."""
    kid = jwt.get_unverified_header(tok)["kid"]
    matches = [k for k in jwks["keys"] if k["kid"] == kid]
    assert matches, f"kid {kid} not in {[k['kid'] for k in jwks['keys']]}"
    key = jwt.PyJWK(matches[0])
    return jwt.decode(tok, key=key.key, algorithms=[matches[0]["alg"]], audience=AUD,
                      issuer=ISSUER)


def test_rsa_render_matches_the_apiservers_own_documents(clusters, tmp_path):
    a, _ = clusters
    out = render(tmp_path, sa_pub(a))
    ours_jwks = json.loads((out / "keys.json").read_text())
    ours_disc = json.loads((out / ".well-known" / "openid-configuration").read_text())
    theirs_jwks = a.rest.get("/openid/v1/jwks")
    theirs_disc = a.rest.get("/.well-known/openid-configuration")
    # The same JWK, field for field (kid derived as kube-apiserver derives it).
    assert ours_jwks == theirs_jwks
    assert list(ours_disc) == list(theirs_disc)  # same fields, same order
    for field in ours_disc:
        if field != "jwks_uri":
            assert ours_disc[field] == theirs_disc[field], field
    assert ours_disc["jwks_uri"] == ISSUER + "/keys.json"
    assert theirs_disc["issuer"] == ISSUER


def test_rsa_tokens_verify_against_rendered_keys(clusters, tmp_path):
    a, _ = clusters
    out = render(tmp_path, sa_pub(a))
    tok = token(a)
    claims = verify_with_pyjwt(json.loads((out / "keys.json").read_text()), tok)
    assert claims["sub"] == "system:serviceaccount:default:default"
    (tmp_path / "token").write_text(tok)
    r = podiam("oidc", "check", "--issuer", ISSUER, "--dir", out, "--token", tmp_path / "token")
    assert "token ok: subject system:serviceaccount:default:default" in r.stdout
    assert f"ok: IAM can use issuer {ISSUER}" in r.stdout


def test_ec_key_second_apiserver(clusters, tmp_path, ec_key):
    _, b = clusters
    out = render(tmp_path, sa_pub(b), ec_key / "ec.pub")
    ours = json.loads((out / "keys.json").read_text())
    theirs = b.rest.get("/openid/v1/jwks")
    assert sorted(ours["keys"], key=lambda k: k["kid"]) == sorted(theirs["keys"], key=lambda k: k["kid"])
    ec = [k for k in ours["keys"] if k["kty"] == "EC"]
    assert len(ec) == 1 and ec[0]["crv"] == "P-256" and ec[0]["alg"] == "ES256"
    ours_disc = json.loads((out / ".well-known" / "openid-configuration").read_text())
    theirs_disc = b.rest.get("/.well-known/openid-configuration")
    assert ours_disc["id_token_signing_alg_values_supported"] == \
        theirs_disc["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
    tok = token(b)
    assert jwt.get_unverified_header(tok)["alg"] == "ES256"
    verify_with_pyjwt(ours, tok)
    # Rendered from the private key file too: the same kid.
    out2 = render(tmp_path, ec_key / "ec.key", name="from-private")
    assert json.loads((out2 / "keys.json").read_text())["keys"] == ec


def test_rotation_two_keys_then_old_removed(clusters, tmp_path, ec_key):
    """A's RSA key is the old signing key, B's EC key the new one (same issuer)."""
    a, b = clusters
    old_tok, new_tok = token(a), token(b)
    (tmp_path / "old").write_text(old_tok)
    (tmp_path / "new").write_text(new_tok)
    both = render(tmp_path, sa_pub(a), ec_key / "ec.pub", name="both")
    jwks = json.loads((both / "keys.json").read_text())
    verify_with_pyjwt(jwks, old_tok)
    verify_with_pyjwt(jwks, new_tok)
    for t in ("old", "new"):
        podiam("oidc", "check", "--issuer", ISSUER, "--dir", both, "--token", tmp_path / t)
    new_only = render(tmp_path, ec_key / "ec.pub", name="new-only")
    podiam("oidc", "check", "--issuer", ISSUER, "--dir", new_only, "--token", tmp_path / "new")
    r = podiam("oidc", "check", "--issuer", ISSUER, "--dir", new_only, "--token", tmp_path / "old",
               check=False)
    assert r.returncode == 1, r
    old_kid = jwt.get_unverified_header(old_tok)["kid"]
    assert f'token invalid: token kid "{old_kid}" is not in the JWKS' in r.stdout, r.stdout
    with pytest.raises(AssertionError):
        verify_with_pyjwt(json.loads((new_only / "keys.json").read_text()), old_tok)


def test_check_reports_wrong_audience_and_issuer(clusters, tmp_path):
    a, _ = clusters
    out = render(tmp_path, sa_pub(a))
    (tmp_path / "tok").write_text(token(a, audiences=("something-else",)))
    r = podiam("oidc", "check", "--issuer", ISSUER, "--dir", out, "--token", tmp_path / "tok",
               check=False)
    assert r.returncode == 1 and 'aud does not contain "sts.amazonaws.com"' in r.stdout, r.stdout
    r = podiam("oidc", "check", "--issuer", ISSUER + "x", "--dir", out, check=False)
    assert r.returncode == 1 and "byte for byte" in r.stdout, r.stdout


@pytest.mark.parametrize("args,want", [
    (["oidc", "render", "--issuer", "http://oidc.podiam.test", "--key", "/etc/hostname", "--out", "x"], "https://"),
    (["oidc", "render", "--issuer", "https://oidc.podiam.test:8443", "--key", "/etc/hostname", "--out", "x"], "no port"),
    (["oidc", "render", "--issuer", "https://oidc.podiam.test/?a=1", "--key", "/etc/hostname", "--out", "x"], "no query"),
    (["oidc", "render", "--issuer", "https://oidc.podiam.test/#x", "--key", "/etc/hostname", "--out", "x"], "no fragment"),
])
def test_render_refuses_bad_issuers_with_one_line(args, want):
    r = podiam(*args, check=False)
    assert r.returncode == 2 and want in r.stderr and r.stderr.count("\n") == 1, r


def test_render_refuses_a_non_key_file(tmp_path):
    (tmp_path / "k").write_text("hello\n")
    r = podiam("oidc", "render", "--issuer", ISSUER, "--key", tmp_path / "k", "--out", tmp_path,
               check=False)
    assert r.returncode == 1 and "no PEM key block" in r.stderr, r


# ---- serve ----

@pytest.fixture
def tls(tmp_path):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", tmp_path / "ca.key", "-out", tmp_path / "ca.crt", "-subj", "/CN=podiam test CA",
            "-days", "1", "-addext", "basicConstraints=critical,CA:TRUE")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", tmp_path / "tls.key", "-out", tmp_path / "tls.csr", "-subj", "/CN=127.0.0.1")
    (tmp_path / "ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", tmp_path / "tls.csr", "-CA", tmp_path / "ca.crt", "-CAkey",
            tmp_path / "ca.key", "-CAcreateserial", "-out", tmp_path / "tls.crt", "-days", "1",
            "-extfile", tmp_path / "ext")
    return tmp_path


def test_serve_over_tls_with_reload(clusters, tls, ec_key):
    a, _ = clusters
    key = tls / "served.pub"
    shutil.copy(sa_pub(a), key)
    port = free_port()
    proc = subprocess.Popen(
        [str(podiam_binary()), "oidc", "serve", "--issuer", ISSUER, "--key", str(key),
         "--listen", f"127.0.0.1:{port}", "--tls-cert-file", str(tls / "tls.crt"),
         "--tls-key-file", str(tls / "tls.key")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={"PATH": os.environ["PATH"], "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"})
    base = f"https://127.0.0.1:{port}"
    s = requests.Session()
    s.trust_env = False
    s.verify = str(tls / "ca.crt")
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                s.get(base + "/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
                time.sleep(0.1)
        d = s.get(base + "/cluster/.well-known/openid-configuration", timeout=5)
        assert d.status_code == 200 and d.headers["Cache-Control"] == "public, max-age=300"
        assert d.headers["Content-Type"].startswith("application/json")
        assert d.json()["jwks_uri"] == ISSUER + "/keys.json"
        k = s.get(base + "/cluster/keys.json", timeout=5)
        assert k.status_code == 200 and k.json() == a.rest.get("/openid/v1/jwks")
        for bad in ("/", "/keys.json", "/.well-known/openid-configuration", "/cluster/keys.jsonx",
                    "/cluster/keys.json/x", "/cluster/.well-known"):
            assert s.get(base + bad, timeout=5).status_code == 404, bad
        assert s.get(base + "/healthz", timeout=5).status_code == 200
        # Replace the key file (rename over it, as a secret update does): served within a second.
        tmp = tls / "served.pub.new"
        shutil.copy(ec_key / "ec.pub", tmp)
        os.replace(tmp, key)
        t0 = time.monotonic()
        while True:
            kty = s.get(base + "/cluster/keys.json", timeout=5).json()["keys"][0]["kty"]
            if kty == "EC":
                break
            assert time.monotonic() - t0 < 1.0, "the new key was not served within a second"
            time.sleep(0.05)
        metrics = s.get(base + "/metrics", timeout=5).text
        assert 'podiam_oidc_requests_total{route="jwks",code="200"}' in metrics
        assert 'podiam_oidc_key_reloads_total{result="changed"} 2' in metrics
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out
    assert "ERROR: AddressSanitizer" not in out and "runtime error:" not in out, out
