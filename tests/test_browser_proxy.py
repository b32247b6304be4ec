"""The recording proxy on its own (no browser): a real client (requests) through it to real
loopback origins, HTTP and HTTPS with a test CA. What the browser tests rely on: raw bytes
recorded and relayed, TLS facts of the same handshake, validation against --ca-file, the
SSRF guard on the resolved address, the byte budget."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from browser_site import Site, https_site

from archiver.capture.browser import guard
from archiver.capture.browser.ca import Authority
from archiver.capture.browser.proxy import ProxyOptions, RecordingProxy


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Site, Authority]]:
    test_ca = Authority.create("archiver test origin CA")
    plain = Site(big=200_000)
    secure = https_site(test_ca, tmp_path_factory.mktemp("tls"))
    yield plain, secure, test_ca
    plain.close()
    secure.close()


def proxied(proxy: RecordingProxy, url: str, verify: str | bool = False) -> requests.Response:
    proxies = {"http": proxy.address, "https": proxy.address}
    return requests.get(url, proxies=proxies, verify=verify, timeout=30)


def test_http_exchange_recorded_raw_and_relayed(sites) -> None:
    plain, _, _ = sites
    proxy = RecordingProxy(ProxyOptions(allowed=guard.parse_allowed([f"127.0.0.1:{plain.port}"])))
    try:
        proxy.begin_page(time.monotonic() + 30, 10**7)
        response = requests.get(plain.base + "/static", timeout=30,
                                proxies={"http": proxy.address},
                                headers={"Accept-Encoding": "gzip, zstd, br;q=0.9, dcb"})
        log = proxy.end_page(5)
    finally:
        proxy.close()
    assert response.status_code == 200 and b"archiving law" in response.content
    [exchange] = log.exchanges
    assert exchange.request_bytes.startswith(b"GET /static HTTP/1.1\r\n")
    assert b"proxy-connection" not in exchange.request_bytes.lower()
    # only codings warcio and pywb can read are offered upstream
    assert b"\r\nAccept-Encoding: gzip, br;q=0.9\r\n" in exchange.request_bytes
    assert exchange.response_head.startswith(b"HTTP/1.1 200 ")
    exchange.response_body.seek(0)
    assert exchange.response_body.read() == response.content  # the browser got these bytes
    assert exchange.ip == "127.0.0.1" and exchange.port == plain.port
    assert exchange.warc_headers == [("WARC-Protocol", "http/1.1")]


def test_https_tls_facts_untrusted_then_valid_with_ca_file(sites, tmp_path: Path) -> None:
    _, secure, test_ca = sites
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(test_ca.cert_pem())
    allowed = guard.parse_allowed([f"127.0.0.1:{secure.port}"])
    verdicts = []
    for options in (ProxyOptions(allowed=allowed), ProxyOptions(allowed=allowed,
                                                                ca_file=ca_file)):
        proxy = RecordingProxy(options)
        try:
            proxy_ca = tmp_path / "proxy-ca.pem"
            proxy_ca.write_bytes(proxy.authority.cert_pem())
            proxy.begin_page(time.monotonic() + 30, 10**7)
            # the client trusts only the proxy's CA: the proxy terminated its TLS
            response = proxied(proxy, secure.base + "/static", verify=str(proxy_ca))
            log = proxy.end_page(5)
        finally:
            proxy.close()
        assert response.status_code == 200
        [exchange] = log.exchanges
        [facts] = log.tls.values()
        assert facts.version in ("TLSv1.2", "TLSv1.3") and facts.cipher
        assert facts.chain[0].subject.rfc4514_string().startswith("CN=127.0.0.1")
        assert ("WARC-Protocol", "http/1.1") in exchange.warc_headers
        assert ("WARC-Protocol", "tls/1.3") in exchange.warc_headers
        assert ("WARC-Cipher-Suite", facts.cipher) in exchange.warc_headers
        verdicts.append(facts.validation)
    assert verdicts[0].startswith("untrusted")
    assert verdicts[1] == "valid"


def test_guard_refuses_loopback_private_link_local_unless_allowed(sites) -> None:
    plain, _, _ = sites
    proxy = RecordingProxy(ProxyOptions())
    try:
        proxy.begin_page(time.monotonic() + 30, 10**7)
        refused = proxied(proxy, plain.base + "/static")
        metadata = proxied(proxy, "http://169.254.169.254/latest/meta-data/")
        log = proxy.end_page(5)
    finally:
        proxy.close()
    assert refused.status_code == 403 and metadata.status_code == 403
    assert not log.exchanges and plain.hits.count("/static") <= 1  # only the earlier test's
    reasons = {b["url"]: b["reason"] for b in log.blocked}
    assert "is loopback" in reasons[plain.base + "/static"]
    assert "is link-local" in reasons["http://169.254.169.254/latest/meta-data/"]
    assert guard.forbidden("10.1.2.3") == "private"
    assert guard.forbidden("::ffff:127.0.0.1") == "loopback"
    assert guard.forbidden("93.184.216.34") is None
    with pytest.raises(Exception, match="expected HOST:PORT"):
        guard.parse_allowed(["localhost"])


def test_byte_budget_truncates_and_marks(sites) -> None:
    plain, _, _ = sites
    proxy = RecordingProxy(ProxyOptions(allowed=guard.parse_allowed([f"127.0.0.1:{plain.port}"])))
    try:
        proxy.begin_page(time.monotonic() + 30, 50_000)
        with pytest.raises(requests.RequestException):
            proxied(proxy, plain.base + "/big.js").content  # noqa: B018 - cut short
        log = proxy.end_page(5)
    finally:
        proxy.close()
    [exchange] = log.exchanges
    assert exchange.truncated == "length"
    assert 50_000 <= exchange.payload_size < 200_000


def test_chunked_answer_relayed_as_framed_digest_over_the_entity(sites) -> None:
    import hashlib

    plain, _, _ = sites
    proxy = RecordingProxy(ProxyOptions(allowed=guard.parse_allowed([f"127.0.0.1:{plain.port}"])))
    try:
        proxy.begin_page(time.monotonic() + 30, 10**7)
        response = proxied(proxy, plain.base + "/chunked")
        log = proxy.end_page(5)
    finally:
        proxy.close()
    assert response.content == b"first part, second part"  # the client de-chunked our relay
    [exchange] = log.exchanges
    exchange.response_body.seek(0)
    assert exchange.response_body.read() == b"c\r\nfirst part, \r\nb\r\nsecond part\r\n0\r\n\r\n"
    assert exchange.payload_sha256 == hashlib.sha256(b"first part, second part").digest()
