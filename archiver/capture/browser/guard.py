"""The SSRF guard: which socket addresses the browser's requests may reach.

A page's script can aim the browser at the capturing machine (127.0.0.1:admin ports), its
network (10/8, 192.168/16) or a cloud metadata service (169.254.169.254). Each request's host
is resolved once, every address is checked, and the proxy connects to the checked address
itself, so a DNS answer cannot change between the check and the connection (rebinding).
`--allow-host HOST:PORT` lets one named address through (the tests' loopback sites).
"""

from __future__ import annotations

import ipaddress
import socket

from archiver.base.errors import UsageError


class Refused(Exception):
    """The request is not forwarded; the message says why (it goes into the summary)."""


class Unresolved(Exception):
    """The host has no address (a failure, not a refusal)."""


def parse_allowed(items: list[str] | tuple[str, ...]) -> frozenset[tuple[str, int]]:
    """HOST:PORT items -> the (address, port) pairs they resolve to."""
    allowed: set[tuple[str, int]] = set()
    for item in items:
        host, sep, port_text = item.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise UsageError(f"--allow-host {item}: expected HOST:PORT")
        try:
            infos = socket.getaddrinfo(host, int(port_text), type=socket.SOCK_STREAM)
        except OSError as exc:
            raise UsageError(f"--allow-host {item}: cannot resolve {host}: {exc}") from exc
        allowed.update((_canonical(str(info[4][0])), int(port_text)) for info in infos)
    return frozenset(allowed)


def _canonical(address: str) -> str:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


def forbidden(address: str) -> str | None:
    """Why this address is refused, or None for a public one."""
    ip = ipaddress.ip_address(_canonical(address))
    for test, label in ((ip.is_loopback, "loopback"), (ip.is_link_local, "link-local"),
                        (ip.is_private, "private"), (ip.is_multicast, "multicast"),
                        (ip.is_unspecified, "unspecified"), (ip.is_reserved, "reserved")):
        if test:
            return label
    # what the labels above miss and is still no public host: 100.64/10 (carrier-grade NAT,
    # where some clouds serve their metadata, e.g. 100.100.100.200), 192.0.0/24 and the
    # rest of IANA's special-purpose registry (RFC 6890)
    if not ip.is_global:
        return "not globally reachable"
    return None


def resolve(host: str, port: int, allowed: frozenset[tuple[str, int]]) -> str:
    """The address to connect to for host:port, or Refused when every address it resolves
    to is forbidden and not allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Unresolved(f"DNS lookup failed for {host}: {exc.strerror or exc}") from exc
    reasons = []
    for info in infos:
        address = _canonical(str(info[4][0]))
        why = forbidden(address)
        if why is None or (address, port) in allowed:
            return address
        reasons.append(f"{address}:{port} is {why}")
    raise Refused("; ".join(reasons) or f"{host} has no address")
