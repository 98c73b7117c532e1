"""rbk-cdn against a local fake Cloudflare API that enforces the documented shapes.

Tests assert the server's resulting state, not just the calls made.
"""

from __future__ import annotations

import copy
import json

import pytest
from rbk_cdn.testing import FakeCloudflare

TOKEN = "cf-token-9d2b7e41"
ZONE = "zone1"
CACHE = "http_request_cache_settings"
RATE = "http_ratelimit"


@pytest.fixture
def cf(monkeypatch):
    server = FakeCloudflare(TOKEN)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKEN)
    yield server
    server.shutdown()
    server.server_close()


def runbook(cf, *steps) -> str:
    out = []
    for i, (action, with_) in enumerate(steps):
        out.append({"id": f"s{i}", "action": action,
                    "with": {"zone": ZONE, "api_base": cf.base, **with_}})
    return json.dumps({"name": "cdn", "steps": out})


def boom_step(text: str) -> str:
    data = json.loads(text)
    data["steps"].append({"id": "boom", "action": "assert", "with": {"that": "false"}})
    return json.dumps(data)


def test_cache_rule_plan_is_exact_and_keeps_other_rules(rbk_runbook, cf):
    theirs = cf.seed_rule(ZONE, CACHE, {"ref": "marketing", "expression": '(http.host eq "a.b")',
                                        "action": "set_cache_settings",
                                        "action_parameters": {"cache": False}, "enabled": True})
    rb = rbk_runbook(runbook(cf, ("cdn.cache_rule", {"name": "static", "paths": ["/static/"],
                                                     "edge_ttl": 86400})))
    outcome = rb.plan().assert_ok().assert_changes(step="s0")
    plan = outcome.steps["s0"].hosts["localhost"].plan
    assert cf.writes() == []  # a dry run only reads
    assert "+++ rbk-cache-static (planned)" in plan["diff"]
    (call,) = plan["api_calls"]
    assert call["method"] == "PUT" and call["url"].endswith(f"/phases/{CACHE}/entrypoint")
    assert call["body"]["rules"][0] == theirs  # proof that the other rule is resent as is

    rb.apply().assert_ok()
    rules = cf.rules(ZONE, CACHE)
    assert [r["ref"] for r in rules] == ["marketing", "rbk-cache-static"]
    assert rules[0]["id"] == theirs["id"] and rules[0]["action_parameters"] == {"cache": False}
    mine = rules[1]
    assert mine["expression"] == '(starts_with(http.request.uri.path, "/static/"))'
    assert mine["action_parameters"]["edge_ttl"] == {"mode": "override_origin", "default": 86400}
    rb.plan().assert_no_changes()


def test_rollback_restores_rbk_rules_and_leaves_others(rbk_runbook, cf):
    cf.seed_rule(ZONE, CACHE, {"ref": "theirs", "expression": '(http.host eq "x.y")',
                               "action": "set_cache_settings", "action_parameters": {"cache": True}})
    before = copy.deepcopy(cf.rules(ZONE, CACHE))
    text = boom_step(runbook(cf, ("cdn.cache_rule", {"name": "static", "paths": ["/img/"]})))
    outcome = rbk_runbook(text).apply()
    assert outcome.exit_code == 1 and outcome.report.rollback["complete"]
    after = cf.rules(ZONE, CACHE)
    assert [(r["id"], r["ref"], r["expression"]) for r in after] == \
        [(r["id"], r["ref"], r["expression"]) for r in before]


def test_rate_limit_rule_goes_last_with_valid_fields(rbk_runbook, cf):
    cf.seed_rule(ZONE, RATE, {"ref": "login", "expression": '(http.request.uri.path eq "/l")',
                              "action": "block", "ratelimit": {
                                  "characteristics": ["cf.colo.id", "ip.src"], "period": 60,
                                  "requests_per_period": 5, "mitigation_timeout": 600}})
    rb = rbk_runbook(runbook(cf, ("cdn.rate_limit", {
        "name": "api", "paths": ["/api/"], "hosts": ["shop.example.com"],
        "requests_per_period": 100, "period": 10})))
    rb.apply().assert_ok()
    rules = cf.rules(ZONE, RATE)
    assert [r["ref"] for r in rules] == ["login", "rbk-ratelimit-api"]
    assert rules[1]["ratelimit"] == {"characteristics": ["cf.colo.id", "ip.src"], "period": 10,
                                     "requests_per_period": 100, "mitigation_timeout": 600}
    assert rules[1]["expression"] == ('(http.host in {"shop.example.com"} and '
                                      'starts_with(http.request.uri.path, "/api/"))')
    bad = rbk_runbook(runbook(cf, ("cdn.rate_limit", {"name": "x", "paths": ["/"],
                                                      "requests_per_period": 1, "period": 7})))
    assert "period 7 must be one of" in bad.plan().report.message


@pytest.mark.parametrize("path", ['/api") or (true', "/a b", '/x"', "static/"])
def test_hostile_paths_cannot_widen_a_rule(rbk_runbook, cf, path):
    outcome = rbk_runbook(runbook(cf, ("cdn.cache_rule", {"name": "x", "paths": [path]}))).plan()
    assert outcome.exit_code == 1 and "not allowed in a CDN rule" in outcome.report.message
    assert cf.requests == []  # refused before any API call


def test_block_is_idempotent_and_a_partial_failure_undoes_itself(rbk_runbook, cf):
    rb = rbk_runbook(runbook(cf, ("cdn.block", {"name": "spike", "clients": [
        "203.0.113.7", "2001:db8::1", "198.51.100.0/24", "AS64500", "country:XX"]})))
    rb.apply().assert_ok()
    stored = {(r["configuration"]["target"], r["configuration"]["value"])
              for r in cf.access_rules[ZONE]}
    assert stored == {("ip", "203.0.113.7"), ("ip6", "2001:db8::1"),
                      ("ip_range", "198.51.100.0/24"), ("asn", "AS64500"), ("country", "XX")}
    assert all(r["notes"] == "rbk-block-spike" for r in cf.access_rules[ZONE])
    rb.plan().assert_no_changes()

    cf.access_rules[ZONE].clear()
    # p blocks one address; q blocks two, and q's second POST keeps failing (500 on
    # every retry) after its first succeeded.
    cf.fail_next(500, times=4, method="POST", path="access_rules", skip=2)
    two = rbk_runbook(runbook(cf, ("cdn.block", {"name": "p", "clients": ["192.0.2.1"]}),
                              ("cdn.block", {"name": "q", "clients": ["192.0.2.2",
                                                                      "192.0.2.3"]})))
    outcome = two.apply()
    assert outcome.exit_code == 1
    assert "the calls that had succeeded were undone" in outcome.report.message
    assert cf.access_rules[ZONE] == []  # q undid its first call; p was rolled back


def test_purge_by_url_and_everything_only_when_confirmed(rbk_runbook, cf):
    rbk_runbook(runbook(cf, ("cdn.purge", {"files": ["https://shop.example.com/a.css"]}))) \
        .apply().assert_ok()
    assert cf.purges == [{"files": ["https://shop.example.com/a.css"]}]
    refused = rbk_runbook(runbook(cf, ("cdn.purge", {"everything": True}))).apply()
    assert refused.exit_code == 1 and "confirm" in refused.report.message
    rbk_runbook(runbook(cf, ("cdn.purge", {"everything": True,
                                           "confirm": "purge everything"}))).apply().assert_ok()
    assert cf.purges[-1] == {"purge_everything": True}


def test_api_errors_as_an_operator_needs_them(rbk_runbook, cf, monkeypatch):
    rb = rbk_runbook(runbook(cf, ("cdn.cache_rule", {"name": "s", "paths": ["/s/"]})))
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "wrong-token")
    denied = rb.plan()
    assert denied.exit_code == 1
    assert "refused the token (401)" in denied.report.message
    assert "Cache Rules > Edit" in denied.report.message
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKEN)

    cf.fail_next(429, retry_after=1)
    cf.fail_next(502)
    rb.apply().assert_ok()  # retried after Retry-After and after the 5xx
    assert len(cf.rules(ZONE, CACHE)) == 1

    cf.fail_next(429, retry_after=3600)
    limited = rbk_runbook(runbook(cf, ("cdn.cache_rule", {"name": "t", "paths": ["/t/"]}))).plan()
    assert "Retry-After 3600s exceeds" in limited.report.message

    cf.fail_next(500, times=10)
    down = rbk_runbook(runbook(cf, ("cdn.cache_rule", {"name": "t", "paths": ["/t/"]}))).plan()
    assert "HTTP 500" in down.report.message


def test_token_never_reaches_reports_or_journals(rbk_runbook, cf, rbk_state_dir):
    outcome = rbk_runbook(runbook(cf, ("cdn.cache_rule", {"name": "s", "paths": ["/s/"]}))) \
        .apply().assert_ok()
    journal = outcome.run.journal.read_text()
    assert TOKEN not in journal
    from rbk.plugins import get_registry

    for render in get_registry().reporters.values():
        assert TOKEN not in render(outcome.report)


def test_a_slow_api_is_bounded_by_the_timeout(rbk_runbook, cf):
    import time

    cf.fail_next(200, times=4, delay=1.5)  # answers only after 1.5 s, every attempt
    start = time.monotonic()
    outcome = rbk_runbook(runbook(cf, ("cdn.cache_rule", {"name": "s", "paths": ["/s/"],
                                                          "timeout": 0.3}))).plan()
    assert outcome.exit_code == 1
    assert "no answer" in outcome.report.message and "after 4 attempts" in outcome.report.message
    assert time.monotonic() - start < 15
