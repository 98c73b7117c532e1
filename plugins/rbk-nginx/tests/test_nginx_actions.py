"""rbk-nginx against a real nginx: behaviour is asserted with requests, files with hashes."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from rbk_nginx.testing import nginx  # noqa: F401 - fixture


def runbook(*steps: dict) -> str:
    return json.dumps({"name": "t", "steps": list(steps)})


def step(action: str, nginx, id: str = "s", **with_) -> dict:  # noqa: F811
    return {"id": id, "action": action, "with": {"nginx": nginx.settings, **with_}}


def fail_step() -> dict:
    return {"id": "boom", "action": "assert", "with": {"that": "false", "message": "forced"}}


def burst(nginx, n: int, path: str = "/", source: str = "127.0.0.1") -> list[int]:  # noqa: F811
    with ThreadPoolExecutor(max_workers=n) as pool:
        return [r[0] for r in pool.map(lambda _: nginx.get(path, source), range(n))]


def test_limit_conn_rejects_the_excess_of_concurrent_requests(rbk_runbook, nginx):  # noqa: F811
    assert burst(nginx, 10, "/slow").count(200) == 10
    rb = rbk_runbook(runbook(step("nginx.limit_conn", nginx, limit=2)))
    rb.apply().assert_ok()
    statuses = burst(nginx, 10, "/slow")
    assert statuses.count(200) == 2 and statuses.count(429) == 8
    rb.plan().assert_no_changes()


def test_limit_req_burst_beyond_rate_gets_429(rbk_runbook, nginx):  # noqa: F811
    rb = rbk_runbook(runbook(step("nginx.limit_req", nginx, rate="1r/s", burst=2)))
    rb.apply().assert_ok()
    statuses = [nginx.get("/")[0] for _ in range(10)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429] * 7


def test_block_denies_one_source_address_only(rbk_runbook, nginx):  # noqa: F811
    rb = rbk_runbook(runbook(step("nginx.block", nginx, clients=["127.0.0.2"], protected=[],
                                  expires="1h")))
    outcome = rb.apply().assert_ok()
    assert outcome.steps["s"].hosts["localhost"].plan["outputs"]["added"] == ["127.0.0.2"]
    assert nginx.get("/", source="127.0.0.2")[0] == 403
    assert nginx.get("/", source="127.0.0.1")[0] == 200
    geo = (nginx.managed / "http/block_rbk.conf").read_text()
    assert "127.0.0.2 1;  # rbk-expires=20" in geo


def test_block_refuses_everything_loopback_and_hostile_values(rbk_runbook, nginx):  # noqa: F811
    before = nginx.managed_hashes()
    for clients, message in ((["0.0.0.0/0"], "refusing to block everything"),
                             (["::/0"], "refusing to block everything"),
                             (["127.0.0.1"], "overlaps protected range 127.0.0.0/8"),
                             (["1.2.3.4; include /etc/passwd"], "not an IP address")):
        outcome = rbk_runbook(runbook(step("nginx.block", nginx, clients=clients))).apply()
        assert outcome.exit_code == 1 and message in outcome.report.message, clients
    assert nginx.managed_hashes() == before


def test_cache_serves_the_second_request_from_cache(rbk_runbook, nginx):  # noqa: F811
    backend = nginx.backends[0]
    rb = rbk_runbook(runbook(step("nginx.cache", nginx, paths=["/static/"],
                                  proxy_pass="http://app_pool",
                                  cache_dir=str(nginx.prefix / "cache"))))
    rb.apply().assert_ok()
    hits = backend.hits
    first = nginx.get("/static/app.js")
    second = nginx.get("/static/app.js")
    assert first[1]["X-Cache-Status"] == "MISS" and second[1]["X-Cache-Status"] == "HIT"
    assert backend.hits == hits + 1


def test_upstream_add_then_drain_moves_traffic(rbk_runbook, nginx):  # noqa: F811
    one, two = nginx.backends
    add = rbk_runbook(runbook(step("nginx.upstream", nginx, upstream="app_pool", op="add",
                                   servers=[two.address])))
    add.apply().assert_ok()
    seen = {nginx.get(f"/x{i}")[1]["X-Backend"] for i in range(12)}
    assert seen == {"app1", "app2"}
    drain = rbk_runbook(runbook(step("nginx.upstream", nginx, upstream="app_pool", op="drain",
                                     servers=[one.address])))
    drain.apply().assert_ok()
    assert {nginx.get(f"/y{i}")[1]["X-Backend"] for i in range(8)} == {"app2"}
    last = rbk_runbook(runbook(step("nginx.upstream", nginx, upstream="app_pool", op="drain",
                                    servers=[two.address]))).apply()
    assert last.exit_code == 1 and "no active server" in last.report.message


def test_rejected_change_keeps_the_old_config_serving(rbk_runbook, nginx):  # noqa: F811
    before = nginx.managed_hashes()
    workers = nginx.worker_pids()
    # "location ^~ /" duplicates the site's own "location /": nginx -t refuses it.
    outcome = rbk_runbook(runbook(step("nginx.cache", nginx, paths=["/"],
                                       proxy_pass="http://app_pool",
                                       cache_dir=str(nginx.prefix / "cache")))).apply()
    assert outcome.exit_code == 1
    assert 'duplicate location "/"' in outcome.report.message
    assert "[emerg]" in outcome.report.message
    assert nginx.managed_hashes() == before
    assert nginx.get("/")[0] == 200
    assert nginx.worker_pids() == workers


def test_rollback_restores_previous_behaviour_for_each_action(rbk_runbook, nginx):  # noqa: F811
    one, two = nginx.backends
    before = nginx.managed_hashes()
    steps = [
        step("nginx.limit_req", nginx, id="rate", rate="1r/s", burst=0),
        step("nginx.block", nginx, id="block", clients=["127.0.0.3"], protected=[]),
        step("nginx.cache", nginx, id="cache", paths=["/static/"], proxy_pass="http://app_pool",
             cache_dir=str(nginx.prefix / "cache")),
        step("nginx.upstream", nginx, id="pool", upstream="app_pool", op="set",
             servers=[two.address]),
        step("nginx.limit_conn", nginx, id="conn", limit=1),
        fail_step(),
    ]
    outcome = rbk_runbook(runbook(*steps)).apply()
    assert outcome.exit_code == 1 and outcome.report.rollback["complete"] is True
    assert nginx.managed_hashes() == before
    assert [nginx.get("/r")[0] for _ in range(5)] == [200] * 5  # no rate limit
    assert nginx.get("/", source="127.0.0.3")[0] == 200  # not blocked
    assert "X-Cache-Status" not in nginx.get("/static/a.css")[1]  # not cached
    assert {nginx.get(f"/z{i}")[1]["X-Backend"] for i in range(6)} == {"app1"}


def test_dry_run_shows_diffs_and_changes_nothing(rbk_runbook, nginx):  # noqa: F811
    before, workers = nginx.managed_hashes(), nginx.worker_pids()
    steps = [step("nginx.limit_conn", nginx, id="conn", limit=5),
             step("nginx.limit_req", nginx, id="rate", rate="10r/s", burst=20),
             step("nginx.block", nginx, id="block", clients=["203.0.113.7"]),
             step("nginx.cache", nginx, id="cache", paths=["/static/"],
                  proxy_pass="http://app_pool", cache_dir=str(nginx.prefix / "cache")),
             step("nginx.upstream", nginx, id="pool", upstream="app_pool", op="weight",
                  servers=[nginx.backends[0].address], weight=5)]
    outcome = rbk_runbook(runbook(*steps)).plan().assert_ok()
    diffs = {sid: s.hosts["localhost"].plan["diff"] for sid, s in outcome.steps.items()}
    assert "+limit_conn rbk_conn_rbk 5;" in diffs["conn"]
    assert "+limit_req zone=rbk_req_rbk burst=20 nodelay;" in diffs["rate"]
    assert "+    203.0.113.7 1;" in diffs["block"]
    assert "+    proxy_cache rbk_cache_rbk;" in diffs["cache"]
    assert f"+server {nginx.backends[0].address} weight=5;" in diffs["pool"]
    assert all(s.fidelity == "exact" for s in outcome.steps.values())
    assert nginx.managed_hashes() == before and nginx.worker_pids() == workers


def test_missing_include_fails_with_the_line_to_add(rbk_runbook, nginx):  # noqa: F811
    conf = nginx.prefix / "conf/nginx.conf"
    conf.write_text(conf.read_text().replace("        include rbk/server/*.conf;\n", ""))
    outcome = rbk_runbook(runbook(step("nginx.limit_conn", nginx, limit=3))).plan()
    assert outcome.exit_code == 1
    assert f"add 'include {nginx.managed}/server/*.conf;' inside every server block" in \
        outcome.report.message


def test_reload_that_exits_0_but_changes_nothing_is_caught(rbk_runbook, nginx):  # noqa: F811
    before = nginx.managed_hashes()
    settings = {**nginx.settings, "reload": ["true"], "reload_timeout": 1}
    outcome = rbk_runbook(runbook({"id": "s", "action": "nginx.limit_conn",
                                   "with": {"nginx": settings, "limit": 4}})).apply()
    assert outcome.exit_code == 1
    assert "did not start new workers within 1s after reload" in outcome.report.message
    assert nginx.managed_hashes() == before


def test_state_absent_removes_a_limit(rbk_runbook, nginx):  # noqa: F811
    present = rbk_runbook(runbook(step("nginx.limit_req", nginx, rate="1r/s")))
    present.apply().assert_ok()
    assert [nginx.get("/")[0] for _ in range(4)].count(429) >= 2
    absent = rbk_runbook(runbook(step("nginx.limit_req", nginx, rate="1r/s", state="absent")))
    absent.apply().assert_ok()
    assert not list(nginx.managed.rglob("limit_req_*.conf"))
    assert [nginx.get("/")[0] for _ in range(4)] == [200] * 4
    absent.plan().assert_no_changes()


def test_expired_blocks_are_lifted_by_a_later_run(rbk_runbook, nginx):  # noqa: F811
    import time

    rbk_runbook(runbook(step("nginx.block", nginx, clients=["127.0.0.4"], protected=[],
                             expires="1s"))).apply().assert_ok()
    assert nginx.get("/", source="127.0.0.4")[0] == 403
    time.sleep(1.2)
    lift = rbk_runbook(runbook(step("nginx.block", nginx, expire=True)))
    outcome = lift.apply().assert_ok()
    assert outcome.steps["s"].hosts["localhost"].plan["outputs"]["lifted"] == ["127.0.0.4"]
    assert nginx.get("/", source="127.0.0.4")[0] == 200
    assert not (nginx.managed / "http/block_rbk.conf").exists()
