"""`export wacz --sign`: the `signedData` of WACZ Signing and Verification 0.1.0.

Two forms, exactly as the spec lists their properties (nothing else may appear):

- anonymous (what ArchiveWeb.page writes, what ReplayWeb.page checks): ECDSA P-384 with
  SHA-256 over the `hash` string, the signature as IEEE P1363 r||s (WebCrypto's form) in
  base64, `publicKey` the base64 SPKI DER; plus `created`, `software`, `version`.
- domain (what authsign writes): the same signature made with the key of a certificate
  (`domainCert`, PEM chain, leaf first; ECDSA as DER like authsign, or RSA PKCS#1 v1.5 with
  SHA-256), `domain` named by it, and `timeSignature`: a TSA's whole TimeStampResp (RFC 3161)
  over the base64 `signature` string, with `timestampCert` the TSA's PEM chain. `created`
  comes before the request, so genTime is never earlier (authsign and py-wacz expect that)
  and must be within 10 minutes of it.

`created` is also datapackage.json's own `created`: py-wacz's `wacz validate` refuses a
package where the two differ.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from archiver.base.errors import ArchiverError, FetchError, UnreadableInputError, UsageError
from archiver.check.wacz_verify import certificate_names
from archiver.store import package_key, timestamps, tsp

SPEC_VERSION = "0.1.0"  # WACZ Signing and Verification
MAX_CLOCK_GAP = timedelta(minutes=10)


@dataclass(frozen=True)
class SignOptions:
    """How to sign: anonymous with `key` (default: `archiver keygen --wacz`'s key), or with a
    domain certificate `cert` and its `key`, time-stamped by the TSA at `tsa_url`."""

    key: Path | None = None
    cert: Path | None = None
    tsa_url: str | None = None
    tsa_cert: Path | None = None  # the TSA's PEM chain, when its replies carry none
    domain: str | None = None
    tsa_timeout: float = 10.0

    @property
    def domain_mode(self) -> bool:
        return self.cert is not None

    def check(self) -> None:
        """Usage errors before any work is done."""
        if self.domain_mode and (self.key is None or not self.tsa_url):
            raise UsageError("domain signing needs --sign-cert, --sign-key and --tsa")
        if not self.domain_mode and (self.tsa_url or self.tsa_cert or self.domain):
            raise UsageError("--tsa, --tsa-cert and --domain belong to domain signing "
                             "(--sign-cert)")
        # the key and certificate are read now too: a missing one found only when the
        # package is signed would come after every WARC had been packed
        if self.domain_mode:
            assert self.cert is not None and self.key is not None
            _read_chain(self.cert, "the domain certificate")
            package_key.load_signing_key(self.key)
        else:
            package_key.load_anonymous_key(self.key)


def created_now() -> str:
    """Whole seconds, UTC, as py-wacz and authsign write `created`: a TSA's genTime (whole
    seconds at OpenSSL's default accuracy) cannot then be earlier than it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(hash_: str, created: str, software: str, options: SignOptions) -> dict[str, str]:
    """The signedData for a datapackage.json whose digest is `hash_` ("sha256:<hex>")."""
    options.check()
    if options.domain_mode:
        return _domain(hash_, created, software, options)
    return _anonymous(hash_, created, software, options)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _anonymous(hash_: str, created: str, software: str,
               options: SignOptions) -> dict[str, str]:
    key = package_key.load_anonymous_key(options.key)
    der = key.sign(hash_.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    size = (key.curve.key_size + 7) // 8  # 48 bytes each for P-384
    return {"hash": hash_, "created": created, "software": software,
            "version": SPEC_VERSION,
            "signature": _b64(r.to_bytes(size, "big") + s.to_bytes(size, "big")),
            "publicKey": _b64(package_key.spki_der(key.public_key()))}


def _read_chain(path: Path, what: str) -> tuple[str, list[x509.Certificate]]:
    try:
        text = path.read_text("ascii")
        certs = x509.load_pem_x509_certificates(text.encode("ascii"))
    except OSError as exc:
        raise UnreadableInputError(f"{path}: cannot read {what}: {exc.strerror}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadableInputError(f"{path}: not a PEM certificate chain ({what})") from exc
    return text, certs


def _domain(hash_: str, created: str, software: str, options: SignOptions) -> dict[str, str]:
    assert options.cert is not None and options.key is not None and options.tsa_url
    _, chain = _read_chain(options.cert, "the domain certificate")
    # One blank line between certificates, as authsign writes domainCert: ReplayWeb.page
    # takes the first certificate as the text before the first blank line.
    cert_pem = "\n".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii")
                         for c in chain)
    key = package_key.load_signing_key(options.key)
    if package_key.spki_der(key.public_key()) != package_key.spki_der(chain[0].public_key()):
        raise UsageError(f"{options.key}: not the key of the first certificate in "
                         f"{options.cert}")
    now = datetime.now(UTC)
    if not chain[0].not_valid_before_utc <= now <= chain[0].not_valid_after_utc:
        raise UsageError(f"{options.cert}: the certificate is not valid now (valid "
                         f"{chain[0].not_valid_before_utc:%Y-%m-%d} to "
                         f"{chain[0].not_valid_after_utc:%Y-%m-%d})")
    names = certificate_names(chain[0])
    domain = options.domain or (names[0] if names else "")
    if not domain or domain not in names:
        raise UsageError(f"{options.cert}: the certificate does not name "
                         f"{domain or 'any domain'} (it names {', '.join(names) or 'none'})")
    signature = _b64(_sign_data(key, hash_.encode("utf-8")))
    reply, signer_pem = request_timestamp(options.tsa_url, signature.encode("ascii"),
                                          created, options)
    return {"hash": hash_, "created": created, "software": software,
            "version": SPEC_VERSION, "signature": signature, "domain": domain,
            "domainCert": cert_pem, "timeSignature": _b64(reply),
            "timestampCert": signer_pem}


def _sign_data(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))  # DER, as authsign signs
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def request_timestamp(url: str, message: bytes, created: str,
                      options: SignOptions) -> tuple[bytes, str]:
    """Ask the TSA for a time-stamp over `message` (SHA-256 imprint, a random nonce, certReq
    true); (the whole TimeStampResp as received, the TSA's PEM chain). Everything the reply
    promises is checked here before it goes into a package: granted, nonce echoed, imprint,
    genTime within 10 minutes of `created`."""
    import requests

    query, nonce = timestamps.build_query(message)
    try:
        http = requests.post(url, data=query, timeout=options.tsa_timeout,
                             headers={"Content-Type": timestamps.QUERY_TYPE})
    except requests.RequestException as exc:
        raise FetchError(f"{url}: the TSA did not answer ({type(exc).__name__}); nothing "
                         "was packaged") from exc
    if http.status_code != 200:
        raise FetchError(f"{url}: the TSA answered HTTP {http.status_code}; nothing was "
                         "packaged")
    reply = http.content
    try:
        resp = tsp.parse(reply)
    except tsp.TokenError as exc:
        raise FetchError(f"{url}: {exc}; nothing was packaged") from exc
    try:
        problem = _reply_problem(resp, nonce, message, created)
        if problem:
            raise FetchError(f"{url}: {problem}; nothing was packaged")
        return reply, _tsa_chain_pem(resp, options.tsa_cert, url)
    except (KeyboardInterrupt, SystemExit, ArchiverError):
        raise
    except BaseException as exc:  # read lazily: a hostile field raises when first touched
        raise FetchError(f"{url}: the TSA's reply is malformed ({type(exc).__name__}); "
                         "nothing was packaged") from exc


def _reply_problem(resp: Any, nonce: int | None, message: bytes, created: str) -> str | None:
    if tsp.status_problem(resp):
        return f"the TSA refused ({tsp.status_name(resp)})"
    if nonce is None or tsp.nonce_problem(resp, nonce):
        return "the TSA's reply does not echo our nonce"
    if tsp.imprint_problem(resp, message):
        return "the TSA's reply is for other data"
    gap = abs(tsp.gen_time(resp) - datetime.fromisoformat(created))
    if gap > MAX_CLOCK_GAP:
        return (f"the TSA's genTime is {int(gap.total_seconds())} s from this clock's "
                "(more than 10 minutes: check the clock)")
    return None


def _tsa_chain_pem(resp: Any, tsa_cert: Path | None, url: str) -> str:
    """`timestampCert`: the chain given with --tsa-cert, else the certificates the reply
    carries, the signer (SignerInfo) first."""
    if tsa_cert is not None:
        text, certs = _read_chain(tsa_cert, "the TSA certificate")
        if tsp.signer_certificate(resp, certs[:1]) is None:
            raise UsageError(f"{tsa_cert}: its first certificate did not sign the TSA's reply")
        return text
    carried = tsp.token_certificates(resp)
    signer = tsp.signer_certificate(resp, [])
    if signer is None:
        raise FetchError(f"{url}: the reply carries no signer certificate; give the TSA's "
                         "chain with --tsa-cert")
    rest = [c for c in carried if c != signer]
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii")
                   for c in [signer, *rest])
