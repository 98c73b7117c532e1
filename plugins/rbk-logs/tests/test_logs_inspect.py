"""logs.inspect against an independent reference, on real files (plain, rotated, gzip)."""

from __future__ import annotations

import gzip
import json
import os
from datetime import timedelta

import pytest
from logs_gen import T0, combined, spike_log
from logs_reference import reference


@pytest.fixture(autouse=True, params=["compiled", "polars"])
def engine(request, monkeypatch):
    """Every test runs on both engines: the compiled scanner and the polars regex path."""
    from rbk_logs import fastpath

    if request.param == "compiled":
        assert fastpath._scan is not None, (
            "rbk_logs._scan is not built: install a C compiler and the Python headers "
            "(Debian: gcc python3-dev), then reinstall plugins/rbk-logs")
        monkeypatch.delenv("RBK_LOGS_ENGINE", raising=False)
    else:
        monkeypatch.setenv("RBK_LOGS_ENGINE", "polars")
    return request.param


def inspect(rbk_runbook, tmp_path, **with_):
    body = json.dumps({"name": "t", "steps": [{"id": "i", "action": "logs.inspect",
                                               "with": with_}]})
    outcome = rbk_runbook(body).plan()
    assert outcome.exit_code == 0, outcome.report.message
    return outcome.steps["i"].hosts["localhost"].plan["outputs"]


def write(path, lines, *, newline_at_end=True, gz=False):
    data = ("\n".join(lines) + ("\n" if newline_at_end else "")).encode()
    if gz:
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def assert_matches_reference(out, ref, top=10):
    assert out["lines"] == ref["lines"]
    assert out["blank"] == ref["blank"]
    assert out["malformed"]["count"] == ref["malformed"]
    assert out["parsed"] == ref["parsed"]
    assert out["status"] == ref["status"]
    assert out["peak"]["rps"] == ref["peak_rps"]
    timeline = {entry["t"]: (entry["requests"], entry["errors_5xx"], entry["p95_ms"],
                             entry["clients"]) for entry in out["timeline"]}
    assert out["unique_clients"] == ref["unique_clients"]
    expected = {(T0.fromtimestamp(t, T0.tzinfo)).strftime("%Y-%m-%dT%H:%M:%SZ"): v
                for t, v in ref["timeline"].items()}
    assert timeline == expected
    assert out["latency_ms"] == ref["latency"]
    for key, ref_key, field in (("top_clients", "clients", "client"),
                                ("top_paths", "paths", "path"),
                                ("top_user_agents", "user_agents", "user_agent"),
                                ("top_referers", "referers", "referer")):
        got = [(e[field], e["requests"]) for e in out[key]]
        counts = ref[ref_key]
        for name, n in got:
            assert counts[name] == n, (key, name)
        # the reported entries are the true top (ties broken by name)
        want = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:top]
        assert [n for _, n in got] == [n for _, n in want]
    for c in out["top_clients"]:
        assert c["rps_peak"] == pytest.approx(ref["client_bucket_peak"][c["client"]] / 10)


def test_counts_equal_an_independent_computation(rbk_runbook, tmp_path):
    lines = spike_log()
    log = write(tmp_path / "access.log", lines)
    out = inspect(rbk_runbook, tmp_path, path=str(log))
    assert_matches_reference(out, reference([x.encode() for x in lines]))
    assert out["files"] == [str(log)]
    assert out["first_ts"] == "2026-12-03T09:00:00Z"


@pytest.mark.parametrize("chunk", [16384, 262144])
def test_exact_across_many_blocks(rbk_runbook, tmp_path, monkeypatch, chunk):
    """Small blocks: bucket peaks, p95s and the spike window span block boundaries."""
    import rbk_logs.reader

    monkeypatch.setattr(rbk_logs.reader, "CHUNK", chunk)
    lines = spike_log(minutes=20, spike_from=15)
    log = write(tmp_path / "access.log", lines)
    out = inspect(rbk_runbook, tmp_path, path=str(log))
    assert_matches_reference(out, reference([x.encode() for x in lines]))
    assert out["late_lines"] == 0
    assert out["spike"]["contributors"]["clients"][0]["client"] == "203.0.113.9"
    monkeypatch.undo()
    whole = inspect(rbk_runbook, tmp_path, path=str(log))
    assert whole["spike"] == out["spike"]


def test_spike_window_and_contributors(rbk_runbook, tmp_path):
    log = write(tmp_path / "access.log", spike_log(minutes=20, spike_from=15))
    out = inspect(rbk_runbook, tmp_path, path=str(log))
    spike = out["spike"]
    assert spike["detected"] is True
    assert spike["start"] == "2026-12-03T09:15:00Z" and spike["end"] == "2026-12-03T09:20:00Z"
    assert spike["factor"] > 3
    assert spike["contributors"]["clients"][0]["client"] == "203.0.113.9"
    assert spike["contributors"]["paths"][0]["path"] == "/api/items"
    assert [s["client"] for s in out["suspects"]] == ["203.0.113.9"]


def test_malformed_binary_and_huge_lines_are_counted_not_fatal(rbk_runbook, tmp_path):
    good = spike_log(minutes=2, spike_from=99)
    bad = [b"\x00\xff\xfe binary \x01\x1f junk", b"GET / HTTP/1.1", b"",
           ("9.9.9.9 - - [03/Dec/2026:09:00:01 +0000] \"GET /" + "a" * 65536 +
            " HTTP/1.1\" 200 1 \"-\" \"ua\"").encode(),
           b'1.2.3.4 - - [31/Feb/2026:09:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "ua"',
           b'1.2.3.4 - - [03/Dec/2026:09:00:01 +0000] "GET / HTTP/1.1" 2000 1 "-" "ua"',
           b'"unbalanced quote at the start']
    raw = [x.encode() for x in good[:50]] + bad + [x.encode() for x in good[50:]]
    (tmp_path / "access.log").write_bytes(b"\r\n".join(raw[:10]) + b"\r\n" +
                                          b"\n".join(raw[10:]) + b"\n")
    out = inspect(rbk_runbook, tmp_path, path=str(tmp_path / "access.log"))
    ref = reference([r.rstrip(b"\r") for r in raw])
    assert_matches_reference(out, ref)
    assert out["malformed"]["count"] == 5 and out["blank"] == 1
    assert len(out["malformed"]["samples"]) == 5
    assert all(len(s) <= 300 for s in out["malformed"]["samples"])
    # the 64 KiB line is a valid request and is counted
    assert any(p["path"].startswith("/aaaa") for p in out["top_paths"]) or \
        ref["paths"]["/" + "a" * 65536] == 1


def test_rotated_and_gzip_sets_are_read_oldest_first(rbk_runbook, tmp_path):
    lines = spike_log(minutes=6, spike_from=99)
    third = len(lines) // 3
    write(tmp_path / "access.log.2.gz", lines[:third], gz=True)
    write(tmp_path / "access.log.1", lines[third:2 * third])
    write(tmp_path / "access.log", lines[2 * third:], newline_at_end=False)
    os.utime(tmp_path / "access.log.2.gz", (1, 1))
    out = inspect(rbk_runbook, tmp_path, path=str(tmp_path / "access.log*"))
    assert [os.path.basename(f) for f in out["files"]] == ["access.log.2.gz", "access.log.1",
                                                           "access.log"]
    assert_matches_reference(out, reference([x.encode() for x in lines]))


def test_window_boundary_is_exact(rbk_runbook, tmp_path):
    lines = spike_log(minutes=10, spike_from=99)
    log = write(tmp_path / "access.log", lines)
    newest = (T0 + timedelta(seconds=10 * 60 - 1)).timestamp()
    out = inspect(rbk_runbook, tmp_path, path=str(log), window="2m")
    ref = reference([x.encode() for x in lines], since=newest - 120)
    assert out["parsed"] == ref["parsed"]
    assert out["first_ts"] == "2026-12-03T09:07:59Z"
    since = inspect(rbk_runbook, tmp_path, path=str(log), since="2026-12-03T09:03:00Z",
                    until="2026-12-03T09:04:00Z")
    ref = reference([x.encode() for x in lines], since=T0.timestamp() + 180,
                    until=T0.timestamp() + 240)
    assert since["parsed"] == ref["parsed"] and since["status"] == ref["status"]


def test_custom_log_format_round_trips(rbk_runbook, tmp_path):
    fmt = ('$remote_addr [$time_iso8601] $host "$request" $status $bytes_sent '
           'rt=$request_time urt=$upstream_response_time "$http_x_forwarded_for" '
           '"$http_user_agent"')
    rows = []
    for i in range(300):
        t = T0 + timedelta(seconds=i // 3)
        rows.append((f"10.0.{i % 7}.1", t, f"/p{i % 5}", [200, 404, 502][i % 3], 100 + i,
                     (i % 9) / 1000, f"203.0.113.{i % 4}, 10.9.9.9"))
    lines = [f'{ip} [{t.strftime("%Y-%m-%dT%H:%M:%S+00:00")}] shop.example "GET {p}?x=1 HTTP/2.0"'
             f' {st} {size} rt={rt:.3f} urt={rt:.3f}, 0.001 "{xff}" "ua {i % 2}"'
             for i, (ip, t, p, st, size, rt, xff) in enumerate(rows)]
    log = write(tmp_path / "custom.log", lines)
    pasted = "'" + fmt[:40] + "'\n    '" + fmt[40:] + "';"  # as copied from nginx.conf
    out = inspect(rbk_runbook, tmp_path, path=str(log), format=pasted)
    assert out["parsed"] == 300 and out["malformed"]["count"] == 0
    assert out["status"] == {"200": 100, "404": 100, "502": 100}
    assert {c["client"]: c["requests"] for c in out["top_clients"]} == {
        f"10.0.{k}.1": sum(1 for r in rows if r[0] == f"10.0.{k}.1") for k in range(7)}
    assert out["latency_ms"]["max"] == 8
    last_hop = inspect(rbk_runbook, tmp_path, path=str(log), format=fmt, client="xff_first")
    assert {c["client"] for c in last_hop["top_clients"]} == {f"203.0.113.{k}" for k in range(4)}
    xff_last = inspect(rbk_runbook, tmp_path, path=str(log), format=fmt, client="xff_last")
    assert [c["client"] for c in xff_last["top_clients"]] == ["10.9.9.9"]


def test_json_lines_with_a_field_map(rbk_runbook, tmp_path):
    lines = [json.dumps({"ts": (T0 + timedelta(seconds=i)).isoformat(), "ip": f"10.0.0.{i % 3}",
                         "req": f"GET /x{i % 2} HTTP/1.1", "code": 200 if i % 4 else 503,
                         "dur": 0.002 * i})
             for i in range(40)] + ["not json", '{"ip": "1.1.1.1"}']
    log = write(tmp_path / "a.json", lines)
    out = inspect(rbk_runbook, tmp_path, path=str(log), format="json",
                  json_fields={"time": "ts", "client": "ip", "request": "req", "status": "code",
                               "request_time": "dur"})
    assert out["parsed"] == 40 and out["malformed"]["count"] == 2
    assert out["status"] == {"200": 30, "503": 10}
    assert out["latency_ms"]["max"] == 78


def test_common_format_has_no_latency(rbk_runbook, tmp_path):
    lines = [combined("1.1.1.1", T0, "/", 200).rsplit(' "-"', 1)[0]]
    log = write(tmp_path / "c.log", lines)
    out = inspect(rbk_runbook, tmp_path, path=str(log), format="common")
    assert out["parsed"] == 1 and out["latency_ms"] is None


def test_missing_file_and_bad_format_are_clear_step_errors(rbk_runbook, tmp_path):
    body = json.dumps({"name": "t", "steps": [{"id": "i", "action": "logs.inspect",
                                               "with": {"path": str(tmp_path / "nope.log")}}]})
    outcome = rbk_runbook(body).plan()
    assert outcome.exit_code == 1
    assert "no log file matches" in outcome.report.message
    write(tmp_path / "x.log", ["a"])
    body = json.dumps({"name": "t", "steps": [{"id": "i", "action": "logs.inspect",
                                               "with": {"path": str(tmp_path / "x.log"),
                                                        "format": "$remote_addr $status"}}]})
    outcome = rbk_runbook(body).plan()
    assert "no $time_local" in outcome.report.message


def test_a_dash_request_time_is_no_measurement(rbk_runbook, tmp_path):
    lines = [combined("1.1.1.1", T0, "/", 200, 0.25), combined("1.1.1.1", T0, "/", 200) + " -"]
    out = inspect(rbk_runbook, tmp_path, path=str(write(tmp_path / "a.log", lines)))
    assert out["parsed"] == 2
    assert out["latency_ms"] == {"p50": 250, "p90": 250, "p95": 250, "p99": 250, "max": 250}


def test_spike_second_pass_over_rotated_gzip_sets(rbk_runbook, tmp_path, monkeypatch):
    """The second pass reads only the byte ranges around the spike, also inside .gz files."""
    import rbk_logs.reader

    lines = spike_log(minutes=20, spike_from=12)
    whole = inspect(rbk_runbook, tmp_path, path=str(write(tmp_path / "one.log", lines)))
    monkeypatch.setattr(rbk_logs.reader, "CHUNK", 8192)
    half = len(lines) * 2 // 3
    write(tmp_path / "access.log.1.gz", lines[:half], gz=True)
    write(tmp_path / "access.log", lines[half:])
    split = inspect(rbk_runbook, tmp_path, path=str(tmp_path / "access.log*"))
    assert split["spike"]["detected"] and split["spike"] == whole["spike"]
    assert split["spike"]["contributors"]["clients"][0]["client"] == "203.0.113.9"


def test_lines_slightly_out_of_order_are_still_exact(rbk_runbook, tmp_path, monkeypatch):
    """Workers write lines a little out of time order: peaks and distinct clients per
    bucket stay exact within the horizon, across block boundaries too."""
    import rbk_logs.reader

    monkeypatch.setattr(rbk_logs.reader, "CHUNK", 16384)
    lines = spike_log(minutes=20, spike_from=15)
    for i in range(0, len(lines) - 40, 23):
        lines[i], lines[i + 37] = lines[i + 37], lines[i]
    out = inspect(rbk_runbook, tmp_path, path=str(write(tmp_path / "access.log", lines)))
    assert_matches_reference(out, reference([x.encode() for x in lines]))
    assert out["late_lines"] == 0


def test_logs_on_a_remote_host_are_read_over_ssh(rbk_runbook, rbk_ssh_fleet, tmp_path,
                                                 monkeypatch):
    """on: a host of the inventory: the files are streamed over SFTP (the spike's second
    pass seeks into them) and the outputs equal a local read of the same files."""
    import rbk_logs.reader

    monkeypatch.setattr(rbk_logs.reader, "CHUNK", 65536)  # many blocks, real seeks
    lines = spike_log(minutes=20, spike_from=15)
    remote = tmp_path / "remote-logs"
    remote.mkdir()
    write(remote / "access.log.1.gz", lines[: len(lines) // 2], gz=True)
    write(remote / "access.log", lines[len(lines) // 2:])
    local = inspect(rbk_runbook, tmp_path, path=str(remote / "access.log*"))
    body = json.dumps({"name": "t", "steps": [{
        "id": "i", "action": "logs.inspect", "on": "web-2",
        "with": {"path": str(remote / "access.log*")}}]})
    outcome = rbk_runbook(body, inventory=rbk_ssh_fleet.inventory()).plan()
    assert outcome.exit_code == 0, outcome.report.message
    over_ssh = outcome.steps["i"].hosts["web-2"].plan["outputs"]
    assert over_ssh == local
    assert over_ssh["spike"]["detected"]
    assert_matches_reference(over_ssh, reference([x.encode() for x in lines]))
    assert rbk_ssh_fleet.hosts[1].logins() == 1  # one connection for both passes
