"""Cloudflare API v4 client: envelope checks, bounded retries, errors an operator can act on."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from rbk.errors import StepFailed

API = "https://api.cloudflare.com/client/v4"
PERMISSIONS = {
    "rulesets": "Zone > Cache Rules > Edit (cache rules) or Zone > WAF > Edit (rate limits)",
    "access_rules": "Zone > Firewall Services > Edit",
    "purge_cache": "Zone > Cache Purge > Purge",
}


class Cloudflare:
    def __init__(self, token: str, base: str = API, timeout: float = 15, attempts: int = 4,
                 max_wait: float = 30):
        if not token:
            raise StepFailed("no Cloudflare API token: set CLOUDFLARE_API_TOKEN (or the "
                             "token_env input) or pass api_token from a secret input")
        self.token, self.base = token, base.rstrip("/")
        self.timeout, self.attempts, self.max_wait = timeout, attempts, max_wait

    def request(self, method: str, path: str, body: Any = None,
                params: dict[str, str] | None = None, allow_404: bool = False) -> dict[str, Any]:
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        data = json.dumps(body).encode() if body is not None else None
        waited = 0.0
        delay = 0.5
        last = ""
        for attempt in range(1, self.attempts + 1):
            req = urllib.request.Request(url, data=data, method=method, headers={
                "Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                "User-Agent": "rbk-cdn"})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                    status, raw, headers = resp.status, resp.read(), resp.headers
            except urllib.error.HTTPError as exc:
                status, raw, headers = exc.code, exc.read(), exc.headers
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                last = f"no answer ({getattr(exc, 'reason', exc)})"
                if attempt < self.attempts:
                    time.sleep(delay)
                    delay *= 2
                    continue
                raise StepFailed(f"Cloudflare API {method} {path}: {last} after "
                                 f"{attempt} attempts") from None
            if status == 429 and attempt < self.attempts:
                wait = _retry_after(headers.get("Retry-After"), delay)
                if waited + wait > self.max_wait:
                    raise StepFailed(f"Cloudflare API {method} {path}: rate limited (429); "
                                     f"Retry-After {wait:g}s exceeds rbk's {self.max_wait:g}s "
                                     f"budget — retry later")
                time.sleep(wait)
                waited += wait
                delay *= 2
                last = "429 rate limited"
                continue
            if status >= 500 and attempt < self.attempts:
                time.sleep(delay)
                delay *= 2
                last = f"HTTP {status}"
                continue
            envelope = _envelope(raw)
            if status == 404 and allow_404:
                return {"success": False, "status": 404, "result": None}
            if status in (401, 403):
                area = next((k for k in PERMISSIONS if k in path), "rulesets")
                raise StepFailed(f"Cloudflare refused the token ({status}) on {method} {path}: "
                                 f"{_messages(envelope)}; the token needs {PERMISSIONS[area]} "
                                 f"on this zone")
            if status >= 400 or not envelope.get("success", False):
                raise StepFailed(f"Cloudflare API {method} {path} failed (HTTP {status}): "
                                 f"{_messages(envelope)}")
            return envelope
        raise StepFailed(f"Cloudflare API {method} {path}: {last} after {self.attempts} "
                         f"attempts")

    # -- rulesets ------------------------------------------------------------

    def phase_rules(self, zone: str, phase: str) -> list[dict[str, Any]]:
        env = self.request("GET", f"/zones/{zone}/rulesets/phases/{phase}/entrypoint",
                           allow_404=True)
        if env.get("status") == 404:
            return []
        return list((env.get("result") or {}).get("rules") or [])

    def put_phase_rules(self, zone: str, phase: str, rules: list[dict[str, Any]]) -> list[dict]:
        env = self.request("PUT", f"/zones/{zone}/rulesets/phases/{phase}/entrypoint",
                           {"rules": rules})
        return list((env.get("result") or {}).get("rules") or [])

    # -- IP access rules -----------------------------------------------------

    def access_rules(self, zone: str, notes: str) -> list[dict[str, Any]]:
        out, page = [], 1
        while True:
            env = self.request("GET", f"/zones/{zone}/firewall/access_rules/rules",
                               params={"notes": notes, "page": str(page), "per_page": "100"})
            out += env.get("result") or []
            info = env.get("result_info") or {}
            if page * int(info.get("per_page", 100)) >= int(info.get("total_count", 0)):
                return [r for r in out if r.get("notes") == notes]
            page += 1

    def create_access_rule(self, zone: str, mode: str, target: str, value: str,
                           notes: str) -> dict[str, Any]:
        return self.request("POST", f"/zones/{zone}/firewall/access_rules/rules",
                            {"mode": mode, "configuration": {"target": target, "value": value},
                             "notes": notes})["result"]

    def delete_access_rule(self, zone: str, rule_id: str) -> None:
        self.request("DELETE", f"/zones/{zone}/firewall/access_rules/rules/{rule_id}")

    def purge(self, zone: str, body: dict[str, Any]) -> None:
        self.request("POST", f"/zones/{zone}/purge_cache", body)


def _retry_after(value: str | None, default: float) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def _envelope(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except json.JSONDecodeError:
        return {"success": False, "errors": [{"code": 0, "message": "not JSON: "
                                              + raw[:200].decode("utf-8", "replace")}]}
    return data if isinstance(data, dict) else {"success": False, "errors": []}


def _messages(envelope: dict[str, Any]) -> str:
    errors = envelope.get("errors") or []
    text = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict))
    return text or "no error message"
