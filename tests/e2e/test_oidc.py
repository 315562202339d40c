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


def start_serve(key: Path, tls: Path, cert: str = "tls.crt"):
    """Starts `podiam oidc serve`; returns (process, base URL, a requests session trusting the CA)
    once /healthz answers."""
    port = free_port()
    proc = subprocess.Popen(
        [str(podiam_binary()), "oidc", "serve", "--issuer", ISSUER, "--key", str(key),
         "--listen", f"127.0.0.1:{port}", "--tls-cert-file", str(tls / cert),
         "--tls-key-file", str(tls / "tls.key")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={"PATH": os.environ["PATH"], "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"})
    base = f"https://127.0.0.1:{port}"
    s = requests.Session()
    s.trust_env = False
    s.verify = str(tls / "ca.crt")
    deadline = time.monotonic() + 10
    while True:
        try:
            s.get(base + "/healthz", timeout=2)
            return proc, base, s
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(proc.communicate()[0])
            time.sleep(0.1)


def stop_serve(proc):
    proc.terminate()
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out
    assert "ERROR: AddressSanitizer" not in out and "runtime error:" not in out, out


def test_serve_over_tls_with_reload(clusters, tls, ec_key):
    a, _ = clusters
    key = tls / "served.pub"
    shutil.copy(sa_pub(a), key)
    proc, base, s = start_serve(key, tls)
    try:
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
        stop_serve(proc)


# ---- iam (moto's IAM behind the counting/fault proxy) ----

ACCOUNT = "123456789012"  # moto's default account
HOST_PATH = ISSUER.removeprefix("https://")
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST_PATH}"


def iam(sts, *args, check=True):
    """`podiam iam ...` with moto as IAM and STS (both through the proxy), keys moto accepts."""
    env = {"PATH": os.environ["PATH"], "AWS_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
           "AWS_SECRET_ACCESS_KEY": "moto-accepts-any-secret",
           "PODIAM_IAM_ENDPOINT": sts.endpoint, "PODIAM_STS_ENDPOINT": sts.endpoint}
    r = subprocess.run([str(podiam_binary()), "iam", *map(str, args)], capture_output=True,
                       text=True, timeout=60, env=env)
    if check:
        assert r.returncode == 0, f"podiam iam {args}: {r.returncode}\n{r.stdout}{r.stderr}"
    return r


def expected_trust(ns: str, name: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": PROVIDER_ARN},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{HOST_PATH}:sub": f"system:serviceaccount:{ns}:{name}",
                                       f"{HOST_PATH}:aud": "sts.amazonaws.com"}}}]}


@pytest.fixture(scope="module")
def provider(sts):
    thumb = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
    r = iam(sts, "create-oidc-provider", "--issuer", ISSUER, "--audience", AUD,
            "--thumbprint", thumb)
    assert f"created OIDC provider {PROVIDER_ARN}" in r.stdout, r.stdout
    return thumb


def test_iam_provider_created_and_idempotent(sts, provider):
    client = sts.moto.client("iam")
    got = client.get_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER_ARN)
    assert got["Url"] == HOST_PATH
    assert got["ClientIDList"] == [AUD]
    assert got["ThumbprintList"] == [provider]
    sts.reset_counts()
    r = iam(sts, "create-oidc-provider", "--issuer", ISSUER, "--thumbprint", provider)
    assert f"unchanged OIDC provider {PROVIDER_ARN}" in r.stdout
    assert sts.counts("CreateOpenIDConnectProvider") == 0


def test_iam_trust_policy_prints_the_documented_json(sts):
    r = iam(sts, "trust-policy", "--issuer", ISSUER, "--service-account", "apps/web",
            "--account-id", ACCOUNT)
    assert json.loads(r.stdout) == expected_trust("apps", "web")
    # Without --account-id the account comes from STS GetCallerIdentity.
    r = iam(sts, "trust-policy", "--issuer", ISSUER, "--service-account", "apps/web")
    assert json.loads(r.stdout) == expected_trust("apps", "web")
    r = iam(sts, "trust-policy", "--principal", "arn:aws:iam::123456789012:role/podiam-agent")
    doc = json.loads(r.stdout)
    assert doc["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::123456789012:role/podiam-agent"}
    assert "sts:AssumeRole" in doc["Statement"][0]["Action"]


def test_iam_create_role_annotate_and_assume_with_real_token(clusters, sts, provider, tmp_path):
    a, _ = clusters
    kube = Kube(a.rest)
    a.rest.post("/api/v1/namespaces/default/serviceaccounts",
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "irsa-app"}},
                ok=(409,))
    client = sts.moto.client("iam")
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]})
    client.create_policy(PolicyName="irsa-read", PolicyDocument=doc)
    client.create_policy(PolicyName="irsa-extra", PolicyDocument=doc)
    policy = f"arn:aws:iam::{ACCOUNT}:policy/irsa-read"
    extra = f"arn:aws:iam::{ACCOUNT}:policy/irsa-extra"
    args = ["create-role", "--name", "irsa-app", "--issuer", ISSUER, "--service-account",
            "default/irsa-app", "--policy-arn", policy, "--policy-arn", extra, "--annotate",
            "--kubeconfig", a.kubeconfig]
    r = iam(sts, *args)
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/irsa-app"
    assert f"created role {role_arn}" in r.stdout and f"attached {extra}" in r.stdout, r.stdout
    role = client.get_role(RoleName="irsa-app")["Role"]
    assert role["AssumeRolePolicyDocument"] == expected_trust("default", "irsa-app")
    attached = client.list_attached_role_policies(RoleName="irsa-app")["AttachedPolicies"]
    assert sorted(p["PolicyArn"] for p in attached) == sorted([policy, extra])
    sa = a.rest.get("/api/v1/namespaces/default/serviceaccounts/irsa-app")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role_arn
    # Idempotent: nothing created or attached again.
    sts.reset_counts()
    r = iam(sts, *args)
    assert f"unchanged role {role_arn}" in r.stdout and f"already attached {extra}" in r.stdout
    assert sts.counts("CreateRole") == 0 and sts.counts("AttachRolePolicy") == 0
    assert sts.counts("UpdateAssumeRolePolicy") == 0
    # A changed trust (another ServiceAccount) is updated in place.
    r = iam(sts, "create-role", "--name", "irsa-app", "--issuer", ISSUER, "--service-account",
            "default/other", "--account-id", ACCOUNT)
    assert "updated the trust policy" in r.stdout
    assert client.get_role(RoleName="irsa-app")["Role"]["AssumeRolePolicyDocument"] == \
        expected_trust("default", "other")
    iam(sts, *args)
    # The apiserver's token for that ServiceAccount: its signature checked independently (PyJWT
    # against the rendered JWKS), then exchanged on moto (which does not verify signatures).
    tok = kube.request_token("irsa-app", audiences=(AUD,), namespace="default")
    out = render(tmp_path, sa_pub(a))
    claims = verify_with_pyjwt(json.loads((out / "keys.json").read_text()), tok)
    assert claims["sub"] == "system:serviceaccount:default:irsa-app"
    creds = sts.moto.client("sts").assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName="irsa-app", WebIdentityToken=tok)
    assert creds["AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/irsa-app/")


def test_iam_errors_carry_the_aws_code(clusters, sts, provider):
    r = iam(sts, "create-role", "--name", "irsa-bad", "--issuer", ISSUER, "--service-account",
            "default/x", "--policy-arn", f"arn:aws:iam::{ACCOUNT}:policy/does-not-exist",
            check=False)
    assert r.returncode == 1 and "IAM AttachRolePolicy: NoSuchEntity:" in r.stderr, r
    sts.fault("access_denied", action="CreateRole", count=1)
    r = iam(sts, "create-role", "--name", "irsa-denied", "--issuer", ISSUER, "--service-account",
            "default/x", check=False)
    assert r.returncode == 1 and "IAM CreateRole: AccessDenied:" in r.stderr, r
    sts.fault("throttling", action="GetRole", count=1)  # retried
    iam(sts, "create-role", "--name", "irsa-denied", "--issuer", ISSUER, "--service-account",
        "default/x")
    r = iam(sts, "create-role", "--name", "r", "--issuer", "https://no-provider.podiam.test",
            "--service-account", "default/x", check=False)
    assert r.returncode == 1 and "run podiam iam create-oidc-provider" in r.stderr, r
    r = iam(sts, "create-role", "--name", "r", "--issuer", ISSUER, "--service-account", "x",
            check=False)
    assert r.returncode == 2 and "NAMESPACE/NAME" in r.stderr


def test_iam_thumbprint_auto_is_the_top_certificate(sts, tls, tmp_path):
    (tls / "chain.crt").write_text((tls / "tls.crt").read_text() + (tls / "ca.crt").read_text())
    key = tmp_path / "k.pub"
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", tmp_path / "k.key")
    openssl("pkey", "-in", tmp_path / "k.key", "-pubout", "-out", key)
    proc, base, _ = start_serve(key, tls, cert="chain.crt")
    try:
        fp = subprocess.run(["openssl", "x509", "-in", tls / "ca.crt", "-noout", "-fingerprint",
                             "-sha1"], capture_output=True, text=True, check=True).stdout
        want = fp.split("=", 1)[1].strip().replace(":", "").lower()
        issuer = "https://thumbprint.podiam.test/x"
        r = iam(sts, "create-oidc-provider", "--issuer", issuer, "--thumbprint", "auto",
                "--tls-address", base.removeprefix("https://"))
        assert f"thumbprint {want}" in r.stdout, r.stdout
        got = sts.moto.client("iam").get_open_id_connect_provider(
            OpenIDConnectProviderArn=f"arn:aws:iam::{ACCOUNT}:oidc-provider/thumbprint.podiam.test/x")
        assert got["ThumbprintList"] == [want]
    finally:
        stop_serve(proc)


# ---- check over HTTPS ----

# A private network namespace (only `lo`, no routes: nothing can leave it) and mount namespace in
# which the issuer's host name resolves to 127.0.0.1 (/etc/hosts bind-mounted), with `podiam oidc
# serve` on port 443 as the issuer's web server, then the given `podiam oidc check` command: the
# check fetches ISSUER's documents over HTTPS exactly as it would from the real host.
ISSUER_VIEW = """
set -e
ip link set lo up
mount --bind "$PODIAM_HOSTS" /etc/hosts
"$PODIAM" oidc serve --issuer "$PODIAM_ISSUER" --key "$PODIAM_KEY" --listen 127.0.0.1:443 \
  --tls-cert-file "$PODIAM_TLS/issuer.crt" --tls-key-file "$PODIAM_TLS/issuer.key" \
  >"$PODIAM_TLS/serve.log" 2>&1 &
serve=$!
for _ in $(seq 100); do
  if (exec 3<>/dev/tcp/127.0.0.1/443) 2>/dev/null; then break; fi
  sleep 0.1
done
set +e
"$@"
rc=$?
kill "$serve"
wait "$serve" || true
exit $rc
"""


@pytest.fixture
def issuer_tls(tls):
    """A serving certificate for the issuer's host name from the test CA (`tls`), another CA that
    did not sign it, and a hosts file naming the issuer's host 127.0.0.1."""
    host = HOST_PATH.split("/", 1)[0]
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", tls / "issuer.key", "-out", tls / "issuer.csr", "-subj", f"/CN={host}")
    (tls / "issuer.ext").write_text(f"subjectAltName=DNS:{host}\n")
    openssl("x509", "-req", "-in", tls / "issuer.csr", "-CA", tls / "ca.crt", "-CAkey",
            tls / "ca.key", "-CAcreateserial", "-out", tls / "issuer.crt", "-days", "1",
            "-extfile", tls / "issuer.ext")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", tls / "other-ca.key", "-out", tls / "other-ca.crt", "-subj",
            "/CN=another CA", "-days", "1", "-addext", "basicConstraints=critical,CA:TRUE")
    (tls / "hosts").write_text(f"127.0.0.1 localhost {host}\n")
    return tls


def check_in_issuer_view(tls: Path, key: Path, *check_args):
    env = {"PATH": os.environ["PATH"], "AWS_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true", "PODIAM": str(podiam_binary()),
           "PODIAM_ISSUER": ISSUER, "PODIAM_KEY": str(key), "PODIAM_TLS": str(tls),
           "PODIAM_HOSTS": str(tls / "hosts")}
    cmd = ["unshare", "--net", "--mount", "--propagation", "private", "bash", "-c", ISSUER_VIEW,
           "issuer-view", str(podiam_binary()), "oidc", "check", "--issuer", ISSUER,
           *map(str, check_args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)


def test_check_fetches_over_https_with_ca_file(issuer_tls, tmp_path):
    """`oidc check` without --dir: discovery and JWKS fetched over HTTPS from the issuer's host,
    trusting --ca-file; a token signed with the published key verifies. With a CA that did not
    sign the server's certificate, the check fails and says so."""
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", tmp_path / "sa.key")
    openssl("pkey", "-in", tmp_path / "sa.key", "-pubout", "-out", tmp_path / "sa.pub")
    out = render(tmp_path, tmp_path / "sa.pub")
    (jwk,) = json.loads((out / "keys.json").read_text())["keys"]
    now = int(time.time())
    tok = jwt.encode({"iss": ISSUER, "sub": "system:serviceaccount:apps:web", "aud": [AUD],
                      "iat": now, "nbf": now, "exp": now + 600},
                     (tmp_path / "sa.key").read_text(), algorithm="RS256",
                     headers={"kid": jwk["kid"]})
    (tmp_path / "token").write_text(tok)

    r = check_in_issuer_view(issuer_tls, tmp_path / "sa.pub", "--ca-file",
                             issuer_tls / "ca.crt", "--token", tmp_path / "token")
    serve_log = (issuer_tls / "serve.log").read_text(errors="replace")
    assert r.returncode == 0, f"{r.stdout}{r.stderr}\nserve:\n{serve_log}"
    assert f"key {jwk['kid']} RS256 2048 bits" in r.stdout, r.stdout
    assert "token ok: subject system:serviceaccount:apps:web" in r.stdout, r.stdout
    assert f"ok: IAM can use issuer {ISSUER}" in r.stdout, r.stdout

    r = check_in_issuer_view(issuer_tls, tmp_path / "sa.pub", "--ca-file",
                             issuer_tls / "other-ca.crt")
    assert r.returncode == 1, f"{r.stdout}{r.stderr}"
    assert "ok: IAM can use" not in r.stdout
    message = r.stdout + r.stderr
    assert f"GET {ISSUER}/.well-known/openid-configuration" in message, message
    assert "TLS certificate verification failed" in message, message
    assert "does not chain to --ca-file" in message, message
