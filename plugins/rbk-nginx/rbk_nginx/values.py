"""Validation of every value that reaches an nginx config file.

Values are validated, never escaped: a ``;``, ``{``, ``}``, quote, ``$``, ``#``
or newline from an alert or a log line must not be able to add a directive.
"""

from __future__ import annotations

import ipaddress
import re

NAME = re.compile(r"^[a-z0-9_]{1,32}$")
RATE = re.compile(r"^[1-9]\d{0,6}r/[sm]$")
SIZE = re.compile(r"^[1-9]\d{0,5}[km]?$")
TIME = re.compile(r"^[1-9]\d{0,5}(ms|s|m|h|d)?$")
HEADER = re.compile(r"^[A-Za-z0-9-]{1,64}$")
PATH_PREFIX = re.compile(r"^/[A-Za-z0-9._~/-]{0,200}$")
HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                  r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
UPSTREAM_URL = re.compile(r"^https?://[A-Za-z0-9._-]{1,253}(?::\d{1,5})?(?:/[A-Za-z0-9._~/-]*)?$")
STATUS_CODES = range(400, 600)


class Invalid(ValueError):
    pass


def check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise Invalid(f"{what} {value!r} is not valid here (must match {pattern.pattern})")
    return value


def network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        raise Invalid(f"{value!r} is not an IP address or CIDR") from None


def server_address(value: str) -> str:
    """An upstream server: host:port, [v6]:port or IP:port (``unix:`` sockets refused)."""
    text = str(value).strip()
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})", text)
    if m:
        ipaddress.IPv6Address(m[1])
        port = int(m[2])
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not port_text.isdigit():
            raise Invalid(f"upstream server {text!r} must be HOST:PORT")
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            if not HOST.fullmatch(host):
                raise Invalid(f"upstream server host {host!r} is not valid") from None
        port = int(port_text)
    if not 0 < port < 65536:
        raise Invalid(f"port {port} out of range")
    return text
