"""A real RFC 3161 time-stamp authority on loopback: OpenSSL's `openssl ts -reply` behind HTTP.

Stable API (other test files copy this module verbatim; keep it backwards compatible):

    from tsa_server import LoopbackTSA, tsa_fixture

    tsa = tsa_fixture()            # a pytest fixture named `tsa` (one server per session,
                                   # mode reset to "ok" per test); tsa_fixture("x") for another

    def test_something(tsa: LoopbackTSA) -> None:
        tsa.url                    # "http://127.0.0.1:PORT/tsr": POST application/timestamp-query
        tsa.root_pem               # Path: the test CA certificate (PEM), the trust anchor
        tsa.cert_pem("ok")         # Path: the TSA certificate a variant signs with (PEM)
        tsa.requests               # how many queries reached the server
        with tsa.variant("no-eku"):  # switch the replies for a block, back to "ok" after it
            ...
        tsa.mode = "hang"          # or switch by hand (the fixture resets it to "ok" per test)
        der = tsa.reply(query_der)  # the reply the HTTP server would send, without HTTP
        tsa.openssl_verify(der, data=b"...")   # `openssl ts -verify` (CompletedProcess)

    with LoopbackTSA(tmp_path) as tsa:          # without pytest: starts and stops the server
        ...

Variants (LoopbackTSA.MODES):
    ok             granted, signed by a TSA certificate with extendedKeyUsage=critical,
                   timeStamping, valid 10 years from yesterday
    short          granted, signed by a TSA certificate that expires in SHORT_DAYS days
                   (for renewal tests: "expires within 90 days")
    no-eku         granted, signed by a TSA certificate without the extendedKeyUsage extension
    expired        granted, signed by a TSA certificate whose validity ended 30 days ago
                   (genTime is now: the certificate is not valid at genTime)
    eku-noncritical  granted, signed by a TSA certificate whose extendedKeyUsage timeStamping
                   is not marked critical (RFC 3161 §2.3 requires critical)
                   (no-eku and eku-noncritical: `openssl ts -reply` refuses such signers, so
                   the good TSA's TSTInfo is signed again with `openssl cms -sign`)
    wrong-nonce    granted, the right imprint, but a fresh nonce (not the query's)
    other-imprint  granted, but over another message's digest (and so another nonce)
    reject         a TimeStampResp with status rejection (2), failInfo badAlg, no token
    hang           accepts the connection and never answers (until stop())
    garbage        HTTP 200, Content-Type application/timestamp-reply, bytes that are not DER

Certificates are made with the `openssl` CLI (req + ca, EC P-256 keys, sha256) in the work
directory; `openssl ca -startdate/-enddate` sets past validity periods without faketime
(`openssl x509 -not_before` needs OpenSSL 3.4; CI has 3.0). The [tsa] sections use
digests = sha256, sha384, sha512 and ess_cert_id_alg = sha256. Tokens embed only the TSA
certificate: with `certs` set, OpenSSL 3.0 writes the SignedData certificates as an unsorted
SET OF, which is not DER, and rfc3161-client's strict parser refuses the whole reply.
`openssl ts -reply` runs once per query under a lock: its serial file is read and rewritten
without locking.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

MODES = ("ok", "short", "no-eku", "expired", "wrong-nonce", "other-imprint", "reject", "hang",
         "garbage", "eku-noncritical")
SHORT_DAYS = 30
POLICY = "1.3.6.1.4.1.99999.1"  # an arbitrary test policy OID
GARBAGE = b"this is not a TimeStampResp\n"
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"

# Which certificate (and [tsa] section) each granted variant signs with.
_SIGNER = {"ok": "ok", "short": "short", "no-eku": "no-eku", "expired": "expired",
           "wrong-nonce": "ok", "other-imprint": "ok", "reject": "reject",
           "eku-noncritical": "eku-noncritical"}
# `openssl ts -reply` refuses to sign with a certificate whose purpose is not timestamping
# (X509_PURPOSE_TIMESTAMP_SIGN: a critical EKU timeStamping), so these variants take a token
# the good TSA made and sign its TSTInfo again with `openssl cms -sign`.
_RESIGNED = {"no-eku", "eku-noncritical"}

_CONFIG = """\
HOME = {dir}

[ req ]
distinguished_name = req_dn
prompt = no
x509_extensions = v3_root

[ req_dn ]
CN = unused

[ v3_root ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ ca ]
default_ca = test_ca

[ test_ca ]
dir = {dir}
database = {dir}/index.txt
serial = {dir}/ca.serial
new_certs_dir = {dir}/issued
certificate = {dir}/root.pem
private_key = {dir}/root.key
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no

[ policy_any ]
commonName = supplied
organizationName = optional

[ tsa_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ noeku_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ noncrit_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ tsa ]
default_tsa = tsa_ok
{sections}
"""

_SECTION = """
[ tsa_{name} ]
dir = {dir}
serial = {dir}/tsa.serial
crypto_device = builtin
signer_cert = {dir}/tsa-{name}.pem
signer_key = {dir}/tsa-{name}.key
signer_digest = sha256
default_policy = {policy}
digests = {digests}
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _stamp(when: datetime) -> str:
    """The YYYYMMDDHHMMSSZ form `openssl ca -startdate/-enddate` takes."""
    return when.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


class LoopbackTSA:
    """An RFC 3161 TSA on 127.0.0.1 whose replies come from `openssl ts -reply`."""

    MODES = MODES

    def __init__(self, workdir: Path, subject: str = "Loopback Test TSA") -> None:
        if shutil.which("openssl") is None:
            pytest.skip("the openssl CLI is not installed")
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.subject = subject
        self.mode = "ok"
        self.requests = 0
        self._lock = threading.Lock()  # `openssl ts -reply` one at a time (serial file)
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.config = self.dir / "openssl.cnf"
        self._make_pki()

    # ------------------------------------------------------------ certificates

    @property
    def root_pem(self) -> Path:
        return self.dir / "root.pem"

    def cert_pem(self, variant: str = "ok") -> Path:
        """The TSA certificate a variant signs with (PEM)."""
        return self.dir / f"tsa-{_SIGNER.get(variant, 'ok')}.pem"

    def _openssl(self, *args: str, data: bytes | None = None) -> bytes:
        done = subprocess.run(["openssl", *args], input=data, capture_output=True, check=False,
                              timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace')}")
        return done.stdout

    def _make_pki(self) -> None:
        d = self.dir
        (d / "issued").mkdir(exist_ok=True)
        (d / "index.txt").write_text("")
        (d / "ca.serial").write_text("1000\n")
        (d / "tsa.serial").write_text("01\n")
        sections = "".join(
            _SECTION.format(name=name, dir=d, policy=POLICY,
                            digests="sha256, sha384, sha512" if name != "reject" else "sha1")
            for name in ("ok", "short", "no-eku", "expired", "reject", "eku-noncritical"))
        self.config.write_text(_CONFIG.format(dir=d, sections=sections))
        cnf = str(self.config)
        self._openssl("req", "-config", cnf, "-x509", "-new", "-nodes", "-newkey", "ec",
                      "-pkeyopt", "ec_paramgen_curve:P-256", "-sha256", "-days", "7300",
                      "-subj", "/O=archiver tests/CN=Loopback Test Root CA",
                      "-keyout", str(d / "root.key"), "-out", str(self.root_pem))
        now = datetime.now(UTC)
        periods = {
            "ok": (now - timedelta(days=1), now + timedelta(days=3650), "tsa_ext"),
            "short": (now - timedelta(days=1), now + timedelta(days=SHORT_DAYS), "tsa_ext"),
            "no-eku": (now - timedelta(days=1), now + timedelta(days=3650), "noeku_ext"),
            "eku-noncritical": (now - timedelta(days=1), now + timedelta(days=3650),
                                "noncrit_ext"),
            "expired": (now - timedelta(days=400), now - timedelta(days=30), "tsa_ext"),
        }
        for name, (start, end, ext) in periods.items():
            key, csr = d / f"tsa-{name}.key", d / f"tsa-{name}.csr"
            self._openssl("req", "-config", cnf, "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:P-256", "-sha256",
                          "-subj", f"/O=archiver tests/CN={self.subject} ({name})",
                          "-keyout", str(key), "-out", str(csr))
            self._openssl("ca", "-config", cnf, "-batch", "-notext", "-extensions", ext,
                          "-startdate", _stamp(start), "-enddate", _stamp(end),
                          "-in", str(csr), "-out", str(d / f"tsa-{name}.pem"))
        # The rejecting TSA signs nothing, but its section needs a certificate and key.
        shutil.copy(d / "tsa-ok.pem", d / "tsa-reject.pem")
        shutil.copy(d / "tsa-ok.key", d / "tsa-reject.key")

    # ------------------------------------------------------------ replies

    def reply(self, query: bytes, mode: str | None = None) -> bytes:
        """The DER TimeStampResp the server sends for `query` in `mode` (default: self.mode).
        Not for "hang" (nothing is sent) or "garbage" (returns GARBAGE)."""
        mode = mode or self.mode
        if mode not in MODES:
            raise ValueError(f"unknown TSA mode {mode!r} (one of {', '.join(MODES)})")
        if mode == "garbage":
            return GARBAGE
        if mode == "hang":
            raise ValueError("a hanging TSA sends no reply")
        with self._lock:
            if mode == "wrong-nonce":  # same digest, a fresh random nonce
                algorithm, digest = self._imprint(query)
                query = self._openssl("ts", "-query", "-digest", digest, f"-{algorithm}",
                                      "-cert")
            elif mode == "other-imprint":
                query = self._openssl("ts", "-query", "-data", str(self.config), "-sha256",
                                      "-cert")
            qfile = self.dir / "query.tsq"
            qfile.write_bytes(query)
            if mode in _RESIGNED:
                return self._resigned(qfile, mode)
            return self._openssl("ts", "-reply", "-config", str(self.config), "-section",
                                 f"tsa_{_SIGNER[mode]}", "-queryfile", str(qfile))

    def _resigned(self, qfile: Path, mode: str) -> bytes:
        """A granted reply whose token is signed by the `mode` certificate: the good TSA's
        TSTInfo, signed again by `openssl cms -sign` (eContentType id-smime-ct-TSTInfo, an
        ESS signingCertificateV2 attribute from -cades), wrapped by `openssl ts -reply
        -token_in` into a TimeStampResp with status granted."""
        d = self.dir
        token, info, signed = d / "token.der", d / "tstinfo.der", d / "resigned.der"
        self._openssl("ts", "-reply", "-config", str(self.config), "-section", "tsa_ok",
                      "-queryfile", str(qfile), "-token_out", "-out", str(token))
        self._openssl("cms", "-verify", "-noverify", "-inform", "DER", "-in", str(token),
                      "-out", str(info))
        self._openssl("cms", "-sign", "-binary", "-nodetach", "-econtent_type",
                      "id-smime-ct-TSTInfo", "-signer", str(d / f"tsa-{mode}.pem"),
                      "-inkey", str(d / f"tsa-{mode}.key"), "-md", "sha256", "-nosmimecap",
                      "-cades", "-outform", "DER", "-in", str(info), "-out", str(signed))
        return self._openssl("ts", "-reply", "-in", str(signed), "-token_in")

    def _imprint(self, query: bytes) -> tuple[str, str]:
        """(hash algorithm, hex digest) of a query, from `openssl ts -query -text`: its
        "Message data" is a BIO_dump hex listing (16 bytes a line, '-' after the 8th)."""
        text = self._openssl("ts", "-query", "-in", "/dev/stdin", "-text",
                             data=query).decode()
        algorithm, hexes, in_data = "sha256", [], False
        for line in text.splitlines():
            if line.startswith("Hash Algorithm:"):
                algorithm = line.split(":", 1)[1].strip()
            elif line.startswith("Message data:"):
                in_data = True
            elif in_data and line.startswith("    ") and " - " in line:
                hexes += line.split(" - ", 1)[1][:48].replace("-", " ").split()
            elif in_data:
                in_data = False
        return algorithm, "".join(hexes)

    def openssl_verify(self, reply: bytes, *, data: bytes | None = None,
                       digest: str | None = None) -> subprocess.CompletedProcess[bytes]:
        """`openssl ts -verify` of a reply over `data` (or a hex `digest`), trusting only the
        test root: the independent check that the fixture's tokens are real."""
        rfile = self.dir / "verify.tsr"
        rfile.write_bytes(reply)
        args = ["openssl", "ts", "-verify", "-in", str(rfile), "-CAfile", str(self.root_pem)]
        if data is not None:
            dfile = self.dir / "verify.data"
            dfile.write_bytes(data)
            args += ["-data", str(dfile)]
        elif digest is not None:
            args += ["-digest", digest]
        return subprocess.run(args, capture_output=True, check=False, timeout=60)

    # ------------------------------------------------------------ HTTP

    @contextmanager
    def variant(self, mode: str) -> Iterator[LoopbackTSA]:
        if mode not in MODES:
            raise ValueError(f"unknown TSA mode {mode!r}")
        before, self.mode = self.mode, mode
        try:
            yield self
        finally:
            self.mode = before

    def start(self) -> LoopbackTSA:
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                query = self.rfile.read(length)
                tsa.requests += 1
                mode = tsa.mode
                if mode == "hang":
                    tsa._stop.wait(120)
                    self.close_connection = True
                    return
                if self.headers.get("Content-Type", "").split(";")[0].strip() != QUERY_TYPE:
                    self._send(415, b"expected application/timestamp-query\n", "text/plain")
                    return
                try:
                    body = tsa.reply(query, mode)
                except RuntimeError as exc:  # openssl refused the query itself
                    self._send(400, str(exc).encode(), "text/plain")
                    return
                self._send(200, body, REPLY_TYPE)

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._stop.clear()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True  # a hanging handler never blocks stop()
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start() the TSA first"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tsr"

    def stop(self) -> None:
        self._stop.set()  # releases hanging handlers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> LoopbackTSA:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_SERVERS: dict[str, LoopbackTSA] = {}  # one server per fixture name for the whole session


def tsa_fixture(name: str = "tsa") -> Callable[..., Any]:
    """A pytest fixture yielding a started LoopbackTSA, its mode reset to "ok" before each test.
    The certificates and server are made once per session (stopped when pytest ends). Assign
    it in a test module: `tsa = tsa_fixture()`."""

    @pytest.fixture(name=name)
    def fixture(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> LoopbackTSA:
        srv = _SERVERS.get(name)
        if srv is None:
            srv = LoopbackTSA(tmp_path_factory.mktemp(name)).start()
            _SERVERS[name] = srv
            request.config.add_cleanup(srv.stop)
            request.config.add_cleanup(lambda: _SERVERS.pop(name, None))
        srv.mode = "ok"
        return srv

    return fixture
