"""The compiled scanner against the polars regex path: same outputs, or the regex decides."""

from __future__ import annotations

from datetime import timedelta

import pytest
from logs_gen import T0
from test_logs_inspect import inspect, write

EXPECTED_MALFORMED = {"timed": 2, "msec_xff": 2, "upstream": 2 + 31, "adjacent": 2}

FORMATS = {
    # pasted formats the compiled scanner runs itself
    "timed": ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
              '"$http_referer" "$http_user_agent" $request_time', True),
    "msec_xff": ('$msec $remote_addr "$http_x_forwarded_for" $request_method $request_uri '
                 '$status "$http_user_agent" $request_time', True),
    # and ones it leaves to the regex: backtracking or multi-value times
    "upstream": ('$remote_addr [$time_local] "$request" $status $request_time '
                 '$upstream_response_time', False),
    "adjacent": ('$remote_addr:$remote_user [$time_local] "$request" $status', False),
}


def format_lines(name: str) -> list[str]:
    lines = []
    for i in range(400):
        t = T0 + timedelta(seconds=i // 4)
        ip = f"10.1.{i % 5}.{i % 3}" if i % 7 else f"2001:db8::{i % 11:x}"
        rt = "-" if i % 13 == 0 else f"{(i % 17) / 1000:.3f}"
        xff = ["-", "203.0.113.7", " 198.51.100.1 , 10.0.0.1", ", -"][i % 4]
        path = ["/a", "/b?x=1", "/c/d", "/"][i % 4]
        status = [200, 200, 304, 500, 404][i % 5]
        ua = ["curl/8", "Mozilla/5.0 (X11; Linux)", "bot \\x22q\\x22", "caf\u00e9"][i % 4]
        if name == "timed":
            lines.append(f'{ip} - {"alice" if i % 9 == 0 else "-"} [{t:%d/%b/%Y:%H:%M:%S +0000}]'
                         f' "GET {path} HTTP/1.1" {status} {i} "-" "{ua}" {rt}')
        elif name == "msec_xff":
            lines.append(f'{t.timestamp() + (i % 4) / 4:.3f} {ip} "{xff}" '
                         f'{["GET", "POST", "HEAD"][i % 3]} {path} {status} "{ua}" {rt}')
        elif name == "upstream":
            lines.append(f'{ip} [{t:%d/%b/%Y:%H:%M:%S +0000}] "GET {path} HTTP/1.1" {status} '
                         f'{rt} {rt}, 0.002 : 0.001')
        else:
            lines.append(f'{ip}:u{i % 3}:x [{t:%d/%b/%Y:%H:%M:%S +0000}] "GET {path} HTTP/1.1" '
                         f'{status}')
    return lines + ["garbage", "1.2.3.4 - \u00a0 [03/Dec/2026:09:00:01 +0000] x"]


@pytest.mark.parametrize("name", sorted(FORMATS))
@pytest.mark.parametrize("client", ["remote_addr", "xff_last"])
def test_engines_agree_on_pasted_formats(rbk_runbook, tmp_path, monkeypatch, name, client):
    """The compiled scanner gives exactly what the regex gives, or leaves the format to it."""
    from rbk_logs import fastpath
    from rbk_logs.formats import compile_format

    fmt, compiled = FORMATS[name]
    assert (fastpath.program(compile_format(fmt)) is not None) is compiled
    assert fastpath._scan is not None, (
        "rbk_logs._scan is not built: install a C compiler and the Python headers "
        "(Debian: gcc python3-dev), then reinstall plugins/rbk-logs")
    monkeypatch.delenv("RBK_LOGS_ENGINE", raising=False)
    log = write(tmp_path / "f.log", format_lines(name))
    fast = inspect(rbk_runbook, tmp_path, path=str(log), format=fmt, client=client, top=50)
    monkeypatch.setenv("RBK_LOGS_ENGINE", "polars")
    slow = inspect(rbk_runbook, tmp_path, path=str(log), format=fmt, client=client, top=50)
    assert fast == slow
    assert fast["lines"] == 402
    assert fast["parsed"] + fast["malformed"]["count"] == 402
    assert fast["malformed"]["count"] == EXPECTED_MALFORMED[name]



@pytest.mark.parametrize("name", ["timed", "msec_xff"])
def test_the_scanner_only_hands_doubtful_lines_to_the_regex(tmp_path, name):
    from rbk_logs.analyze import Spec
    from rbk_logs.fastpath import CompiledAccumulator, program
    from rbk_logs.formats import compile_format

    fmt = compile_format(FORMATS[name][0])
    acc = CompiledAccumulator(Spec(fmt=fmt), program(fmt))
    acc.add(("\n".join(format_lines(name)) + "\n").encode())
    # "garbage" and the line with a no-break space where the regex wants \S+
    assert acc.deferred == 2 and acc.malformed == 2
    assert acc.parsed == 400 and acc.lines == 402
