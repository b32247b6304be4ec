"""archiver.store.tsp's certificate rules, on certificates made here with `cryptography`:
the EKU rule both `audit` and `verify` now apply (RFC 3161 §2.3: critical, id-kp-timeStamping
alone), validity at genTime, and a path that must end at a named CA root, not at the leaf."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from archiver.store import tsp

NOW = datetime.now(UTC).replace(microsecond=0)


def cert(name: str, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None = None,
         eku: list[x509.ObjectIdentifier] | None = None, critical: bool = True,
         ca: bool = False) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - timedelta(days=1))
               .not_valid_after(NOW + timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), critical=False)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=critical)
    return builder.sign(issuer_key, hashes.SHA256()), key


@pytest.fixture(scope="module")
def root() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    return cert("Test Root", ca=True)


def test_eku_must_be_critical_and_timestamping_alone(root):
    issuer = (root[0].subject, root[1])
    good, _ = cert("tsa", issuer, [ExtendedKeyUsageOID.TIME_STAMPING])
    assert tsp.eku_problem(good) == ""
    both, _ = cert("tsa", issuer, [ExtendedKeyUsageOID.TIME_STAMPING,
                                   ExtendedKeyUsageOID.CODE_SIGNING])
    assert "alone" in tsp.eku_problem(both)  # rfc3161-client's own check would accept it
    loose, _ = cert("tsa", issuer, [ExtendedKeyUsageOID.TIME_STAMPING], critical=False)
    assert "not marked critical" in tsp.eku_problem(loose)
    none, _ = cert("tsa", issuer)
    assert "no extendedKeyUsage" in tsp.eku_problem(none)


def test_validity_is_judged_at_gen_time(root):
    leaf, _ = cert("tsa", (root[0].subject, root[1]), [ExtendedKeyUsageOID.TIME_STAMPING])
    assert tsp.validity_problem(leaf, NOW) == ""
    assert "not at genTime" in tsp.validity_problem(leaf, NOW + timedelta(days=31))
    assert "not at genTime" in tsp.validity_problem(leaf, NOW - timedelta(days=2))


def test_the_path_ends_at_a_named_root_never_at_the_leaf(root):
    leaf, _ = cert("tsa", (root[0].subject, root[1]), [ExtendedKeyUsageOID.TIME_STAMPING])
    path, why = tsp.build_chain(leaf, [], [root[0]], NOW)
    assert path == [leaf, root[0]] and why == ""
    path, why = tsp.build_chain(leaf, [], [leaf], NOW)
    assert path is None and why
    other, _ = cert("Other Root", ca=True)
    path, why = tsp.build_chain(leaf, [], [other], NOW)
    assert path is None and why
    path, why = tsp.build_chain(leaf, [], [root[0]], NOW + timedelta(days=31))
    assert path is None and why  # expired at that genTime
