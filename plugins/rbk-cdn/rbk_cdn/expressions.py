"""Building Cloudflare Rules-language expressions only from validated atoms.

A string literal is written as ``"..."``; a value such as ``/api") or (true``
would widen a rule to everything, so paths, hosts and IPs are validated against
strict shapes and never escaped-and-hoped.
"""

from __future__ import annotations

import ipaddress
import re

PATH = re.compile(r"^/[A-Za-z0-9._~/-]{0,200}$")
HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                  r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
HEADER = re.compile(r"^[a-z0-9-]{1,64}$")


class Invalid(ValueError):
    pass


def path(value: str) -> str:
    if not PATH.fullmatch(value or ""):
        raise Invalid(f"path {value!r} is not allowed in a CDN rule (must match {PATH.pattern})")
    return value


def host(value: str) -> str:
    if not HOST.fullmatch(value or ""):
        raise Invalid(f"host {value!r} is not a valid host name")
    return value.lower()


def ip_network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        net = ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        raise Invalid(f"{value!r} is not an IP address or CIDR") from None
    if net.prefixlen == 0:
        raise Invalid(f"refusing {value}: it would match every address")
    return net


def match(paths: list[str], hosts: list[str]) -> str:
    """``(http.host in {...}) and (starts_with(path, "/a/") or ...)``."""
    if not paths and not hosts:
        raise Invalid("a rule needs at least one path or host")
    parts = []
    if hosts:
        parts.append("http.host in {" + " ".join(f'"{host(h)}"' for h in hosts) + "}")
    if paths:
        checks = [f'starts_with(http.request.uri.path, "{path(p)}")' for p in paths]
        parts.append(checks[0] if len(checks) == 1 else "(" + " or ".join(checks) + ")")
    return "(" + " and ".join(parts) + ")"
