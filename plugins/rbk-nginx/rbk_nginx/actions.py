"""nginx.limit_conn, nginx.limit_req, nginx.block, nginx.cache, nginx.upstream."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any, Literal

from pydantic import Field, field_validator

from rbk import Action, Plan, Result
from rbk.action import StrictInputs
from rbk.durations import parse_duration
from rbk.errors import StepFailed
from rbk_nginx import managed, values
from rbk_nginx.target import managed_path, settings

_ENV = None


def render(template: str, **variables: Any) -> str:
    """Render a snippet template in rbk's sandbox; every variable was validated first."""
    global _ENV
    if _ENV is None:
        from rbk.templating import Templater

        _ENV = Templater().values
    return _ENV.from_string(template).render(**variables)


class Common(StrictInputs):
    name: str = Field("rbk", description="Names the zone and the managed files ([a-z0-9_]).")
    state: Literal["present", "absent"] = Field("present", description="absent removes it.")
    nginx: dict[str, Any] = Field(default_factory=dict, description=(
        "nginx settings (binary, prefix, conf, managed_dir, reload, reload_timeout, "
        "error_log, verify_url); default: the host's 'nginx' vars."))

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return values.check(values.NAME, v, "name")


def _key(key: str) -> str:
    if key == "remote_addr":
        return "$binary_remote_addr"
    if key.startswith("header:"):
        header = values.check(values.HEADER, key[7:], "header name")
        return "$http_" + header.lower().replace("-", "_")
    raise values.Invalid(f"key {key!r}: use remote_addr or header:NAME")


class NginxAction(Action):
    """Shared plumbing: settings, plan/apply/rollback of managed files."""

    rollback_support = "full"

    def files(self, ctx: Any, inputs: Any, s: Any) -> tuple[dict[str, str | None],
                                                            dict[str, str], str, dict[str, Any]]:
        raise NotImplementedError

    def check(self, ctx, inputs) -> Plan:
        s = settings(ctx, inputs.nginx)
        try:
            files, needs, summary, outputs = self.files(ctx, inputs, s)
        except values.Invalid as exc:
            raise StepFailed(f"{self.name}: {exc}") from None
        return managed.plan_files(ctx, s, files, summary=summary, outputs=outputs, needs=needs)

    def apply(self, ctx, plan: Plan) -> Result:
        return managed.apply_files(ctx, plan, plan.summary.replace("would ", "", 1))

    def rollback(self, ctx, result: Result) -> None:
        managed.rollback_files(ctx, result)

    def verify(self, ctx, result: Result) -> None:
        managed.verify_files(ctx, result)


def _pair(s: Any, kind: str, scope: str, name: str, http_text: str | None,
          inner_text: str | None, present: bool) -> tuple[dict, dict]:
    http = managed_path(s, "http", f"{kind}_{name}")
    inner = managed_path(s, scope, f"{kind}_{name}")
    files = {http: http_text if present else None, inner: inner_text if present else None}
    return files, {http: "http", inner: scope}


# ---------------------------------------------------------------------------


class LimitInputs(Common):
    """What limit_conn and limit_req share: the key, the zone, the answer, where it applies."""

    key: str = Field("remote_addr", description="remote_addr, or header:NAME (e.g. an API key).")
    zone_size: str = Field("10m", description="Shared memory zone size.")
    status: int = Field(429, ge=400, le=599, description="Status for rejected requests.")
    scope: Literal["server", "location"] = Field("server", description=(
        "Which managed include applies it: server/ (whole server) or location/."))


class LimitConnInputs(LimitInputs):
    limit: int = Field(ge=1, le=100000, description="Concurrent connections per key.")


LIMIT_CONN_HTTP = "{{ header }}limit_conn_zone {{ key }} zone={{ zone }}:{{ size }};\n"
LIMIT_CONN = ("{{ header }}limit_conn {{ zone }} {{ limit }};\nlimit_conn_status {{ status }};\n"
              "limit_conn_log_level warn;\n")


class LimitConn(NginxAction):
    name = "nginx.limit_conn"
    description = "Limit concurrent connections per client (or per header value)."
    Inputs = LimitConnInputs
    outputs = {"zone": "limit_conn zone name", "files": "managed files"}

    def files(self, ctx, i: LimitConnInputs, s):
        zone = f"rbk_conn_{i.name}"
        values.check(values.SIZE, i.zone_size, "zone_size")
        head = managed.header(self.name, ctx.run_id)
        files, needs = _pair(s, "limit_conn", i.scope, i.name,
                             render(LIMIT_CONN_HTTP, header=head, key=_key(i.key), zone=zone,
                                    size=i.zone_size),
                             render(LIMIT_CONN, header=head, zone=zone, limit=i.limit,
                                    status=i.status), i.state == "present")
        what = (f"would limit each {i.key} to {i.limit} concurrent connections ({i.status})"
                if i.state == "present" else f"would remove connection limit {zone}")
        return files, needs, what, {"zone": zone, "files": list(files)}


class LimitReqInputs(LimitInputs):
    rate: str = Field(description="Requests per second or minute per key: 10r/s, 30r/m.")
    burst: int = Field(0, ge=0, le=100000, description="Excess requests queued/allowed.")
    nodelay: bool = Field(True, description="Serve the burst at once instead of pacing it.")
    delay: int | None = Field(None, ge=0, description="Pace only after this many excess requests.")


LIMIT_REQ_HTTP = ("{{ header }}limit_req_zone {{ key }} zone={{ zone }}:{{ size }} "
                  "rate={{ rate }};\n")
LIMIT_REQ = ("{{ header }}limit_req zone={{ zone }}{% if burst %} burst={{ burst }}{% endif %}"
             "{% if delay is not none %} delay={{ delay }}{% elif nodelay %} nodelay{% endif %};\n"
             "limit_req_status {{ status }};\nlimit_req_log_level warn;\n")


class LimitReq(NginxAction):
    name = "nginx.limit_req"
    description = "Limit the request rate per client (or per header value), with a burst."
    Inputs = LimitReqInputs
    outputs = {"zone": "limit_req zone name", "files": "managed files"}

    def files(self, ctx, i: LimitReqInputs, s):
        zone = f"rbk_req_{i.name}"
        values.check(values.RATE, i.rate, "rate")
        values.check(values.SIZE, i.zone_size, "zone_size")
        head = managed.header(self.name, ctx.run_id)
        files, needs = _pair(s, "limit_req", i.scope, i.name,
                             render(LIMIT_REQ_HTTP, header=head, key=_key(i.key), zone=zone,
                                    size=i.zone_size, rate=i.rate),
                             render(LIMIT_REQ, header=head, zone=zone, burst=i.burst,
                                    delay=i.delay, nodelay=i.nodelay, status=i.status),
                             i.state == "present")
        what = (f"would limit each {i.key} to {i.rate} (burst {i.burst}, {i.status})"
                if i.state == "present" else f"would remove rate limit {zone}")
        return files, needs, what, {"zone": zone, "files": list(files)}


# ---------------------------------------------------------------------------


class BlockInputs(Common):
    clients: list[str] = Field(default_factory=list, description="IPs or CIDRs to deny.")
    expires: float | None = Field(None, description="Lift after this long (e.g. 1h); "
                                                    "expired entries go on the next run.")
    expire: bool = Field(False, description="Only lift expired entries (rbk do nginx.block "
                                            "expire=true).")
    clear: bool = Field(False, description="Lift every entry of this block list.")
    protected: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"],
                                 description="Ranges never blocked (your own, monitors, CDN).")
    status: int = Field(403, ge=400, le=599)

    @field_validator("expires", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return None if v is None else parse_duration(v)


BLOCK_HTTP = """{{ header }}geo $rbk_block_{{ name }} {
    default 0;
{%- for net, until in entries %}
    {{ net }} 1;  # rbk-expires={{ until or "never" }}
{%- endfor %}
}
"""
BLOCK_SERVER = "{{ header }}if ($rbk_block_{{ name }}) {\n    return {{ status }};\n}\n"
_ENTRY = re.compile(r"^\s*(\S+) 1;\s*# rbk-expires=(\S+)\s*$")


class Block(NginxAction):
    name = "nginx.block"
    description = "Deny clients (IPs/CIDRs) with an expiry; refuses protected ranges."
    Inputs = BlockInputs
    outputs = {"blocked": "entries after the change", "added": "newly blocked",
               "lifted": "expired entries removed", "files": "managed files"}

    def files(self, ctx, i: BlockInputs, s):
        http_path = managed_path(s, "http", f"block_{i.name}")
        current: dict[str, str] = {}
        old = ctx.host.transport.read_file(http_path)
        for line in (old or b"").decode("utf-8", "replace").splitlines():
            m = _ENTRY.match(line)
            if m:
                current[m[1]] = m[2]
        now = time.time()
        lifted = [n for n, until in current.items() if until != "never"
                  and dt.datetime.fromisoformat(until).timestamp() <= now]
        entries = {n: u for n, u in current.items() if n not in lifted}
        protected = [values.network(p) for p in i.protected]
        added = []
        if i.state == "present" and not i.expire and not i.clear:
            until = (dt.datetime.fromtimestamp(now + i.expires, dt.UTC).isoformat(
                timespec="seconds") if i.expires else "never")
            for raw in i.clients:
                net = values.network(raw)
                if net.prefixlen == 0:
                    raise values.Invalid(f"refusing to block everything ({raw})")
                for p in protected:
                    if net.version == p.version and (net.overlaps(p)):
                        raise values.Invalid(f"refusing to block {raw}: it overlaps protected "
                                             f"range {p}")
                key = str(net.network_address) if net.num_addresses == 1 else str(net)
                if key not in entries:
                    added.append(key)
                entries[key] = until if key not in entries or entries[key] != "never" else "never"
        elif i.clear:
            entries = {}
        elif i.state == "absent":
            for raw in i.clients:
                net = values.network(raw)
                key = str(net.network_address) if net.num_addresses == 1 else str(net)
                entries.pop(key, None)
        head = managed.header(self.name, ctx.run_id)
        present = bool(entries)
        files, needs = _pair(
            s, "block", "server", i.name,
            render(BLOCK_HTTP, header=head, name=i.name,
                   entries=sorted((n, None if u == "never" else u) for n, u in entries.items())),
            render(BLOCK_SERVER, header=head, name=i.name, status=i.status), present)
        bits = []
        if added:
            bits.append(f"would deny {', '.join(added)}")
        if lifted:
            bits.append(f"would lift expired {', '.join(lifted)}")
        removed = [c for c in current if c not in entries and c not in lifted]
        if removed:
            bits.append(f"would unblock {', '.join(removed)}")
        what = "; ".join(bits) or f"block list {i.name}"
        return files, needs, what, {"blocked": sorted(entries), "added": added,
                                    "lifted": lifted, "files": list(files)}


# ---------------------------------------------------------------------------


class CacheInputs(Common):
    paths: list[str] = Field(min_length=1, description="Location prefixes to cache, e.g. /static/.")
    proxy_pass: str = Field(description="Upstream URL those locations proxy to "
                                        "(http://app_pool).")
    cache_dir: str = Field("/var/cache/nginx/rbk", description="proxy_cache_path directory.")
    zone_size: str = "10m"
    max_size: str = "1024m"
    inactive: str = "60m"
    valid: dict[str, str] = Field(default_factory=lambda: {"200 301 302": "10m", "404": "1m"},
                                  description="Status codes -> TTL.")
    use_stale: list[str] = Field(default_factory=lambda: [
        "error", "timeout", "updating", "http_500", "http_502", "http_503", "http_504"])
    lock: bool = True
    bypass: list[str] = Field(default_factory=lambda: ["$http_authorization", "$cookie_session"],
                              description="Variables that, when set, bypass the cache.")


CACHE_HTTP = ("{{ header }}proxy_cache_path {{ dir }} levels=1:2 keys_zone={{ zone }}:{{ size }} "
              "max_size={{ max_size }} inactive={{ inactive }} use_temp_path=off;\n")
CACHE_SERVER = """{{ header }}{% for path in paths %}location ^~ {{ path }} {
    proxy_pass {{ proxy_pass }};
    proxy_set_header Host $host;
    proxy_cache {{ zone }};
{%- for codes, ttl in valid %}
    proxy_cache_valid {{ codes }} {{ ttl }};
{%- endfor %}
    proxy_cache_use_stale {{ use_stale | join(' ') }};
    proxy_cache_lock {{ 'on' if lock else 'off' }};
{%- if bypass %}
    proxy_cache_bypass {{ bypass | join(' ') }};
    proxy_no_cache {{ bypass | join(' ') }};
{%- endif %}
    add_header X-Cache-Status $upstream_cache_status always;
}
{% endfor %}"""
_STALE = {"error", "timeout", "invalid_header", "updating", "http_500", "http_502", "http_503",
          "http_504", "http_403", "http_404", "http_429", "off"}


class Cache(NginxAction):
    name = "nginx.cache"
    description = "Proxy-cache the given locations, with stale serving and a cache lock."
    Inputs = CacheInputs
    outputs = {"zone": "keys_zone name", "files": "managed files"}

    def files(self, ctx, i: CacheInputs, s):
        zone = f"rbk_cache_{i.name}"
        for p in i.paths:
            values.check(values.PATH_PREFIX, p, "path")
        values.check(values.UPSTREAM_URL, i.proxy_pass, "proxy_pass")
        if not re.fullmatch(r"/[A-Za-z0-9._/-]{1,200}", i.cache_dir) or ".." in i.cache_dir:
            raise values.Invalid(f"cache_dir {i.cache_dir!r} must be an absolute plain path")
        for v in (i.zone_size, i.max_size):
            values.check(values.SIZE, v, "size")
        values.check(values.TIME, i.inactive, "inactive")
        valid = []
        for codes, ttl in i.valid.items():
            if not re.fullmatch(r"(any|[1-5]\d\d)( [1-5]\d\d)*", codes):
                raise values.Invalid(f"valid codes {codes!r}: use e.g. '200 301' or 'any'")
            valid.append((codes, values.check(values.TIME, ttl, "ttl")))
        bad = set(i.use_stale) - _STALE
        if bad:
            raise values.Invalid(f"use_stale: unknown {sorted(bad)}")
        for b in i.bypass:
            if not re.fullmatch(r"\$[a-z_][a-z0-9_]{0,63}", b):
                raise values.Invalid(f"bypass {b!r} must be an nginx variable like $cookie_x")
        head = managed.header(self.name, ctx.run_id)
        files, needs = _pair(
            s, "cache", "server", i.name,
            render(CACHE_HTTP, header=head, dir=i.cache_dir, zone=zone, size=i.zone_size,
                   max_size=i.max_size, inactive=i.inactive),
            render(CACHE_SERVER, header=head, paths=i.paths, proxy_pass=i.proxy_pass, zone=zone,
                   valid=valid, use_stale=i.use_stale, lock=i.lock, bypass=i.bypass),
            i.state == "present")
        what = (f"would cache {', '.join(i.paths)} in {zone}" if i.state == "present"
                else f"would stop caching ({zone})")
        return files, needs, what, {"zone": zone, "files": list(files)}


# ---------------------------------------------------------------------------


class UpstreamInputs(StrictInputs):
    upstream: str = Field(description="The upstream block; it must contain "
                                      "'include MANAGED_DIR/upstream/NAME.conf;'.")
    op: Literal["add", "remove", "drain", "undrain", "weight", "set"] = Field(
        description="add/remove servers, drain (mark down) or undrain, set weight, or set the "
                    "whole list.")
    servers: list[str] = Field(min_length=1, description="HOST:PORT of the servers concerned.")
    weight: int = Field(1, ge=1, le=1000)
    max_fails: int | None = Field(None, ge=0, le=1000)
    fail_timeout: str | None = None
    nginx: dict[str, Any] = Field(default_factory=dict)


UPSTREAM = """{{ header }}{% for s in servers %}server {{ s.address }} weight={{ s.weight }}\
{% if s.max_fails is not none %} max_fails={{ s.max_fails }}{% endif %}\
{% if s.fail_timeout %} fail_timeout={{ s.fail_timeout }}{% endif %}\
{% if s.down %} down{% endif %};
{% endfor %}"""
_SERVER = re.compile(r"^\s*server\s+(\S+)((?:\s+\S+)*)\s*;")


def _parse_servers(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        m = _SERVER.match(line)
        if not m:
            continue
        entry: dict[str, Any] = {"address": m[1], "weight": 1, "max_fails": None,
                                 "fail_timeout": None, "down": False}
        for opt in m[2].split():
            k, _, v = opt.partition("=")
            if k == "weight":
                entry["weight"] = int(v)
            elif k == "max_fails":
                entry["max_fails"] = int(v)
            elif k == "fail_timeout":
                entry["fail_timeout"] = v
            elif k == "down":
                entry["down"] = True
        out.append(entry)
    return out


class Upstream(NginxAction):
    name = "nginx.upstream"
    description = "Add, remove, drain or re-weight servers of an upstream pool."
    Inputs = UpstreamInputs
    outputs = {"servers": "the pool after the change: [{address, weight, down}]",
               "active": "servers not drained"}

    def files(self, ctx, i: UpstreamInputs, s):
        if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", i.upstream):
            raise values.Invalid(f"upstream name {i.upstream!r} is not valid ([A-Za-z0-9_])")
        addresses = [values.server_address(a) for a in i.servers]
        if i.fail_timeout:
            values.check(values.TIME, i.fail_timeout, "fail_timeout")
        path = managed_path(s, "upstream", i.upstream)
        old = ctx.host.transport.read_file(path)
        pool = _parse_servers((old or b"").decode("utf-8", "replace"))
        by_addr = {e["address"]: e for e in pool}

        def new_entry(a: str) -> dict[str, Any]:
            return {"address": a, "weight": i.weight, "max_fails": i.max_fails,
                    "fail_timeout": i.fail_timeout, "down": False}

        if i.op == "set":
            pool = [by_addr.get(a, new_entry(a)) | {"down": False} for a in addresses]
        elif i.op == "add":
            pool += [new_entry(a) for a in addresses if a not in by_addr]
        else:
            missing = [a for a in addresses if a not in by_addr]
            if missing:
                raise StepFailed(f"upstream {i.upstream} has no server {', '.join(missing)} "
                                 f"(has: {', '.join(by_addr) or 'none'})")
            if i.op == "remove":
                pool = [e for e in pool if e["address"] not in addresses]
            for e in pool:
                if e["address"] in addresses:
                    if i.op == "drain":
                        e["down"] = True
                    elif i.op == "undrain":
                        e["down"] = False
                    elif i.op == "weight":
                        e["weight"] = i.weight
        if not [e for e in pool if not e["down"]]:
            raise StepFailed(f"refusing to leave upstream {i.upstream} with no active server")
        text = render(UPSTREAM, header=managed.header(self.name, ctx.run_id), servers=pool)
        what = f"would {i.op} {', '.join(addresses)} in upstream {i.upstream}"
        return ({path: text}, {path: f"upstream {i.upstream}"}, what,
                {"servers": [{k: e[k] for k in ("address", "weight", "down")} for e in pool],
                 "active": [e["address"] for e in pool if not e["down"]]})


ACTIONS = [LimitConn, LimitReq, Block, Cache, Upstream]
