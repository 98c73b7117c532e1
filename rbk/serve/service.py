"""The alert service: authenticate, parse, route, persist, then run in the background.

Thin HTTP layers (``rbk.serve.app``) call :meth:`AlertService.handle`; tests and
other programs can too.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rbk.errors import RbkError, UsageError
from rbk.serve import auth
from rbk.serve.alerts import Alert, PayloadError
from rbk.serve.routing import route
from rbk.serve.store import AlertStore

MAX_BODY = 1024 * 1024
MAX_DEPTH = 32


def log_event(event: str, **fields: Any) -> None:
    """One JSON object per line on stderr (structured logs); never headers or bodies."""
    import sys

    line = json.dumps({"ts": round(time.time(), 3), "event": event, **fields}, default=str)
    print(line, file=sys.stderr, flush=True)


@dataclass
class ServeConfig:
    """``serve:`` in rbk.yaml (docs/serve.md)."""

    tokens: list[str] = field(default_factory=list)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    allow_unauthenticated: bool = False
    cooldown: float = 3600
    max_body: int = MAX_BODY
    allow_auto_apply: bool = False
    breaker_max_applying: int = 5
    breaker_window: float = 600
    notify: dict[str, Any] = field(default_factory=dict)
    inventory: str | None = None
    public_url: str = ""
    log: bool = False

    @classmethod
    def from_config(cls, cfg: dict[str, Any], allow_unauthenticated: bool = False) -> ServeConfig:
        from rbk.durations import parse_duration

        s = dict(cfg.get("serve") or {})
        tokens = [t for t in [os.environ.get("RBK_SERVE_TOKEN", "")] + list(
            s.get("tokens") or ([s["token"]] if s.get("token") else [])) if t]
        breaker = s.get("circuit_breaker") or {}
        return cls(tokens=tokens, sources=dict(s.get("sources") or {}),
                   allow_unauthenticated=allow_unauthenticated,
                   cooldown=parse_duration(s.get("cooldown", "1h")),
                   max_body=int(s.get("max_body", MAX_BODY)),
                   allow_auto_apply=bool(s.get("allow_auto_apply", False)),
                   breaker_max_applying=int(breaker.get("max_applying_runs", 5)),
                   breaker_window=parse_duration(breaker.get("window", "10m")),
                   notify=dict(s.get("notify") or {}),
                   inventory=s.get("inventory") or cfg.get("inventory"),
                   public_url=str(s.get("public_url", "")))

    def check(self) -> None:
        if not self.tokens and not self.allow_unauthenticated:
            raise UsageError("rbk serve needs a token: set RBK_SERVE_TOKEN or serve.token in "
                             "rbk.yaml (or pass --allow-unauthenticated, loopback only)")


def _depth(value: Any) -> int:
    depth, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        depth = max(depth, d)
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return depth


class AlertService:
    def __init__(self, config: ServeConfig, state_dir: Path, registry: Any,
                 runbook_paths: list[Path] | None = None):
        self.config, self.state_dir, self.registry = config, state_dir, registry
        self.store = AlertStore(state_dir / "alerts.db")
        self.runbooks = self._load_runbooks(runbook_paths)
        names = {r.name for r in self.runbooks}
        for r in self.runbooks:
            for i, trigger in enumerate(r.runbook.triggers):
                follow = trigger.on_resolved
                if follow is not None and follow.runbook not in names:
                    raise UsageError(f"{r.path}: triggers[{i}].on_resolved names runbook "
                                     f"'{follow.runbook}', which is not on rbk's runbook path "
                                     f"(have: {', '.join(sorted(names))})")
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._worker: threading.Thread | None = None
        self._pool: Any = None

    def _load_runbooks(self, paths: list[Path] | None) -> list[Any]:
        from rbk.search import list_runbooks
        from rbk.validate import load_and_validate

        files = [f.path for f in list_runbooks()] if paths is None else paths
        return [load_and_validate(p, self.registry) for p in files]

    # -- intake -----------------------------------------------------------------

    def authenticate(self, source: str, headers: dict[str, str], body: bytes) -> None:
        cfg = self.config.sources.get(source) or {}
        if source == "grafana" and (cfg.get("secret") or cfg.get("secrets")):
            auth.check_grafana(headers, body, cfg)
        elif source == "pagerduty" and (cfg.get("secret") or cfg.get("secrets")):
            auth.check_pagerduty(headers, body, cfg)
        elif self.config.tokens:
            auth.check_token(headers, self.config.tokens)
        elif not self.config.allow_unauthenticated:
            raise auth.Rejected(401, "unauthorized")

    def handle(self, source: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        """One webhook delivery -> (HTTP status, JSON answer). Nothing starts unless the
        request authenticates and parses; 2xx only once the alerts are committed."""
        status, answer = self._handle(source, headers, body)
        if self.config.log:
            routed = answer.get("routed") or []
            log_event("webhook", source=source, status=status, bytes=len(body),
                      alerts=answer.get("alerts"), error=answer.get("error"),
                      queued=sum(r["result"] == "queued" for r in routed),
                      repeats=sum(r["result"] == "repeat" for r in routed))
        return status, answer

    def _handle(self, source: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        headers = {k.lower(): v for k, v in headers.items()}
        parser = self.registry.alert_sources.get(source)
        if parser is None:
            return 404, {"error": f"no alert source '{source}'"}
        if len(body) > self.config.max_body:
            return 413, {"error": "body too large"}
        try:
            self.authenticate(source, headers, body)
        except auth.Rejected as exc:
            return exc.status, {"error": exc.reason}
        if "json" not in headers.get("content-type", "application/json"):
            return 415, {"error": "send application/json"}
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return 400, {"error": "body is not valid JSON"}
        if _depth(payload) > MAX_DEPTH:
            return 400, {"error": f"JSON nested deeper than {MAX_DEPTH}"}
        try:
            alerts: list[Alert] = parser(payload, headers)
        except PayloadError as exc:
            return 400, {"error": str(exc)}
        entries = []
        for alert in alerts:
            for m in route(alert, self.runbooks):
                entries.append({"runbook": m.runbook.name, "fingerprint": alert.fingerprint,
                                "status": alert.status, "source": source,
                                "inputs": m.inputs, "alert": alert.as_dict(),
                                "on_resolved": m.on_resolved})
        try:
            results = self.store.record(entries, self.config.cooldown)
        except Exception:  # not persisted -> a 5xx so the sender retries
            return 503, {"error": "could not persist the alerts; retry"}
        if any(r["result"] == "queued" for r in results):
            self._wake.set()
        return 202, {"alerts": len(alerts), "routed": [
            {"runbook": r["runbook"], "fingerprint": r["fingerprint"], "result": r["result"],
             "id": r["id"]} for r in results]}

    # -- runs -------------------------------------------------------------------

    def start(self) -> None:
        self._worker = threading.Thread(target=self._loop, name="rbk-serve-worker", daemon=True)
        self._worker.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self._wake.set()
        if self._worker:
            self._worker.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            row = self.store.next_queued()
            if row is None:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            self.run_one(row)

    def run_one(self, row: Any) -> None:
        """Runs are serialised (one at a time), so one runbook never races itself."""
        loaded = next((r for r in self.runbooks if r.name == row["runbook"]), None)
        if loaded is None:
            self.store.finish(row["id"], "failed", None, None, "plan", "runbook no longer loaded")
            return
        apply = loaded.runbook.auto_apply and self.config.allow_auto_apply
        note = ""
        if apply and self.store.applying_since(time.time() - self.config.breaker_window) >= \
                self.config.breaker_max_applying:
            apply, note = False, "circuit breaker open: too many applying runs; planned only"
        job = {"path": str(loaded.path), "dry_run": not apply,
               "inputs": json.loads(row["inputs"]), "alert": json.loads(row["alert"]),
               "trigger": f"alert{'-resolved' if row['status'] == 'resolved' else ''}:"
                          f"{row['source']}:{row['fingerprint']}",
               "inventory": self.config.inventory, "state_dir": str(self.state_dir)}
        try:
            run_id, exit_code, headline = self._execute(job)
        except RbkError as exc:
            self.store.finish(row["id"], "failed", None, None, "apply" if apply else "plan",
                              str(exc))
            self._notify(row, None, f"could not start {row['runbook']}: {exc}")
            return
        self.store.finish(row["id"], "done", run_id, exit_code, "apply" if apply else "plan",
                          note)
        if self.config.log:
            log_event("run", runbook=row["runbook"], fingerprint=row["fingerprint"],
                      run_id=run_id, mode="apply" if apply else "plan", exit_code=exit_code,
                      note=note or None)
        approve = "" if apply else f"; to apply: rbk approve {run_id}"
        self._notify(row, run_id, f"{row['runbook']} for alert {row['fingerprint']}: "
                                  f"{headline}{' (' + note + ')' if note else ''}{approve}")

    def _execute(self, job: dict[str, Any]) -> tuple[str, int, str]:
        """Run in a child process: a runbook's CPU work must not hold the GIL the webhook
        answers need (benchmarks/alerts)."""
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(max_workers=1,
                                             mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_die_with_parent)
        try:
            return self._pool.submit(execute_job, job).result()
        except RbkError:
            raise
        except Exception as exc:  # the child died: report it, keep serving
            self._pool = None
            raise RbkError(f"run process failed: {type(exc).__name__}: {exc}") from None

    def _notify(self, row: Any, run_id: str | None, message: str) -> None:
        channel = self.config.notify.get("channel")
        url = self.config.notify.get("url")
        if not channel or not url:
            return
        send = self.registry.notifiers.get(channel)
        if send is None:
            return
        link = f"{self.config.public_url.rstrip('/')}/runs/{run_id}" if run_id and \
            self.config.public_url else ""
        try:
            send(url, message, {"run_id": run_id, "runbook": row["runbook"],
                                "trigger": f"alert{'-resolved' if row['status'] == 'resolved' else ''}:"
                          f"{row['source']}:{row['fingerprint']}",
                                "report": link, "approve": f"rbk approve {run_id}"
                                if run_id else None})
        except RbkError:
            pass  # a notification failure must not stop alert processing


def _die_with_parent() -> None:
    """Linux: the run process gets SIGTERM when rbk serve goes away, however it goes."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def execute_job(job: dict[str, Any]) -> tuple[str, int, str]:
    """In the child process: load the runbook and run it (module-level, so it pickles)."""
    from rbk.engine import RunOptions, run_runbook
    from rbk.hosts.inventory import load_inventory
    from rbk.plugins import get_registry
    from rbk.validate import load_and_validate

    registry = get_registry()
    loaded = load_and_validate(job["path"], registry)
    inventory = load_inventory(job["inventory"]) if job["inventory"] else None
    outcome = run_runbook(loaded, registry, RunOptions(
        dry_run=job["dry_run"], inputs=job["inputs"], inventory=inventory,
        trigger=job["trigger"], alert=job["alert"], approver=None,
        state_dir=Path(job["state_dir"])))
    return outcome.run_id, int(outcome.exit_code), outcome.report().headline
