"""`podiam webhook certs`: the files it writes (modes, no overwrite without --force), the
certificate verifying against the written CA for both Service host names with OpenSSL's own
verifier, as a TLS server certificate, and the caBundle printed or written into the shipped
MutatingWebhookConfiguration (docs/webhook.md, "Serving certificate")."""

import base64
import os
import stat
import subprocess

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from podiam_testenv import paths
from podiam_testenv.agent import podiam_binary

pytestmark = pytest.mark.integration


def run(*args):
    env = {"PATH": os.environ["PATH"], "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    return subprocess.run([str(podiam_binary()), "webhook", "certs", *map(str, args)],
                          capture_output=True, text=True, timeout=30, env=env)


def verify(out, host):
    return subprocess.run(["openssl", "verify", "-CAfile", out / "ca.crt", "-purpose", "sslserver",
                           "-verify_hostname", host, out / "tls.crt"], capture_output=True, text=True)


def test_writes_a_verifying_pair_and_prints_the_ca_bundle(tmp_path):
    out = tmp_path / "certs"
    r = run("--service-name", "hook", "--namespace", "tools", "--out", out, "--days", "30")
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE((out / "tls.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "tls.crt").stat().st_mode) == 0o644
    assert sorted(p.name for p in out.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]
    assert base64.b64decode(r.stdout.strip()) == (out / "ca.crt").read_bytes()
    for host in ("hook.tools.svc", "hook.tools.svc.cluster.local"):
        v = verify(out, host)
        assert v.returncode == 0 and "OK" in v.stdout, v.stdout + v.stderr
    assert verify(out, "other.tools.svc").returncode != 0
    cert = x509.load_pem_x509_certificate((out / "tls.crt").read_bytes())
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value \
        .get_values_for_type(x509.DNSName) == ["hook.tools.svc", "hook.tools.svc.cluster.local"]
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == \
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime.days == 30 and lifetime.seconds == 300


def test_refuses_to_overwrite_unless_forced(tmp_path):
    assert run("--out", tmp_path).returncode == 0
    before = (tmp_path / "tls.key").read_bytes()
    r = run("--out", tmp_path)
    assert r.returncode == 1 and "refusing to overwrite" in r.stderr and "--force" in r.stderr, r
    assert r.stderr.count("\n") == 1
    assert (tmp_path / "tls.key").read_bytes() == before
    r = run("--out", tmp_path, "--force")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "tls.key").read_bytes() != before
    assert verify(tmp_path, "podiam-webhook.podiam-webhook.svc").returncode == 0


def test_writes_the_ca_bundle_into_the_shipped_manifest(tmp_path):
    manifest = tmp_path / "webhook.yaml"
    manifest.write_text((paths.REPO / "deploy" / "webhook" / "webhook.yaml").read_text())
    out = tmp_path / "certs"
    r = run("--out", out, "--manifest", manifest)
    assert r.returncode == 0 and r.stdout == "", r
    docs = list(yaml.safe_load_all(manifest.read_text()))
    hook = next(d for d in docs if d["kind"] == "MutatingWebhookConfiguration")
    bundle = hook["webhooks"][0]["clientConfig"]["caBundle"]
    assert base64.b64decode(bundle) == (out / "ca.crt").read_bytes()
    assert hook["webhooks"][0]["clientConfig"]["service"]["name"] == "podiam-webhook"
    # A second run (new CA) replaces the value: still one caBundle.
    assert run("--out", out, "--force", "--manifest", manifest).returncode == 0
    text = manifest.read_text()
    assert text.count("\n      caBundle: ") == 1 and bundle not in text


@pytest.mark.parametrize("args,want", [
    (["--namespace", "Bad_Name", "--out", "x"], "DNS label"),
    (["--days", "0", "--out", "x"], "--days"),
    ([], "--out"),
])
def test_bad_flags_are_one_line_usage_errors(args, want):
    r = run(*args)
    assert r.returncode == 2 and want in r.stderr and r.stderr.count("\n") == 1, r
