"""`archiver verify PACKAGE.wacz`: every step of WACZ Signing and Verification 0.1.0, offline,
for any WACZ (ours, ArchiveWeb.page's, authsign's through py-wacz), each step a named check.

Steps (the spec's "Verification" section, numbered as there):
  1. every resource's hash and size against datapackage.json (and no file left unlisted);
  2. the digest of datapackage.json in datapackage-digest.json;
  3. signedData well-formed: one object, only the listed properties of one of the two forms;
  4. the signature of the `hash` string: anonymous ECDSA P-256/P-384 with `publicKey` (SPKI),
     IEEE P1363 r||s (ArchiveWeb.page, WebCrypto) or DER; domain mode ECDSA or RSA with the
     first certificate of `domainCert`;
  5. `domain` against that certificate's subject CN / subjectAltName dNSName;
  6. `timeSignature` (a TimeStampResp) over the `signature` string: status, imprint, signer
     certificate (SignerInfo) with a critical id-kp-timeStamping EKU, the CMS signature;
  7. `created` within 10 minutes of genTime;
  8.-9. both chains to roots the user names (--trust-roots), valid at genTime: a certificate
     expired since is reported, not failed (the time-stamp proves it signed while valid).
Then archiver's own proofs when the package carries them: the manifest's hash chain, its
Ed25519 head signatures over the packaged manifest, the packaged files against it, its
checkpoints, and each RFC 3161 token over one of its heads (the same checks as audit's).

WebCrypto's ECDSA (ArchiveWeb.page and ReplayWeb.page) hashes with SHA-256 whatever the curve,
and authsign signs with SHA-256 too, so SHA-256 is the digest checked for every key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import shutil
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from archiver.base.errors import UnreadableInputError
from archiver.check import timestamps as tsa_check
from archiver.store import checkpoints, manifest, package_key, signing, timestamps, tsp
from archiver.store.archive import Archive

Status = Literal["pass", "fail", "skip", "info"]
DATAPACKAGE = "datapackage.json"
DIGEST = "datapackage-digest.json"
MAX_CLOCK_GAP = timedelta(minutes=10)  # spec step 7
DIGEST_KEYS = {"path", "hash", "signedData"}
COMMON_KEYS = {"hash", "created", "software", "version", "signature"}
ANONYMOUS_KEYS = COMMON_KEYS | {"publicKey"}
DOMAIN_KEYS = COMMON_KEYS | {"domain", "domainCert", "timeSignature", "timestampCert",
                             "crossSignedCert"}
ANONYMOUS_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}
ARCHIVER_DIR = "archiver"  # where our export puts the manifest and its proofs
READ_CHUNK = 1 << 20
DIGESTS = {"sha256", "sha384", "sha512", "sha1", "md5"}  # what WACZ writers use (py-wacz: md5)
MAX_JSON = 64 << 20  # datapackage.json and its digest are read whole: a bomb stops here
# What reading a damaged member raises: a bad CRC, a bad deflate stream, a cut-short file
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError)


@dataclass(frozen=True)
class Check:
    """One verification step and its outcome; `skip` = not checked (nothing to check it
    against), never a pass."""

    name: str
    status: Status
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "detail": self.detail}

    def render(self) -> str:
        return f"{self.status.upper():4} {self.name}: {self.detail}"


@dataclass(frozen=True)
class TrustOptions:
    """What the user trusts, from outside the package."""

    roots: tuple[x509.Certificate, ...] = ()
    keys: tuple[Any, ...] = ()  # public keys (ECDSA for anonymous packages, Ed25519 heads)
    witnesses: tuple[checkpoints.Verifier, ...] = ()  # vkeys whose cosignatures count
    witnesses_min: int = 1


def failed(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.status == "fail"]


# ---------------------------------------------------------------- inputs


def load_roots(paths: list[Path]) -> tuple[x509.Certificate, ...]:
    """--trust-roots: the TSA roots loader, worded for verify."""
    return tuple(tsa_check.load_roots(paths, cannot_read="cannot read",
                                      not_pem="not a PEM certificate file"))


def load_keys(paths: list[Path]) -> tuple[Any, ...]:
    keys = []
    for path in paths:
        try:
            keys.append(serialization.load_pem_public_key(path.read_bytes()))
        except OSError as exc:
            raise UnreadableInputError(f"{path}: cannot read: {exc.strerror}") from exc
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise UnreadableInputError(f"{path}: not a PEM public key") from exc
    return tuple(keys)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object hook that refuses a key given twice (json.loads keeps the last one
    silently, so two `signedData` would pass unseen)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"property {key!r} appears twice")
        out[key] = value
    return out


# ---------------------------------------------------------------- the package


def verify_package(path: Path, trust: TrustOptions | None = None) -> list[Check]:
    """Every check, in the spec's order. UnreadableInputError (exit 2) only when the file is
    not a ZIP or has no readable datapackage.json: anything else is a named failed check."""
    trust = trust or TrustOptions()
    try:
        zf = zipfile.ZipFile(path)
    except (*ZIP_ERRORS, ValueError, struct.error) as exc:  # a damaged central directory
        raise UnreadableInputError(f"{path}: not a readable ZIP/WACZ ({exc})") from exc
    with zf:
        names = {i.filename: i for i in zf.infolist() if not i.is_dir()}
        if DATAPACKAGE not in names:
            raise UnreadableInputError(f"{path}: no datapackage.json (not a WACZ)")
        try:
            package_bytes = _read_small(zf, names[DATAPACKAGE])
            package = json.loads(package_bytes, object_pairs_hook=_unique_keys)
        except (ValueError, *ZIP_ERRORS) as exc:
            raise UnreadableInputError(f"{path}: datapackage.json unreadable ({exc})") from exc
        if not isinstance(package, dict):
            raise UnreadableInputError(f"{path}: datapackage.json is not a JSON object")
        cache: _HashCache = {}
        checks = list(_resource_checks(zf, names, package, cache))
        checks += _digest_checks(zf, names, package_bytes, package, trust)
        checks += _proof_checks(zf, names, trust, cache)
    return checks


_HashCache = dict[tuple[str, str], tuple[str, int]]


def _read_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A JSON member read whole, refused past MAX_JSON (by its declared and its real size)."""
    if info.file_size > MAX_JSON:
        raise ValueError(f"{info.filename} is {info.file_size} bytes (more than {MAX_JSON})")
    with zf.open(info) as f:
        data = f.read(MAX_JSON + 1)
    if len(data) > MAX_JSON:
        raise ValueError(f"{info.filename} inflates past {MAX_JSON} bytes")
    return data


def _extract(zf: zipfile.ZipFile, name: str, target: Path) -> None:
    """A member copied to a file in chunks (a manifest can be large)."""
    with zf.open(name) as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out, READ_CHUNK)


def _hash_member(zf: zipfile.ZipFile, name: str, algorithm: str,
                 cache: _HashCache | None = None) -> tuple[str, int]:
    """(hex digest, size) of a member, read once per algorithm (WARCs can be large)."""
    if cache is not None and (name, algorithm) in cache:
        return cache[(name, algorithm)]
    h = hashlib.new(algorithm)
    size = 0
    with zf.open(name) as f:
        while chunk := f.read(READ_CHUNK):
            h.update(chunk)
            size += len(chunk)
    if cache is not None:
        cache[(name, algorithm)] = (h.hexdigest(), size)
    return h.hexdigest(), size


def _resource_checks(zf: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo],
                     package: dict[str, Any], cache: _HashCache) -> Iterator[Check]:
    resources = package.get("resources")
    if not isinstance(resources, list) or not resources:
        yield Check("resources", "fail", "datapackage.json lists no resources")
        return
    listed: set[str] = set()
    bad = 0
    for res in resources:
        problem = _resource_problem(zf, names, res, cache)
        if isinstance(res, dict) and isinstance(res.get("path"), str):
            listed.add(res["path"])
        if problem:
            bad += 1
            yield Check("resource-hash", "fail", problem)
    unlisted = sorted(set(names) - listed - {DATAPACKAGE, DIGEST})
    if unlisted:
        bad += 1
        yield Check("resources-listed", "fail",
                    f"{len(unlisted)} file(s) not listed in datapackage.json, so no signature "
                    f"covers them: {', '.join(unlisted[:5])}")
    if not bad:
        yield Check("resources", "pass",
                    f"{len(resources)} resources match their hash and size in datapackage.json")


def _resource_hash(res: Any) -> tuple[str, str, int | None] | None:
    """(algorithm, hex digest, bytes or None) of a resource entry: WACZ 1.1 `hash`
    "sha256:hex" and `bytes`, or WACZ 1.0's `stats` {"hash": hex sha256, "bytes"}."""
    if not isinstance(res, dict):
        return None
    if isinstance(res.get("stats"), dict) and "hash" not in res:
        res = res["stats"]
    value, size = res.get("hash"), res.get("bytes")
    if not isinstance(value, str) or not value:
        return None
    algo, _, digest = value.rpartition(":")
    return algo or "sha256", digest.lower(), size if isinstance(size, int) else None


def _resource_problem(zf: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo],
                      res: Any, cache: _HashCache) -> str | None:
    parsed = _resource_hash(res)
    if parsed is None or not isinstance(res.get("path"), str):
        return f"malformed resource entry {json.dumps(res)[:120]}"
    name, (algo, expected, expected_size) = res["path"], parsed
    if name not in names:
        return f"{name}: listed in datapackage.json but missing from the package"
    if algo not in DIGESTS:
        return f"{name}: unknown hash algorithm {algo!r}"
    try:
        actual, size = _hash_member(zf, name, algo, cache)
    except ZIP_ERRORS as exc:
        return f"{name}: unreadable in the ZIP ({exc})"
    if actual != expected:
        return f"{name}: {algo} differs from datapackage.json (changed after packaging)"
    if expected_size is not None and expected_size != size:
        return f"{name}: {size} bytes, datapackage.json says {expected_size}"
    return None


# ---------------------------------------------------------------- digest and signedData


def _digest_checks(zf: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo],
                   package_bytes: bytes, package: dict[str, Any],
                   trust: TrustOptions) -> list[Check]:
    if DIGEST not in names:
        return [Check("digest", "fail", "no datapackage-digest.json: the package is not "
                                        "signed")]
    try:
        digest = json.loads(_read_small(zf, names[DIGEST]), object_pairs_hook=_unique_keys)
    except (ValueError, *ZIP_ERRORS) as exc:
        return [Check("digest-format", "fail", f"datapackage-digest.json: {exc}")]
    if not isinstance(digest, dict):
        return [Check("digest-format", "fail", "datapackage-digest.json is not a JSON object")]
    checks: list[Check] = []
    extra = sorted(set(digest) - DIGEST_KEYS)
    if extra:
        checks.append(Check("digest-format", "fail",
                            f"datapackage-digest.json has properties the spec does not list: "
                            f"{', '.join(extra)}"))
    claimed = str(digest["hash"]) if isinstance(digest.get("hash"), str) else ""
    algo = claimed.partition(":")[0] if ":" in claimed else "sha256"
    algo = algo if algo in DIGESTS else "sha256"
    actual = f"{algo}:" + hashlib.new(algo, package_bytes).hexdigest()
    if digest.get("path") != DATAPACKAGE or claimed != actual:
        checks.append(Check("digest", "fail",
                            f"datapackage-digest.json names {digest.get('path')!r} with hash "
                            f"{digest.get('hash')!r}; datapackage.json hashes to {actual}"))
    else:
        checks.append(Check("digest", "pass", f"datapackage.json is {actual}"))
    signed = digest.get("signedData")
    if signed is None:
        checks.append(Check("signed-data", "fail", "datapackage-digest.json has no "
                                                   "signedData: the package is not signed"))
        return checks
    return checks + _signed_checks(signed, digest.get("hash"), package, trust)


def _signed_checks(signed: Any, digest_hash: Any, package: dict[str, Any],
                   trust: TrustOptions) -> list[Check]:
    if not isinstance(signed, dict):
        return [Check("signed-data", "fail", "signedData must be one JSON object "
                                             f"(found {type(signed).__name__})")]
    domain_mode = "domainCert" in signed or "domain" in signed
    allowed = DOMAIN_KEYS if domain_mode else ANONYMOUS_KEYS
    required = (DOMAIN_KEYS - {"crossSignedCert", "version", "software"} if domain_mode
                else ANONYMOUS_KEYS - {"version", "software"})
    checks: list[Check] = []
    extra = sorted(set(signed) - allowed)
    missing = sorted(required - set(signed))
    wrong_type = sorted(k for k, v in signed.items() if k in allowed and not isinstance(v, str))
    if extra or missing or wrong_type:
        parts = ([f"properties not in the spec: {', '.join(extra)}"] if extra else []) + \
                ([f"missing: {', '.join(missing)}"] if missing else []) + \
                ([f"not strings: {', '.join(wrong_type)}"] if wrong_type else [])
        checks.append(Check("signed-data", "fail", "; ".join(parts)))
        if missing or wrong_type:
            return checks
    else:
        checks.append(Check("signed-data", "pass",
                            f"{'domain' if domain_mode else 'anonymous'} signature by "
                            f"{signed.get('software') or 'unnamed software'}"))
    if signed["hash"] != digest_hash:  # the digest check compares that with the bytes
        checks.append(Check("signed-hash", "fail", f"signedData.hash {signed['hash']} is not "
                                                   f"the hash datapackage-digest.json names"))
    created = _parse_time(signed["created"])
    if created is None:
        checks.append(Check("created", "fail", f"created {signed['created']!r} is not an "
                                               "ISO 8601 date-time"))
    if package.get("created") != signed["created"]:
        # py-wacz's validate requires this; the spec does not
        checks.append(Check("created-match", "info",
                            f"datapackage.json created {package.get('created')!r} differs "
                            f"from signedData created {signed['created']!r} (py-wacz "
                            "refuses that)"))
    if domain_mode:
        return checks + _guarded("domain", lambda: _domain_checks(signed, created, trust))
    return checks + _guarded("signature", lambda: _anonymous_checks(signed, trust))


def _guarded(name: str, run: Callable[[], list[Check]]) -> list[Check]:
    """Certificates and tokens are parsed lazily by cryptography and rfc3161-client: a
    hostile field (an odd string tag in a name, a bad version) raises wherever it is first
    read, with whatever exception its parser uses. Whatever it is, the package is at fault:
    a named failed check, never a traceback."""
    try:
        return run()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # pyo3's PanicException derives from BaseException
        return [Check(name, "fail", f"a certificate or time-stamp in signedData is malformed "
                                    f"({type(exc).__name__}: {exc})")]


def _parse_time(text: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def ecdsa_signature_forms(sig: bytes, curve: ec.EllipticCurve) -> list[bytes]:
    """The DER forms a signature may stand for: IEEE P1363 r||s (WebCrypto's) converted when
    its length fits the curve, and the bytes as DER (authsign's) in any case."""
    size = (curve.key_size + 7) // 8
    forms = [sig]
    if len(sig) == 2 * size:
        forms.insert(0, encode_dss_signature(int.from_bytes(sig[:size], "big"),
                                             int.from_bytes(sig[size:], "big")))
    return forms


def verify_with(key: Any, sig: bytes, data: bytes) -> str | None:
    """None when `sig` is a valid signature of `data` by `key` (ECDSA or RSA, SHA-256),
    else why not."""
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        return f"unsupported key type {type(key).__name__}"
    forms = ecdsa_signature_forms(sig, key.curve) if isinstance(
        key, ec.EllipticCurvePublicKey) else [sig]
    for form in forms:
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(form, data, ec.ECDSA(hashes.SHA256()))
            else:
                key.verify(form, data, padding.PKCS1v15(), hashes.SHA256())
            return None
        except (InvalidSignature, ValueError):
            continue
    return "the signature does not verify"


def _anonymous_checks(signed: dict[str, str], trust: TrustOptions) -> list[Check]:
    der = _b64(signed["publicKey"])
    try:
        key = serialization.load_der_public_key(der) if der else None
    except (ValueError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in ANONYMOUS_CURVES:
        return [Check("signature", "fail", "publicKey is not a base64 SPKI ECDSA P-256/P-384 "
                                           "public key")]
    sig = _b64(signed["signature"])
    problem = "signature is not base64" if sig is None else \
        verify_with(key, sig, signed["hash"].encode("utf-8"))
    curve = ANONYMOUS_CURVES[key.curve.name]
    fingerprint = package_key.fingerprint(key)  # "sha256:" and 16 hex
    checks = [Check("signature", "fail", f"{problem} (anonymous {curve} key "
                                         f"{fingerprint.removeprefix('sha256:')})")
              if problem else
              Check("signature", "pass", f"ECDSA {curve} signature of the hash by key "
                                         f"{fingerprint}")]
    ec_trusted = [k for k in trust.keys if isinstance(k, ec.EllipticCurvePublicKey)]
    if not ec_trusted:
        checks.append(Check("key-trusted", "skip", "anonymous signature: the publicKey is "
                                                   "known only from the package; give "
                                                   "--trusted-key to check who signed"))
    elif package_key.spki_der(key) in {package_key.spki_der(k) for k in ec_trusted}:
        checks.append(Check("key-trusted", "pass", f"publicKey {fingerprint} is a "
                                                   "trusted key"))
    else:
        checks.append(Check("key-trusted", "fail", f"publicKey {fingerprint} is none "
                                                   "of the trusted keys"))
    return checks


def _pem_chain(text: str) -> list[x509.Certificate] | None:
    try:
        return x509.load_pem_x509_certificates(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None


def _domain_checks(signed: dict[str, str], created: datetime | None,
                   trust: TrustOptions) -> list[Check]:
    checks: list[Check] = []
    chain = _pem_chain(signed["domainCert"])
    if not chain:
        return [Check("signature", "fail", "domainCert is not a PEM certificate chain")]
    leaf = chain[0]
    sig = _b64(signed["signature"])
    problem = "signature is not base64" if sig is None else \
        verify_with(leaf.public_key(), sig, signed["hash"].encode("utf-8"))
    checks.append(Check("signature", "fail", f"{problem} (first certificate of domainCert)")
                  if problem else
                  Check("signature", "pass", "signature of the hash verifies with the first "
                                             "certificate of domainCert"))
    if "crossSignedCert" in signed:
        checks.append(_cross_signed_check(signed, leaf))
    checks.append(_domain_name_check(signed["domain"], leaf))
    token_checks, gen = _time_checks(signed, created, trust)
    checks += token_checks
    if gen is not None:
        checks.append(_valid_at("domain-cert-time", leaf, gen))
    checks.append(_domain_chain_check(chain, gen, trust))
    return checks


def _cross_signed_check(signed: dict[str, str], leaf: x509.Certificate) -> Check:
    chain = _pem_chain(signed["crossSignedCert"])
    if not chain:
        return Check("cross-signed", "fail", "crossSignedCert is not a PEM certificate chain")
    if package_key.spki_der(chain[0].public_key()) != package_key.spki_der(leaf.public_key()):
        return Check("cross-signed", "fail", "crossSignedCert has another public key than "
                                             "domainCert")
    return Check("cross-signed", "pass", "crossSignedCert has the domainCert's public key")


def certificate_names(cert: x509.Certificate) -> list[str]:
    """The subject CN and the subjectAltName dNSNames of a certificate."""
    names = [str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names += san.value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        pass
    return names


def _name_matches(domain: str, name: str) -> bool:
    domain, name = domain.lower().rstrip("."), name.lower().rstrip(".")
    if name.startswith("*."):  # a wildcard covers exactly one label (RFC 6125 §6.4.3)
        head, _, rest = domain.partition(".")
        return bool(head) and rest == name[2:]
    return domain == name


def _domain_name_check(domain: str, leaf: x509.Certificate) -> Check:
    names = certificate_names(leaf)
    if any(_name_matches(domain, n) for n in names):
        return Check("domain", "pass", f"{domain} is named by the domain certificate")
    return Check("domain", "fail", f"{domain!r} is not the domain certificate's subject or "
                                   f"subjectAltName ({', '.join(names) or 'none'})")


def _time_checks(signed: dict[str, str], created: datetime | None,
                 trust: TrustOptions) -> tuple[list[Check], datetime | None]:
    """Spec steps 6, 7 and 9: the time-stamp over the signature string."""
    der = _b64(signed["timeSignature"])
    if der is None:
        return [Check("time-token", "fail", "timeSignature is not base64")], None
    try:
        resp = tsp.parse(der)
    except tsp.TokenError as exc:
        return [Check("time-token", "fail", f"timeSignature: {exc}")], None
    problem = tsp.status_problem(resp)
    if problem:
        return [Check("time-token", "fail", f"timeSignature {problem}")], None
    when = tsp.gen_time(resp)
    checks = [Check("time-token", "pass", f"a granted time-stamp, genTime {tsp.iso(when)}")]
    message = signed["signature"].encode("ascii", "replace")
    problem = tsp.imprint_problem(resp, message)
    checks.append(Check("time-imprint", "fail", f"{problem} (a token for other data than the "
                                                "signature)")
                  if problem else
                  Check("time-imprint", "pass", f"{tsp.imprint_algorithm(resp)} imprint of "
                                                "the signature string"))
    presented = _pem_chain(signed["timestampCert"]) or []
    signer = tsp.signer_certificate(resp, presented)
    if signer is None:
        checks.append(Check("time-signer", "fail", "no certificate in the token or "
                                                   "timestampCert matches its SignerInfo"))
        return checks, when
    if presented and presented[0] != signer:
        checks.append(Check("time-signer", "fail", "the first timestampCert certificate is "
                                                   "not the one that signed the time-stamp"))
    problem = tsp.eku_problem(signer)
    checks.append(Check("time-signer-eku", "fail", f"the TSA certificate {problem}")
                  if problem else
                  Check("time-signer-eku", "pass", f"{_subject(signer)} has a critical "
                                                   "extendedKeyUsage, id-kp-timeStamping alone"))
    everything = [*tsp.token_certificates(resp), *presented]
    trusted = (tsp.trust_problem(resp, signer, everything, list(trust.roots), when)
               if trust.roots else None)
    checks.append(_time_signature_check(resp, signer, everything, trusted))
    if created is not None:
        gap = abs(created - when)
        checks.append(Check("created-time", "pass" if gap <= MAX_CLOCK_GAP else "fail",
                            f"created {tsp.iso(created)} is {int(gap.total_seconds())} s from "
                            f"genTime {tsp.iso(when)} (at most {int(MAX_CLOCK_GAP.seconds)} s)"))
    checks.append(_tsa_chain_check(trusted, signer, when))
    return checks, when


_Trust = tuple[str, str, list[x509.Certificate] | None]


def _time_signature_check(resp: Any, signer: x509.Certificate,
                          presented: list[x509.Certificate], trusted: _Trust | None) -> Check:
    """The token's CMS signature: proven along a chain to the trust roots, or else with the
    root the TSA presented (which tells a broken signature from an untrusted root)."""
    if trusted is not None and trusted[2] is not None:
        return Check("time-signature", "pass", f"signed by {_subject(signer)}")
    own_root = tsp.presented_root(signer, presented)
    if own_root is None:
        return Check("time-signature", "skip", "no root presented beside the token and none "
                                               "of the trust roots verifies it: the signature "
                                               "alone is not judged")
    problem = tsp.signature_problem(resp, signer, presented, [own_root])
    if not problem:
        return Check("time-signature", "pass", f"signed by {_subject(signer)} (with the "
                                               "root it presents)")
    return Check("time-signature", "fail", f"the time-stamp does not verify with its own "
                                           f"certificates: {problem}")


def _tsa_chain_check(trusted: _Trust | None, signer: x509.Certificate,
                     when: datetime) -> Check:
    """The TSA certificate valid at genTime, chained to a root the user named, and the
    token verified along that chain (archiver.store.tsp.trust_problem)."""
    if trusted is None:
        return Check("time-chain", "skip", "no --trust-roots given: the TSA is not judged")
    step, why, path = trusted
    if path is None:
        what = {"validity": f"{_subject(signer)} {why}",
                "chain": f"the TSA certificate does not chain to a trusted root valid at "
                         f"genTime {tsp.iso(when)}: {why}",
                "signature": f"the time-stamp does not verify along the TSA certificate's "
                             f"chain to a trusted root: {why}"}[step]
        return Check("time-chain", "fail", what)
    return _expired_since("time-chain", signer, f"{_subject(signer)} chains to a trusted root "
                                                f"at genTime {tsp.iso(when)}")


def _domain_chain_check(chain: list[x509.Certificate], when: datetime | None,
                        trust: TrustOptions) -> Check:
    if when is None:
        return Check("domain-chain", "skip", "no genTime to judge the domain certificate at")
    if not trust.roots:
        return Check("domain-chain", "skip", "no --trust-roots given: the domain certificate "
                                             "is not judged")
    # The leaf is an ordinary certificate (any EKU: a TLS server certificate signs here); the
    # CAs above it are held to the Web PKI profile cryptography implements, at genTime.
    path, problem = tsp.build_chain(chain[0], chain[1:], list(trust.roots), when)
    if path is None:
        top = chain[-1]
        known = any(r.subject == top.issuer or r.subject == top.subject for r in trust.roots)
        why = "" if known else (f" (the chain's top, {_subject(top)}, is issued by "
                                f"{top.issuer.rfc4514_string()}, which is not in the trust "
                                "roots)")
        return Check("domain-chain", "fail", f"the domain certificate does not chain to a "
                                             f"trusted root valid at genTime {tsp.iso(when)}"
                                             f"{why}: {problem}")
    return _expired_since("domain-chain", chain[0], f"{_subject(chain[0])} chains to a trusted "
                                                    f"root at genTime {tsp.iso(when)}")


def _valid_at(name: str, cert: x509.Certificate, when: datetime) -> Check:
    """The signing certificate was within its validity when the TSA saw the signature (with
    or without roots: an expired or not-yet-valid key signed nothing trustworthy)."""
    before, after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if before <= when <= after:
        return Check(name, "pass", f"{_subject(cert)} was valid at genTime {tsp.iso(when)} "
                                   f"({tsp.iso(before)} to {tsp.iso(after)})")
    return Check(name, "fail", f"{_subject(cert)} was not valid at genTime {tsp.iso(when)} "
                               f"(valid {tsp.iso(before)} to {tsp.iso(after)})")


def _expired_since(name: str, cert: x509.Certificate, ok: str) -> Check:
    after = cert.not_valid_after_utc
    if after < datetime.now(UTC):
        return Check(name, "pass", f"{ok}; the certificate has expired since ({tsp.iso(after)}), "
                                   "which the time-stamp makes harmless")
    return Check(name, "pass", ok)


def _subject(cert: x509.Certificate) -> str:
    """The CN when there is one (full subjects run long), else the whole subject."""
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return f"CN={cn[0].value!s}" if cn else (cert.subject.rfc4514_string() or "(no subject)")


# ---------------------------------------------------------------- archiver's own proofs


def _proof_checks(zf: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo],
                  trust: TrustOptions, cache: _HashCache) -> list[Check]:
    """When the package carries archiver's manifest: its hash chain, its Ed25519 head
    signatures over this packaged manifest, and the packed files against the digests the
    manifest names (archiver/files.jsonl maps them)."""
    manifest_name = f"{ARCHIVER_DIR}/manifest.jsonl"
    if manifest_name not in names:
        return []
    try:
        return _read_proofs(zf, names, trust, cache)
    except ZIP_ERRORS as exc:  # a damaged member: the resource check names it too
        return [Check("manifest-proofs", "fail", f"a proof file is unreadable in the ZIP "
                                                 f"({exc})")]
    except (KeyError, TypeError, ValueError) as exc:  # a hostile packaged manifest's shapes
        return [Check("manifest-proofs", "fail", f"the packaged proofs are malformed "
                                                 f"({type(exc).__name__}: {exc})")]


def _read_proofs(zf: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo],
                 trust: TrustOptions, cache: _HashCache) -> list[Check]:
    manifest_name = f"{ARCHIVER_DIR}/manifest.jsonl"
    with tempfile.TemporaryDirectory(prefix="archiver-verify-") as tmp:
        root = Path(tmp)
        _extract(zf, manifest_name, root / "manifest.jsonl")
        checks = [_chain_check(root / "manifest.jsonl")]
        sig_name = f"{ARCHIVER_DIR}/{signing.SIG_NAME}"
        if sig_name in names:
            _extract(zf, sig_name, root / signing.SIG_NAME)
            checks.append(_head_signature_check(Archive(root), trust))
        else:
            checks.append(Check("manifest-signature", "skip", "the packaged manifest carries no "
                                                              "Ed25519 head signature"))
        checks.append(_packed_files_check(zf, names, root / "manifest.jsonl", cache))
        packed_checkpoints = [n for n in names
                              if n.startswith(f"{ARCHIVER_DIR}/{checkpoints.FOLDER}_")]
        if packed_checkpoints:
            checks.append(_checkpoint_check(zf, packed_checkpoints, Archive(root), trust))
        checks += _token_checks(zf, names, Archive(root), trust)
    return checks


def _token_checks(zf: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo], archive: Archive,
                  trust: TrustOptions) -> list[Check]:
    """The archive's own RFC 3161 tokens the packaged manifest records, one
    `manifest-timestamp` check each, verified as `archiver audit` verifies them
    (archiver.check.timestamps over archiver.store.tsp): the imprint over the head message
    of the packaged manifest's seq and hash, the recorded nonce and genTime, and with
    --trust-roots the signer, its EKU, its chain at genTime and the signature. A certificate
    expired since genTime is reported, not failed (as for `time-chain`)."""
    records = timestamps.all_recorded(archive)
    if not records:
        return []
    folder = archive.root / timestamps.FOLDER
    folder.mkdir(exist_ok=True)
    prefix = f"{ARCHIVER_DIR}/{timestamps.FOLDER}_"
    for name in names:
        target = name.removeprefix(prefix)
        if name.startswith(prefix) and "/" not in target and not target.startswith("."):
            _extract(zf, name, folder / target)
    named = {r.seq for r in records}
    chain: dict[int, str] = {}
    entry_at: dict[int, str] = {}
    for entry in manifest.iter_entries(archive.manifest_path):
        if entry.get("seq") in named:
            chain[entry["seq"]] = str(entry.get("hash"))
            entry_at[entry["seq"]] = str(entry.get("at"))
    roots = list(trust.roots) or None
    return [_token_check(tsa_check.check_token(archive, rec, roots, chain, entry_at))
            for rec in records]


def _token_check(c: tsa_check.Checked) -> Check:
    where = f"{c.rec.token} (seq {c.rec.seq})"
    errors = [f for f in c.findings if f.severity == "error"]
    if errors:
        return Check("manifest-timestamp", "fail",
                     f"{where}: {errors[0].code}: {errors[0].message}")
    notes = "".join(f"; {f.code}: {f.message}" for f in c.findings)
    if not c.trusted:
        return Check("manifest-timestamp", "skip",
                     f"{where}: imprint over the packaged head, nonce and genTime match; no "
                     f"--trust-roots given: the TSA's signature is not judged{notes}")
    assert c.gen_time is not None
    expired = (f"; its certificate chain has expired since ({tsp.iso(c.expires)}), which the "
               "time-stamp makes harmless" if c.expires and c.expires < datetime.now(UTC)
               else "")
    return Check("manifest-timestamp", "pass",
                 f"{where}: seq {c.rec.seq} existed by {tsp.iso(c.gen_time)} ({c.subject}), "
                 f"signed by a TSA chaining to a trusted root{expired}{notes}")


def _checkpoint_check(zf: zipfile.ZipFile, packed: list[str], archive: Archive,
                      trust: TrustOptions) -> Check:
    """The packaged checkpoints against the packaged manifest: signatures, the heads they
    name, no fork (c2sp.org/tlog-checkpoint, as `archiver audit` checks them)."""
    folder = archive.root / checkpoints.FOLDER
    folder.mkdir()
    for name in packed:
        target = name.removeprefix(f"{ARCHIVER_DIR}/{checkpoints.FOLDER}_")
        if "/" in target or target.startswith("."):
            return Check("manifest-checkpoints", "fail", f"{name}: not a checkpoint file name")
        _extract(zf, name, folder / target)
    trusted = {signing.key_id(k): k for k in trust.keys if isinstance(k, Ed25519PublicKey)}
    findings = checkpoints.verify(archive, trusted, list(trust.witnesses), trust.witnesses_min)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        return Check("manifest-checkpoints", "fail", "; ".join(f.message for f in errors[:3]))
    unverified = [f for f in findings if f.code == "unverified-checkpoint"]
    if unverified:
        return Check("manifest-checkpoints", "skip", f"{len(packed)} checkpoint file(s) name "
                                                     "heads of the packaged manifest, but no "
                                                     "--trusted-key verifies their signature")
    witnessed = (f", witnessed by at least {trust.witnesses_min} of the given witnesses"
                 if trust.witnesses else "")
    return Check("manifest-checkpoints", "pass", f"{len(packed)} checkpoint file(s) signed by "
                                                 "a trusted key name heads of the packaged "
                                                 f"manifest, no fork{witnessed}")


def _chain_check(path: Path) -> Check:
    findings = [f for f in manifest.verify_chain(path) if f.severity == "error"]
    if findings:
        return Check("manifest-chain", "fail", f"{len(findings)} problem(s), first: "
                                               f"{findings[0].render()}")
    last = manifest.read_last(path)
    head = f"seq {last['seq']} {last['hash']}" if last else "empty"
    return Check("manifest-chain", "pass", f"the packaged manifest's hash chain holds (head "
                                           f"{head})")


def _head_signature_check(archive: Archive, trust: TrustOptions) -> Check:
    trusted = {signing.key_id(k): k for k in trust.keys if isinstance(k, Ed25519PublicKey)}
    findings = signing.verify(archive, trusted=trusted)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        return Check("manifest-signature", "fail", "; ".join(f.message for f in errors[:3]))
    sigs = [s for _, s, _ in signing.read_signatures(signing.sig_path(archive)) if s]
    if not sigs:
        return Check("manifest-signature", "fail", "manifest.sig.jsonl holds no signature")
    newest = max(sigs, key=lambda s: s.seq)
    who = "a trusted key" if trusted else "the key stored with it (no --trusted-key given)"
    return Check("manifest-signature", "pass", f"{len(sigs)} Ed25519 head signature(s) verify "
                                               f"over the packaged manifest, newest seq "
                                               f"{newest.seq} by {newest.key_id}, {who}")


def _packed_files_check(zf: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo],
                        manifest_path: Path, cache: _HashCache) -> Check:
    map_name = f"{ARCHIVER_DIR}/files.jsonl"
    if map_name not in names:
        return Check("manifest-files", "skip", "no archiver/files.jsonl to map packed files")
    named: dict[str, str] = {}
    for entry in manifest.iter_entries(manifest_path):
        for f in entry.get("files") or []:
            if isinstance(f, dict) and isinstance(f.get("path"), str) and f.get("sha256"):
                named[f["path"]] = f["sha256"]
    bad: list[str] = []
    count = 0
    with zf.open(map_name) as stream:
        rows = list(stream)  # one short line per packed file
    for line in rows:
        try:
            row = json.loads(line)
            packed, path = row["packed"], row["path"]
        except (ValueError, KeyError, TypeError):
            packed = path = None
        if not (isinstance(packed, str) and isinstance(path, str)):  # a list is unhashable
            bad.append("a malformed line in archiver/files.jsonl")
            continue
        if path == "manifest.jsonl" or path not in named:
            continue
        count += 1
        if packed not in names:
            bad.append(f"{packed} is missing")
        elif _hash_member(zf, packed, "sha256", cache)[0] != named[path]:
            bad.append(f"{packed} differs from the sha256 the manifest names for {path}")
    if bad:
        return Check("manifest-files", "fail", "; ".join(bad[:3]))
    return Check("manifest-files", "pass", f"{count} packed files have the sha256 the manifest "
                                           "names")
