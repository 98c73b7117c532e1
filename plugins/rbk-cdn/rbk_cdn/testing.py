"""A local fake of the Cloudflare API v4 subset rbk uses, for tests (127.0.0.1 only).

It enforces the documented shapes (Bearer auth, the response envelope,
replace-the-whole-phase semantics of PUT entrypoint, rule fields per phase,
access-rule targets, purge bodies), keeps state, and can be told to fail:
``server.fail_next(status, times=1, retry_after=None, delay=0)``.
"""

from __future__ import annotations

import http.server
import itertools
import json
import re
import threading
import time
from typing import Any

PHASE_ACTIONS = {
    "http_request_cache_settings": {"set_cache_settings"},
    "http_ratelimit": {"block", "challenge", "js_challenge", "managed_challenge", "log"},
}
RULE_KEYS = {"id", "ref", "expression", "action", "action_parameters", "ratelimit",
             "description", "enabled"}
PERIODS = {10, 60, 120, 300, 600, 3600}
TIMEOUTS = {0, 10, 60, 120, 300, 600, 3600, 86400}
TARGETS = {"ip", "ip6", "ip_range", "asn", "country"}
MODES = {"block", "challenge", "whitelist", "js_challenge", "managed_challenge"}


class FakeCloudflare(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, token: str = "test-token"):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.token = token
        self.rulesets: dict[tuple[str, str], dict[str, Any]] = {}
        self.access_rules: dict[str, list[dict[str, Any]]] = {}
        self.purges: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.failures: list[dict[str, Any]] = []
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/client/v4"

    def fail_next(self, status: int, times: int = 1, retry_after: float | None = None,
                  delay: float = 0, method: str | None = None, path: str | None = None,
                  skip: int = 0) -> None:
        """Answer the next ``times`` matching requests (method, path substring) with
        ``status``, after letting ``skip`` matching requests through."""
        for _ in range(times):
            self.failures.append({"status": status, "retry_after": retry_after,
                                  "delay": delay, "method": method, "path": path,
                                  "skip": skip})

    def seed_rule(self, zone: str, phase: str, rule: dict[str, Any]) -> dict[str, Any]:
        rs = self.rulesets.setdefault((zone, phase), {"id": f"rs{next(self.ids)}",
                                                     "phase": phase, "kind": "zone",
                                                     "version": "1", "rules": []})
        rule = {**rule, "id": rule.get("id") or f"r{next(self.ids)}", "version": "1"}
        rs["rules"].append(rule)
        return rule

    def rules(self, zone: str, phase: str) -> list[dict[str, Any]]:
        return (self.rulesets.get((zone, phase)) or {}).get("rules", [])

    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET"]


def _err(code: int, message: str) -> dict[str, Any]:
    return {"success": False, "errors": [{"code": code, "message": message}], "messages": [],
            "result": None}


def _ok(result: Any, **extra: Any) -> dict[str, Any]:
    return {"success": True, "errors": [], "messages": [], "result": result, **extra}


def _balanced(expr: str) -> bool:
    depth, quoted = 0, False
    for ch in expr:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "({":
            depth += 1
        elif not quoted and ch in ")}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0 and not quoted


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeCloudflare

    def log_message(self, *a: Any) -> None:
        pass

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        with self.server.lock:
            self.server.requests.append((method, path))
            failure = None
            matching = [f for f in self.server.failures if f["method"] in (None, method)
                        and (f.get("path") is None or f["path"] in path)]
            if matching and matching[0].get("skip", 0) > 0:
                for f in matching:
                    f["skip"] -= 1
            elif matching:
                failure = matching[0]
                self.server.failures.remove(failure)
        if failure:
            if failure["delay"]:
                time.sleep(failure["delay"])
            headers = ({"Retry-After": str(failure["retry_after"])}
                       if failure["retry_after"] is not None else {})
            return self._send(failure["status"], _err(10000 + failure["status"], "injected"),
                              headers)
        if self.headers.get("Authorization") != f"Bearer {self.server.token}":
            return self._send(401, _err(10000, "Authentication error"))
        if not path.startswith("/client/v4/"):
            return self._send(404, _err(7003, "Could not route"))
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            return self._send(400, _err(6007, "Malformed JSON in request body"))
        with self.server.lock:
            status, payload = self._route(method, path[len("/client/v4"):], query, body)
        self._send(status, payload)

    do_GET = lambda self: self._handle("GET")  # noqa: E731
    do_PUT = lambda self: self._handle("PUT")  # noqa: E731
    do_POST = lambda self: self._handle("POST")  # noqa: E731
    do_DELETE = lambda self: self._handle("DELETE")  # noqa: E731

    def _route(self, method: str, path: str, query: str, body: Any):
        s = self.server
        m = re.fullmatch(r"/zones/(\w+)/rulesets/phases/(\w+)/entrypoint", path)
        if m:
            zone, phase = m.groups()
            if phase not in PHASE_ACTIONS:
                return 400, _err(20021, f"unsupported phase {phase}")
            if method == "GET":
                rs = s.rulesets.get((zone, phase))
                return (404, _err(10003, "could not find entrypoint ruleset")) if rs is None \
                    else (200, _ok(rs))
            if method == "PUT":
                return self._put_rules(zone, phase, body)
        m = re.fullmatch(r"/zones/(\w+)/firewall/access_rules/rules(?:/(\w+))?", path)
        if m:
            return self._access_rules(method, m.group(1), m.group(2), query, body)
        m = re.fullmatch(r"/zones/(\w+)/purge_cache", path)
        if m and method == "POST":
            keys = set(body or {}) & {"purge_everything", "files", "tags", "hosts", "prefixes"}
            if len(keys) != 1 or set(body) != keys:
                return 400, _err(1012, "Request must contain exactly one purge type")
            key = keys.pop()
            if key == "purge_everything" and body[key] is not True:
                return 400, _err(1012, "purge_everything must be true")
            if key != "purge_everything" and (not isinstance(body[key], list)
                                              or not 0 < len(body[key]) <= 30):
                return 400, _err(1015, f"{key}: 1 to 30 items")
            s.purges.append(body)
            return 200, _ok({"id": f"p{next(s.ids)}"})
        return 404, _err(7003, "Could not route")

    def _put_rules(self, zone: str, phase: str, body: Any):
        s = self.server
        if not isinstance(body, dict) or set(body) - {"rules", "description", "name"} \
                or not isinstance(body.get("rules"), list):
            return 400, _err(20003, "body must be {rules: [...]}")
        existing = {r["id"]: r for r in s.rules(zone, phase)}
        out = []
        for i, rule in enumerate(body["rules"]):
            if not isinstance(rule, dict) or set(rule) - RULE_KEYS:
                return 400, _err(20100, f"rules[{i}]: unknown fields "
                                        f"{sorted(set(rule) - RULE_KEYS)}")
            if not isinstance(rule.get("expression"), str) or not _balanced(rule["expression"]):
                return 400, _err(20101, f"rules[{i}]: invalid expression")
            if rule.get("action") not in PHASE_ACTIONS[phase]:
                return 400, _err(20102, f"rules[{i}]: action {rule.get('action')!r} not "
                                        f"allowed in {phase}")
            if phase == "http_ratelimit":
                rl = rule.get("ratelimit") or {}
                if "cf.colo.id" not in rl.get("characteristics", []) or \
                        rl.get("period") not in PERIODS or \
                        rl.get("mitigation_timeout") not in TIMEOUTS or \
                        not isinstance(rl.get("requests_per_period"), int):
                    return 400, _err(20103, f"rules[{i}]: invalid ratelimit")
            if "id" in rule and rule["id"] not in existing:
                return 400, _err(20104, f"rules[{i}]: rule {rule['id']} not found")
            version = str(int(existing.get(rule.get("id"), {}).get("version", "0")) + 1)
            out.append({**rule, "id": rule.get("id") or f"r{next(s.ids)}", "version": version})
        rs = s.rulesets.setdefault((zone, phase), {"id": f"rs{next(s.ids)}", "phase": phase,
                                                   "kind": "zone", "version": "0"})
        rs["rules"] = out  # replace the whole list: rules not resent are gone
        rs["version"] = str(int(rs["version"]) + 1)
        return 200, _ok(rs)

    def _access_rules(self, method: str, zone: str, rule_id: str | None, query: str, body: Any):
        s = self.server
        rules = s.access_rules.setdefault(zone, [])
        if method == "GET" and rule_id is None:
            params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
            from urllib.parse import unquote_plus

            notes = unquote_plus(params.get("notes", "")) or None
            page, per = int(params.get("page", 1)), int(params.get("per_page", 20))
            hits = [r for r in rules if notes is None or notes in r["notes"]]
            chunk = hits[(page - 1) * per: page * per]
            return 200, _ok(chunk, result_info={"page": page, "per_page": per,
                                                "count": len(chunk), "total_count": len(hits)})
        if method == "POST" and rule_id is None:
            cfg = (body or {}).get("configuration") or {}
            if body.get("mode") not in MODES or cfg.get("target") not in TARGETS \
                    or not isinstance(cfg.get("value"), str):
                return 400, _err(10001, "invalid mode or configuration")
            if any(r["configuration"] == cfg for r in rules):
                return 400, _err(10009, "firewallaccessrules.api.duplicate_of_existing")
            rule = {"id": f"a{next(s.ids)}", "mode": body["mode"], "configuration": cfg,
                    "notes": body.get("notes", "")}
            rules.append(rule)
            return 200, _ok(rule)
        if method == "DELETE" and rule_id:
            for r in rules:
                if r["id"] == rule_id:
                    rules.remove(r)
                    return 200, _ok({"id": rule_id})
            return 404, _err(10013, "rule not found")
        return 405, _err(10000, "method not allowed")
