"""Signed WACZ (`export wacz --sign`), WACZ Signing and Verification 0.1.0: checked by the
ecosystem's own reader (py-wacz's `wacz validate`), by the checks ReplayWeb.page makes (P-384
SPKI key, r||s over the hash string), redone here with `cryptography` alone, and for domain
mode by `openssl ts -verify` against a real loopback TSA."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import SEED_DOCUMENT
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from tsa_server import LoopbackTSA, tsa_fixture
from wacz_pki import LocalCA

from archiver.store import package_key, signing

tsa = tsa_fixture()

ANONYMOUS_KEYS = {"hash", "created", "software", "version", "signature", "publicKey"}
DOMAIN_KEYS = {"hash", "created", "software", "version", "signature", "domain", "domainCert",
               "timeSignature", "timestampCert"}


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Key locations outside the archive; nothing from the real environment."""
    folder = tmp_path / "keys"
    monkeypatch.setenv(signing.ENV_KEY, str(folder / "ed25519.key"))
    monkeypatch.setenv(package_key.ENV_WACZ_KEY, str(folder / "wacz-p384.key"))
    monkeypatch.delenv(signing.ENV_TRUSTED, raising=False)
    return folder


@pytest.fixture
def archive(run, keys) -> Path:
    """A small archive (the seed document), its head signed with the Ed25519 key."""
    assert run("keygen", archive=False).exit_code == 0
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    return run.archive


def wacz_validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wacz", "validate", "-f", str(path)],
                          capture_output=True, text=True, timeout=120)


def digest_of(path: Path) -> tuple[dict, bytes]:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("datapackage-digest.json")), zf.read("datapackage.json")


def test_keygen_wacz_makes_a_p384_key_pair_outside_the_archive(run, keys, archive_dir):
    [made] = run.json_lines("keygen", "--wacz")
    key = Path(made["key"])
    assert key == keys / "wacz-p384.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    private = serialization.load_pem_private_key(key.read_bytes(), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert private.curve.name == "secp384r1"
    public = serialization.load_pem_public_key(Path(made["public_key"]).read_bytes())
    assert made["key_id"] == package_key.fingerprint(public)  # type: ignore[arg-type]
    assert run("keygen", "--wacz").exit_code == 2  # never overwritten without --force
    inside = run("keygen", "--wacz", "--key", str(archive_dir / "k.key"))
    assert inside.exit_code == 2 and "must not live inside the archive" in inside.output


def test_anonymous_signature_is_what_replayweb_checks_and_wacz_validate_accepts(
        run, archive, keys, tmp_path):
    assert run("keygen", "--wacz", archive=False).exit_code == 0
    out = tmp_path / "signed.wacz"
    result = run("export", "wacz", str(out), "--sign")
    assert result.exit_code == 0, result.output
    check = wacz_validate(out)
    assert check.returncode == 0 and "Validation succeeded" in check.stdout, check.stdout

    digest, package_bytes = digest_of(out)
    signed = digest["signedData"]
    hash_ = "sha256:" + hashlib.sha256(package_bytes).hexdigest()
    assert digest["path"] == "datapackage.json" and digest["hash"] == hash_
    assert set(digest) == {"path", "hash", "signedData"}
    assert set(signed) == ANONYMOUS_KEYS and signed["hash"] == hash_
    assert json.loads(package_bytes)["created"] == signed["created"]  # py-wacz requires it
    # ReplayWeb.page: importKey("spki", publicKey, P-384) and verify ECDSA/SHA-256 of the
    # hash string, the signature being r||s (WebCrypto's form): done here without archiver.
    public = serialization.load_der_public_key(base64.b64decode(signed["publicKey"]))
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp384r1"
    raw = base64.b64decode(signed["signature"])
    assert len(raw) == 96
    der = encode_dss_signature(int.from_bytes(raw[:48], "big"), int.from_bytes(raw[48:], "big"))
    public.verify(der, hash_.encode(), ec.ECDSA(hashes.SHA256()))
    mine = serialization.load_pem_public_key((keys / "wacz-p384.pub").read_bytes())
    assert mine.public_bytes(serialization.Encoding.DER,  # type: ignore[union-attr]
                             serialization.PublicFormat.SubjectPublicKeyInfo) == \
        base64.b64decode(signed["publicKey"])


def test_the_archives_proofs_travel_in_the_package_and_are_listed(run, archive, keys, tmp_path):
    """manifest.sig.jsonl and whatever proof files lie beside the manifest (time-stamp
    tokens, checkpoints) are packed one folder deep, listed (and so covered by the
    signature) in datapackage.json."""
    (archive / "timestamps").mkdir()
    (archive / "timestamps" / "000001.tsr").write_bytes(b"\x30\x03\x02\x01\x00")
    (archive / "checkpoints").mkdir()
    (archive / "checkpoints" / "seq-1.txt").write_text("archive\n1\nAAAA\n\n")
    (archive / "manifest.witness.jsonl").write_text('{"seq": 0}\n')
    assert run("keygen", "--wacz", archive=False).exit_code == 0
    out = tmp_path / "signed.wacz"
    assert run("export", "wacz", str(out), "--sign").exit_code == 0
    with zipfile.ZipFile(out) as zf:
        listed = {r["path"]: r for r in json.loads(zf.read("datapackage.json"))["resources"]}
        for name, original in [("archiver/manifest.sig.jsonl", archive / "manifest.sig.jsonl"),
                               ("archiver/timestamps_000001.tsr",
                                archive / "timestamps" / "000001.tsr"),
                               ("archiver/checkpoints_seq-1.txt",
                                archive / "checkpoints" / "seq-1.txt"),
                               ("archiver/manifest.witness.jsonl",
                                archive / "manifest.witness.jsonl")]:
            assert zf.read(name) == original.read_bytes()
            assert listed[name]["hash"] == "sha256:" + hashlib.sha256(
                original.read_bytes()).hexdigest()
        mapping = [json.loads(x) for x in zf.read("archiver/files.jsonl").splitlines()]
        assert {"packed": "archiver/timestamps_000001.tsr", "path": "timestamps/000001.tsr",
                "sha256": hashlib.sha256(b"\x30\x03\x02\x01\x00").hexdigest()} in mapping
    assert wacz_validate(out).returncode == 0


def test_an_unsigned_export_still_has_a_plain_digest(run, archive, tmp_path):
    out = tmp_path / "plain.wacz"
    assert run("export", "wacz", str(out)).exit_code == 0
    digest, _ = digest_of(out)
    assert set(digest) == {"path", "hash"}


def domain_export(run, tmp_path: Path, tsa: LoopbackTSA, *, rsa_key: bool = False,
                  domain: str = "archive.example.org") -> tuple[Path, Path]:
    """(package, trust roots PEM) for a domain-signed export."""
    ca = LocalCA.make()
    chain, key = ca.write_domain(tmp_path / "pki", domain, rsa_key=rsa_key)
    out = tmp_path / f"domain-{'rsa' if rsa_key else 'ec'}.wacz"
    result = run("export", "wacz", str(out), "--sign-cert", str(chain), "--sign-key", str(key),
                 "--tsa", tsa.url)
    assert result.exit_code == 0, result.output
    roots = tmp_path / "roots.pem"
    roots.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM)
                      + tsa.root_pem.read_bytes())
    return out, roots


@pytest.mark.parametrize("rsa_key", [False, True], ids=["ecdsa", "rsa"])
def test_domain_signature_with_a_real_tsa(run, archive, tmp_path, tsa, rsa_key):
    out, roots = domain_export(run, tmp_path, tsa, rsa_key=rsa_key)
    check = wacz_validate(out)
    assert check.returncode == 0 and "Validation succeeded" in check.stdout, check.stdout
    digest, _ = digest_of(out)
    signed = digest["signedData"]
    assert set(signed) == DOMAIN_KEYS
    assert signed["domain"] == "archive.example.org"
    # The signature of the hash string with the first domainCert certificate (as authsign)
    leaf = x509.load_pem_x509_certificates(signed["domainCert"].encode())[0]
    # ReplayWeb.page reads the first certificate as the text before the first blank line
    first = signed["domainCert"].split("\n\n")[0]
    assert x509.load_pem_x509_certificate(first.encode()) == leaf
    assert len(x509.load_pem_x509_certificates(signed["domainCert"].encode())) == 2
    sig, data = base64.b64decode(signed["signature"]), signed["hash"].encode()
    public = leaf.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(sig, data, ec.ECDSA(hashes.SHA256()))
    # timeSignature: the TSA's whole reply over the signature string, judged by OpenSSL
    reply = base64.b64decode(signed["timeSignature"])
    verified = tsa.openssl_verify(reply, data=signed["signature"].encode())
    assert verified.returncode == 0 and b"Verification: OK" in verified.stdout
    tsa_cert = x509.load_pem_x509_certificates(signed["timestampCert"].encode())[0]
    assert tsa_cert == x509.load_pem_x509_certificate(tsa.cert_pem("ok").read_bytes())
    # and archiver's own verify agrees, every check passed
    res = run("verify", str(out), "--trust-roots", str(roots), "--json", archive=False)
    assert res.exit_code == 0, res.output
    statuses = {json.loads(x)["check"]: json.loads(x)["status"] for x in res.output.splitlines()}
    assert statuses["time-chain"] == statuses["domain-chain"] == "pass"
    assert set(statuses.values()) <= {"pass", "skip"}


@pytest.mark.parametrize("mode", ["reject", "garbage", "wrong-nonce", "other-imprint"])
def test_a_failing_tsa_packages_nothing(run, archive, tmp_path, tsa, mode):
    ca = LocalCA.make()
    chain, key = ca.write_domain(tmp_path / "pki", "archive.example.org")
    out = tmp_path / "x.wacz"
    with tsa.variant(mode):
        result = run("export", "wacz", str(out), "--sign-cert", str(chain), "--sign-key",
                     str(key), "--tsa", tsa.url)
    assert result.exit_code == 1
    assert "nothing was packaged" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".tmp-*"))


def test_a_hanging_tsa_costs_only_the_timeout(run, archive, tmp_path, tsa):
    ca = LocalCA.make()
    chain, key = ca.write_domain(tmp_path / "pki", "archive.example.org")
    tsa.mode = "hang"
    start = time.monotonic()
    result = run("export", "wacz", str(tmp_path / "x.wacz"), "--sign-cert", str(chain),
                 "--sign-key", str(key), "--tsa", tsa.url, "--tsa-timeout", "1")
    assert result.exit_code == 1 and "did not answer" in result.output
    assert time.monotonic() - start < 15


def test_signing_usage_errors_are_one_line(run, archive, tmp_path):
    ca = LocalCA.make()
    chain, key = ca.write_domain(tmp_path / "pki", "archive.example.org")
    no_tsa = run("export", "wacz", str(tmp_path / "a.wacz"), "--sign-cert", str(chain),
                 "--sign-key", str(key))
    assert no_tsa.exit_code == 2 and "--tsa" in no_tsa.output
    other_key = ca.write_domain(tmp_path / "pki2", "other.example.org")[1]
    mismatch = run("export", "wacz", str(tmp_path / "b.wacz"), "--sign-cert", str(chain),
                   "--sign-key", str(other_key), "--tsa", "http://127.0.0.1:9/")
    assert mismatch.exit_code == 2 and "not the key of the first certificate" in mismatch.output
    expired, expired_key = LocalCA.make().write_domain(
        tmp_path / "pki3", "archive.example.org", days=5,
        start=datetime.now(UTC) - timedelta(days=10))
    old = run("export", "wacz", str(tmp_path / "d.wacz"), "--sign-cert", str(expired),
              "--sign-key", str(expired_key), "--tsa", "http://127.0.0.1:9/")
    assert old.exit_code == 2 and "not valid now" in old.output
    no_key = run("export", "wacz", str(tmp_path / "c.wacz"), "--sign")
    assert no_key.exit_code == 2 and "archiver keygen --wacz" in no_key.output
    assert not list(tmp_path.glob("*.wacz"))
