"""Log formats: nginx ``log_format`` strings compiled to one regex, presets, JSON field maps.

A pasted ``log_format`` such as::

    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $request_time'

becomes an anchored regex with one named group per variable. Known variables
get tight patterns (so a malformed line is counted as malformed, not misread);
any other variable matches up to the next quote (inside quotes) or space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

COMBINED = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
            '"$http_referer" "$http_user_agent"')
COMMON = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent'

PRESETS = {
    "combined": COMBINED,
    # combined plus request time: the usual "timed" format SREs add
    "combined_timed": COMBINED + " $request_time",
    "common": COMMON,
}

_NUM = r"\d+(?:\.\d+)?"
PATTERNS = {
    "remote_addr": r"[0-9A-Fa-f:.]+",
    "binary_remote_addr": r"\S+",
    "remote_user": r"\S+",
    "time_local": r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}",
    "time_iso8601": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})",
    "msec": r"\d+\.\d+",
    "status": r"\d{3}",
    "body_bytes_sent": r"\d+|-",
    "bytes_sent": r"\d+|-",
    "request_length": r"\d+|-",
    "request_time": _NUM + r"|-",
    "upstream_response_time": rf"{_NUM}(?:, {_NUM})*(?: : {_NUM}(?:, {_NUM})*)*|-",
    "upstream_connect_time": rf"{_NUM}(?:, {_NUM})*|-",
    "upstream_header_time": rf"{_NUM}(?:, {_NUM})*|-",
    "connection": r"\d+",
    "connection_requests": r"\d+",
    "pipe": r"[p.]",
    "server_port": r"\d+",
}

_VAR = re.compile(r"\$(\w+)|\$\{(\w+)\}")


@dataclass
class LogFormat:
    """A compiled line format: the regex and which variables it captures."""

    source: str
    regex: str
    variables: list[str] = field(default_factory=list)
    # The same, as a sequence for rbk_logs.fastpath: ("lit", text) or ("var", name,
    # pattern, captured); ("opt_request_time",) for combined's optional tail.
    tokens: list[tuple] = field(default_factory=list)

    @property
    def has_time(self) -> bool:
        return any(v in self.variables for v in ("time_local", "time_iso8601", "msec"))


class FormatError(ValueError):
    pass


def compile_format(fmt: str) -> LogFormat:
    """``combined``/``common``/``combined_timed`` or an nginx log_format string -> LogFormat."""
    source = PRESETS.get(fmt, fmt)
    source = _join_nginx_quoted(source)
    parts: list[str] = ["^"]
    variables: list[str] = []
    tokens: list[tuple] = []
    pos = 0
    for m in _VAR.finditer(source):
        literal = source[pos:m.start()]
        parts.append(re.escape(literal))
        if literal:
            tokens.append(("lit", literal))
        name = m.group(1) or m.group(2)
        if name in variables:
            # The same variable twice: match it again without a second group.
            pattern = PATTERNS.get(name, r'[^ ]*')
            parts.append(f"(?:{pattern})")
            tokens.append(("var", name, pattern, False))
        else:
            quoted = literal.endswith('"')
            default = r'[^"]*' if quoted else r"\S*"
            pattern = PATTERNS.get(name, default)
            if name.startswith(("http_", "sent_http_", "cookie_", "arg_")) or name in (
                    "request", "request_uri", "uri", "host", "server_name", "args"):
                pattern = default if quoted else r"\S*"
                if name == "request" and not quoted:
                    raise FormatError("$request must be inside quotes in the log_format")
            parts.append(f"(?P<{name}>{pattern})")
            variables.append(name)
            tokens.append(("var", name, pattern, True))
        pos = m.end()
    parts.append(re.escape(source[pos:]))
    if source[pos:]:
        tokens.append(("lit", source[pos:]))
    if fmt == "combined":
        # Many sites append $request_time to combined; accept it when present.
        parts.append(rf"(?: (?P<request_time>{PATTERNS['request_time']}))?")
        variables.append("request_time")
        tokens.append(("opt_request_time",))
    parts.append("$")
    if not variables:
        raise FormatError(f"no $variables in log format {fmt!r}")
    regex = "".join(parts)
    try:
        re.compile(regex)
    except re.error as exc:  # pragma: no cover - escaping makes this unlikely
        raise FormatError(f"log format {fmt!r} does not compile: {exc}") from None
    return LogFormat(source=source, regex=regex, variables=variables, tokens=tokens)


def _join_nginx_quoted(text: str) -> str:
    """Accept a log_format pasted from nginx.conf: 'part one ' 'part two' -> one string."""
    stripped = text.strip().rstrip(";").strip()
    pieces = re.findall(r"'((?:[^'\\]|\\.)*)'", stripped)
    if pieces and re.fullmatch(r"(?:'(?:[^'\\]|\\.)*'\s*)+", stripped):
        return "".join(pieces)
    return text


# Fields every format is normalised to (None where the format lacks them).
NORMALISED = ("ts", "client", "method", "path", "status", "bytes", "referer", "user_agent",
              "rt_ms", "xff")

JSON_DEFAULT_FIELDS = {
    "time": "time", "client": "remote_addr", "request": "request", "method": "method",
    "path": "uri", "status": "status", "bytes": "body_bytes_sent", "referer": "http_referer",
    "user_agent": "http_user_agent", "request_time": "request_time",
    "xff": "http_x_forwarded_for",
}
