"""Host facts from /proc and coreutils: one remote command, parsed into numbers."""

from __future__ import annotations

from typing import Any

# One round trip; sections are separated by markers. Only POSIX sh, cat, df, nproc.
SCRIPT = r"""
echo '@@nproc'; nproc 2>/dev/null || getconf _NPROCESSORS_ONLN
echo '@@loadavg'; cat /proc/loadavg
echo '@@meminfo'; cat /proc/meminfo
echo '@@uptime'; cat /proc/uptime
echo '@@df'; df -P -k / 2>/dev/null | tail -n 1
echo '@@tcp'; cat /proc/net/tcp /proc/net/tcp6 2>/dev/null
echo '@@hostname'; cat /proc/sys/kernel/hostname
"""

TCP_STATES = {"01": "established", "0A": "listen", "06": "time_wait", "08": "close_wait"}


def sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("@@"):
            current = line[2:].strip()
            out[current] = []
        elif current is not None:
            out[current].append(line)
    return out


def parse(text: str) -> dict[str, Any]:
    s = sections(text)
    facts: dict[str, Any] = {}
    facts["hostname"] = (s.get("hostname") or [""])[0].strip()
    facts["cores"] = int((s.get("nproc") or ["0"])[0].strip() or 0)
    load = (s.get("loadavg") or ["0 0 0"])[0].split()
    facts["load"] = {"1m": float(load[0]), "5m": float(load[1]), "15m": float(load[2])}
    facts["load_per_core"] = round(facts["load"]["1m"] / facts["cores"], 3) if facts["cores"] \
        else None
    mem = {}
    for line in s.get("meminfo", []):
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            mem[key] = int(parts[0]) * 1024
    total, available = mem.get("MemTotal", 0), mem.get("MemAvailable", mem.get("MemFree", 0))
    facts["memory"] = {"total_bytes": total, "available_bytes": available,
                       "used_percent": round((total - available) / total * 100, 1) if total
                       else None}
    up = (s.get("uptime") or ["0"])[0].split()
    facts["uptime_s"] = float(up[0]) if up else 0.0
    df = (s.get("df") or [""])[0].split()
    if len(df) >= 5:
        size, used, avail = int(df[1]) * 1024, int(df[2]) * 1024, int(df[3]) * 1024
        facts["disk_root"] = {"total_bytes": size, "used_bytes": used, "available_bytes": avail,
                              "used_percent": round(used / size * 100, 1) if size else None}
    counts = {v: 0 for v in TCP_STATES.values()}
    listening: set[int] = set()
    for line in s.get("tcp", []):
        parts = line.split()
        if len(parts) < 4 or parts[0] == "sl":
            continue
        state = TCP_STATES.get(parts[3])
        if state:
            counts[state] += 1
        if parts[3] == "0A":
            listening.add(int(parts[1].rsplit(":", 1)[1], 16))
    facts["connections"] = counts
    facts["listening_ports"] = sorted(listening)
    return facts
