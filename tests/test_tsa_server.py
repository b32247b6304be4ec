"""The loopback TSA is real: `openssl ts -verify` accepts its good tokens and rejects each
broken variant for the reason the variant stands for."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from rfc3161_client import HashAlgorithm, TimestampRequestBuilder, decode_timestamp_response
from tsa_server import GARBAGE, LoopbackTSA, tsa_fixture

tsa = tsa_fixture()
DATA = b"seq 41 sha256:abc"


def post(tsa: LoopbackTSA, query: bytes, timeout: float = 5) -> bytes:
    req = urllib.request.Request(tsa.url, data=query,
                                 headers={"Content-Type": "application/timestamp-query"})
    with urllib.request.urlopen(req, timeout=timeout) as response:
        assert response.headers["Content-Type"] == "application/timestamp-reply"
        return bytes(response.read())


def query() -> bytes:
    return bytes(TimestampRequestBuilder().data(DATA).hash_algorithm(HashAlgorithm.SHA256)
                 .build().as_bytes())


@pytest.mark.parametrize("mode", ["ok", "short"])
def test_granted_tokens_verify_with_openssl(tsa: LoopbackTSA, mode: str) -> None:
    tsa.mode = mode
    reply = post(tsa, query())
    done = tsa.openssl_verify(reply, data=DATA)
    assert done.returncode == 0, done.stderr
    assert b"Verification: OK" in done.stdout
    assert tsa.openssl_verify(reply, data=DATA + b"x").returncode == 1  # the imprint binds


@pytest.mark.parametrize(("mode", "reason"), [
    ("no-eku", b"unsuitable certificate purpose"),
    ("eku-noncritical", b"unsuitable certificate purpose"),
    ("expired", b"certificate has expired"),
    ("other-imprint", b"message imprint mismatch"),
    ("reject", b"status code: rejection"),
    ("garbage", b"not enough data"),
])
def test_broken_variants_fail_openssl_for_their_reason(tsa: LoopbackTSA, mode: str,
                                                       reason: bytes) -> None:
    with tsa.variant(mode):
        reply = post(tsa, query())
    assert tsa.mode == "ok"
    done = tsa.openssl_verify(reply, data=DATA)
    assert done.returncode == 1
    assert reason in done.stderr


def test_wrong_nonce_keeps_the_imprint_but_not_the_nonce(tsa: LoopbackTSA) -> None:
    q = TimestampRequestBuilder().data(DATA).hash_algorithm(HashAlgorithm.SHA256).build()
    tsa.mode = "wrong-nonce"
    info = decode_timestamp_response(post(tsa, q.as_bytes())).tst_info
    assert info.message_imprint.message == q.message_imprint.message
    assert info.nonce != q.nonce
    # openssl checks the nonce only against a query: the original one fails
    tsa.mode = "wrong-nonce"
    reply = post(tsa, q.as_bytes())
    qfile = tsa.dir / "original.tsq"
    qfile.write_bytes(q.as_bytes())

    done = subprocess.run(["openssl", "ts", "-verify", "-in", "/dev/stdin", "-queryfile",
                           str(qfile), "-CAfile", str(tsa.root_pem)], input=reply,
                          capture_output=True, check=False)
    assert b"nonce mismatch" in done.stderr


def test_garbage_and_hang(tsa: LoopbackTSA) -> None:
    tsa.mode = "garbage"
    assert post(tsa, query()) == GARBAGE
    tsa.mode = "hang"
    started = time.monotonic()
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        post(tsa, query(), timeout=0.5)
    assert time.monotonic() - started < 3


def test_certificates(tsa: LoopbackTSA) -> None:
    from cryptography import x509

    root = x509.load_pem_x509_certificate(tsa.root_pem.read_bytes())
    good = x509.load_pem_x509_certificate(tsa.cert_pem("ok").read_bytes())
    eku = good.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and x509.ExtendedKeyUsageOID.TIME_STAMPING in eku.value
    assert good.issuer == root.subject
    expired = x509.load_pem_x509_certificate(tsa.cert_pem("expired").read_bytes())
    assert expired.not_valid_after_utc < good.not_valid_before_utc
    no_eku = x509.load_pem_x509_certificate(tsa.cert_pem("no-eku").read_bytes())
    with pytest.raises(x509.ExtensionNotFound):
        no_eku.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert tsa.requests >= 0
