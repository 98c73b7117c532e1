"""Plans and runs a runbook's steps: dry run, apply, retries, timeouts, rollback.

Journal first, then act: every event is written (and fsynced) before the
action it announces, so a crash leaves a record ``rbk runs`` can show.
"""

from __future__ import annotations

import getpass
import os
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rbk.action import Action, ActionContext, Fidelity, Plan, Result
from rbk.errors import (
    ApprovalDenied,
    BudgetExceeded,
    ExitCode,
    RbkError,
    StepFailed,
    TemplateError,
)
from rbk.hosts.base import Host
from rbk.hosts.inventory import Inventory, resolve_host_secrets
from rbk.inputs import resolve_inputs, secret_values
from rbk.loader import LoadedRunbook
from rbk.model import RollbackOverride, Step
from rbk.plugins import Registry
from rbk.redact import Redactor
from rbk.runs.journal import Journal, read_journal
from rbk.runs.state import state_dir as default_state_dir
from rbk.runs.store import RunStore
from rbk.templating import Templater

DEFAULT_MAX_CHANGED_STEPS = 25
DEFAULT_MAX_HOSTS = 100
DEFAULT_FORKS = 20


class RollbackUnsupported(Exception):
    """Raised by ``Action.rollback`` when this particular result cannot be undone."""


@dataclass
class RunOptions:
    dry_run: bool = True
    inputs: dict[str, Any] = field(default_factory=dict)
    inventory: Inventory | None = None
    limit: str | None = None
    #: Answers approval gates; None means nobody can be asked (no TTY, no --yes).
    approver: Callable[[str], bool] | None = None
    trigger: str = ""
    alert: dict[str, Any] | None = None
    max_changed_steps: int | None = None
    max_hosts: int | None = None
    forks: int = DEFAULT_FORKS
    state_dir: Path | None = None
    #: Called with each journal record as it is written (live progress).
    on_event: Callable[[dict[str, Any]], None] | None = None


@dataclass
class RunOutcome:
    run_id: str
    exit_code: ExitCode
    status: str
    events: list[dict[str, Any]]
    journal: Path

    def report(self):
        from rbk.report.model import build_report

        return build_report(self.events)


@dataclass
class _Applied:
    step: Step
    action: Action
    host: Host
    ctx: ActionContext
    result: Result


class _Stop(Exception):
    """Internal: end the step loop with a status and exit code."""

    def __init__(self, status: str, code: ExitCode, message: str):
        super().__init__(message)
        self.status, self.code = status, code


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def run_runbook(loaded: LoadedRunbook, registry: Registry, options: RunOptions) -> RunOutcome:
    """Plan (dry run) or apply ``loaded``. User errors before the run raise RbkError."""
    return _Run(loaded, registry, options).execute()


class _Run:
    def __init__(self, loaded: LoadedRunbook, registry: Registry, options: RunOptions):
        self.loaded, self.rb = loaded, loaded.runbook
        self.registry, self.opt = registry, options
        self.inputs = resolve_inputs(self.rb, options.inputs, where=str(loaded.path))
        self.redactor = Redactor(secret_values(self.rb, self.inputs))
        self.templater = Templater(registry.filters)
        self.inventory = options.inventory or Inventory.default()
        self.state = options.state_dir or default_state_dir()
        self.store = RunStore(self.state)
        self.run_id = new_run_id()
        self.mode = "plan" if options.dry_run else "apply"
        self.outputs: dict[str, Any] = {}
        self.applied: list[_Applied] = []
        self.hosts: dict[str, Host] = {}
        self.changed_steps = 0
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        b = self.rb.budget
        self.max_steps = _first(options.max_changed_steps, b.max_changed_steps,
                                DEFAULT_MAX_CHANGED_STEPS)
        self.max_hosts = _first(options.max_hosts, b.max_hosts, DEFAULT_MAX_HOSTS)

    # -- bookkeeping ------------------------------------------------------------

    def emit(self, event: str, **fields: Any) -> None:
        with self.lock:
            record = self.journal.write(event, **fields)
            self.events.append(record)
        if self.opt.on_event:
            self.opt.on_event(record)

    def variables(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs,
            "steps": self.outputs,
            "run": {"id": self.run_id, "dry_run": self.opt.dry_run, "mode": self.mode},
            "alert": self.opt.alert or {},
        }

    # -- the run --------------------------------------------------------------

    def execute(self) -> RunOutcome:
        trigger = self.opt.trigger or f"cli:{_user()}"
        self.store.start(self.run_id, self.rb.name, self.mode, trigger)
        self.journal = Journal(self.store.journal_path(self.run_id), self.redactor)
        steps_meta = []
        for s in self.rb.steps:
            cls = self.registry.actions[s.action]
            steps_meta.append({"id": s.id, "action": s.action, "name": s.name,
                               "mutating": cls.mutating, "budgeted": cls.is_budgeted(),
                               "approve": s.approve,
                               "rollback_support": ("none" if s.rollback is False else
                                                    "override" if isinstance(
                                                        s.rollback, RollbackOverride)
                                                    else cls.rollback_support)})
        run_info = {"id": self.run_id, "mode": self.mode, "trigger": trigger,
                    "runbook": {"name": self.rb.name, "title": self.rb.title,
                                "description": self.rb.description,
                                "path": str(self.loaded.path)},
                    "inputs": {k: ("********" if self.rb.inputs[k].secret and v is not None
                                   else v) for k, v in self.inputs.items()},
                    "budget": {"max_changed_steps": self.max_steps, "max_hosts": self.max_hosts},
                    "steps": steps_meta}
        self.emit("run_started", run=run_info)
        self.registry.pm.hook.rbk_run_started(run=self.redactor(run_info))
        status, code, message = "succeeded", ExitCode.OK, ""
        try:
            status, code, message = self.body()
        except _Stop as stop:
            status, code, message = stop.status, stop.code, str(stop)
        except KeyboardInterrupt:
            self.emit("interrupted", message="interrupted (Ctrl-C)")
            rolled = self.rollback("interrupted") if not self.opt.dry_run else True
            status = "interrupted"
            code = ExitCode.INTERRUPTED if rolled else ExitCode.ROLLBACK_FAILED
            message = "interrupted; " + ("applied steps rolled back" if rolled
                                         else "ROLLBACK INCOMPLETE, check by hand")
        finally:
            for host in self.hosts.values():
                try:
                    host.close()
                except Exception:
                    pass
        self.emit("run_finished", status=status, exit_code=int(code), message=message)
        outcome = RunOutcome(self.run_id, code, status, self.events, self.journal.path)
        try:
            self.registry.pm.hook.rbk_run_finished(run=self.events[0]["run"],
                                                   report=outcome.report())
        except Exception as exc:  # an observer must not change the outcome
            self.emit("hook_failed", message=f"rbk_run_finished: {exc}")
        self.journal.close()
        summary = message or f"{self.changed_steps} step(s) {'would change' if self.opt.dry_run else 'changed'}"
        self.store.finish(self.run_id, status, int(code), self.redactor.text(summary))
        return outcome

    def body(self) -> tuple[str, ExitCode, str]:
        """The run's work between run_started and run_finished: the steps, in order."""
        for step in self.rb.steps:
            try:
                self.run_step(step)
            finally:
                self.step_finished(step)
        return ("planned" if self.opt.dry_run else "succeeded"), ExitCode.OK, ""

    def step_finished(self, step: Step) -> None:
        from rbk.report.model import build_report

        entry = next(s for s in build_report(self.events).steps if s.id == step.id)
        try:
            self.registry.pm.hook.rbk_step_finished(run=self.events[0]["run"],
                                                    step=entry.to_dict())
        except Exception as exc:  # an observer must not change the outcome
            self.emit("hook_failed", step=step.id, message=f"rbk_step_finished: {exc}")

    def run_step(self, step: Step) -> None:
        cls = self.registry.actions[step.action]
        action = cls()
        variables = self.variables()
        try:
            if step.when is not None:
                ok = self.templater.evaluate(step.when, variables, step=step.id, field="when")
                if not ok:
                    reason = f"when: {step.when} is false"
                    self.outputs[step.id] = {"skipped": True, "changed": False, "failed": False}
                    self.emit("step_skipped", step=step.id, reason=reason)
                    return
            hosts = self.select_hosts(step, variables)
        except RbkError as exc:
            return self.fail(step, None, exc, phase="prepare")

        # Phase 1: plan every host.
        total = len(hosts)
        plans: dict[str, tuple[Plan, ActionContext, Any]] = {}
        results, failed = self.fan_out(
            hosts, lambda h: self.plan_host(step, action, h, variables))
        plans.update(results)
        if failed and self.too_many_failed(step, failed, total, phase="check"):
            return

        changed_hosts = [n for n, (p, _, _) in plans.items() if p.changed]
        per_host_outputs = {n: {**p.outputs, "changed": p.changed} for n, (p, _, _) in plans.items()}
        per_host_outputs |= {n: {"failed": True, "changed": False, "error": _message(e)}
                             for n, e in failed.items()}
        if not cls.mutating or not changed_hosts:
            self.record_outputs(step, per_host_outputs, changed=False)
            return
        if cls.is_budgeted():
            self.changed_steps += 1
            if self.changed_steps > self.max_steps or len(changed_hosts) > self.max_hosts:
                exc = BudgetExceeded(
                    f"step '{step.id}' would exceed the change budget "
                    f"({self.changed_steps} changed steps / {len(changed_hosts)} hosts; limits "
                    f"{self.max_steps} / {self.max_hosts}); raise it with --max-changes or "
                    f"budget: in the runbook if this is intended")
                return self.fail(step, None, exc, phase="budget")
        if self.opt.dry_run:
            self.record_outputs(step, per_host_outputs, changed=True)
            return

        # Phase 2: the approval gate, once per step, after the plan is known.
        if step.approve:
            changed = [(n, p) for n, (p, _, _) in plans.items() if p.changed]
            summary = "; ".join(p.summary if n == "localhost" and len(changed) == 1
                                else f"{n}: {p.summary}" for n, p in changed)
            question = f"Apply step '{step.id}' ({step.action}): {summary}?"
            self.gate(step, question)

        # Phase 3: apply, batch by batch (serial), stopping when too many hosts failed.
        applied: dict[str, dict[str, Any]] = {}
        for batch in batches(changed_hosts, step.serial):
            results, batch_failed = self.fan_out(
                [self.hosts[n] for n in batch],
                lambda h: self.apply_host(step, action, h, *plans[h.name], variables))
            applied.update(results)
            failed.update(batch_failed)
            if batch_failed and self.too_many_failed(step, failed, total, phase="apply"):
                return
        final = {n: applied.get(n, o) for n, o in per_host_outputs.items()}
        final |= {n: {"failed": True, "changed": False, "error": _message(e)}
                  for n, e in failed.items()}
        self.record_outputs(step, final, changed=any(o.get("changed") for o in final.values()))

    def too_many_failed(self, step: Step, failed: dict[str, BaseException], total: int,
                        phase: str) -> bool:
        """Record tolerated host failures; fail the step (True) past max_fail_percentage."""
        share = len(failed) / total * 100
        if share <= step.max_fail_percentage and len(failed) < total:
            for host, exc in failed.items():
                self.emit("host_failed", step=step.id, host=host, phase=phase,
                          error=_message(exc))
            return False
        first_host, first = next(iter(failed.items()))
        if total > 1:
            exc = StepFailed(f"{len(failed)} of {total} hosts failed ({share:.0f}% > "
                             f"max_fail_percentage {step.max_fail_percentage:g}%): " + "; ".join(
                                 f"{h}: {_message(e)}" for h, e in failed.items()))
            self.fail(step, None, exc, phase=phase)
        else:
            self.fail(step, first_host, first, phase=phase)
        return True

    def record_outputs(self, step: Step, per_host: dict[str, dict[str, Any]], changed: bool) -> None:
        # One host: its outputs directly (steps.x.stdout); always also per host
        # (steps.x.hosts['web-1'].stdout), so runbooks can aggregate over a group.
        out = dict(next(iter(per_host.values()))) if len(per_host) == 1 else {}
        out["hosts"] = per_host
        out.update(changed=changed, skipped=False, failed=False)
        self.outputs[step.id] = out

    def hosts_for(self, pattern: str) -> list[Host]:
        out = []
        for n in self.inventory.select(pattern):
            with self.lock:
                out.append(self.host(n))
        return out

    def host(self, name: str) -> Host:
        """The run's Host for an inventory name (one per run), its secrets resolved."""
        if name not in self.hosts:
            host = self.inventory.host(name, self.registry.transports)
            resolve_host_secrets(host, self.rb, self.inputs, self.redactor.add)
            self.hosts[name] = host
        return self.hosts[name]

    def select_hosts(self, step: Step, variables: dict[str, Any]) -> list[Host]:
        pattern = step.on if step.on is not None else self.rb.targets
        if pattern is not None:
            pattern = self.templater.render(pattern, variables, step=step.id, field="on")
        names = self.inventory.select(pattern)
        if self.opt.limit:
            allowed = set(self.inventory.select(self.opt.limit))
            names = [n for n in names if n in allowed]
        if not names:
            raise StepFailed(f"step '{step.id}': no hosts match {pattern!r}"
                             f"{' with --limit ' + self.opt.limit if self.opt.limit else ''}")
        return [self.host(n) for n in names]

    def fan_out(self, hosts: list[Host], fn: Callable[[Host], Any]
                ) -> tuple[dict[str, Any], dict[str, BaseException]]:
        """Run ``fn`` on every host, at most ``forks`` at once: (results, failures)."""
        results: dict[str, Any] = {}
        errors: dict[str, BaseException] = {}
        if len(hosts) == 1:
            try:
                results[hosts[0].name] = fn(hosts[0])
            except _Stop:
                raise
            except Exception as exc:
                errors[hosts[0].name] = exc
            return results, errors
        with ThreadPoolExecutor(max_workers=min(self.opt.forks, len(hosts))) as pool:
            futures = {h.name: pool.submit(fn, h) for h in hosts}
            for name, fut in futures.items():
                try:
                    results[name] = fut.result()
                except _Stop:
                    raise
                except Exception as exc:
                    errors[name] = exc
        return results, errors

    def context(self, step: Step, host: Host, variables: dict[str, Any]) -> ActionContext:
        def log(message: str) -> None:
            self.emit("log", step=step.id, host=host.name, message=message)

        return ActionContext(
            run_id=self.run_id, step_id=step.id, dry_run=self.opt.dry_run, host=host,
            workdir=Path(os.getcwd()), runbook_dir=self.loaded.path.resolve().parent,
            state_dir=self.state,
            render=lambda text, extra=None: self.templater.render(
                text, {**variables, **(extra or {})}, step=step.id),
            evaluate=lambda expr, extra=None: self.templater.evaluate(
                expr, {**variables, **(extra or {})}, step=step.id),
            confirm=lambda q: self.gate(step, q),
            log=log, timeout=step.timeout, variables=variables,
            select_hosts=lambda pattern: self.hosts_for(pattern),
            add_secret=self.redactor.add)

    def render_inputs(self, step: Step, cls: type[Action], with_: dict[str, Any],
                      variables: dict[str, Any]) -> Any:
        rendered = {}
        for key, value in with_.items():
            if key in cls.raw_fields:
                rendered[key] = value
            else:
                rendered[key] = self.templater.render(value, variables, step=step.id,
                                                      shell=key in cls.shell_fields,
                                                      field=f"with.{key}")
        try:
            return cls.Inputs.model_validate(rendered)
        except ValidationError as exc:
            problems = "; ".join(
                f"with.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise StepFailed(f"step '{step.id}' ({cls.name}): invalid inputs after rendering: "
                             f"{problems}") from None

    def plan_host(self, step: Step, action: Action, host: Host, variables: dict[str, Any]):
        ctx = self.context(step, host, variables)
        inputs = self.render_inputs(step, type(action), step.with_, variables)
        plan = self.with_retries(step, host, "check", lambda: self.check(action, ctx, inputs))
        self.emit("step_planned", step=step.id, host=host.name, plan=plan.to_dict())
        return plan, ctx, inputs

    def check(self, action: Action, ctx: ActionContext, inputs: Any) -> Plan:
        plan = self.call(ctx, lambda: action.check(ctx, inputs))
        if not isinstance(plan, Plan):
            raise StepFailed(f"action {action.name} returned no plan from check(); a mutating "
                             f"action must say what it would change (plugin bug)")
        if plan.fidelity == Fidelity.UNKNOWN and not plan.fidelity_reason:
            raise StepFailed(f"action {action.name} planned with fidelity 'unknown' but gave "
                             f"no reason (plugin bug)")
        return plan

    def apply_host(self, step: Step, action: Action, host: Host, plan: Plan,
                   ctx: ActionContext, inputs: Any, variables: dict[str, Any]) -> dict[str, Any]:
        attempts = step.retries + 1
        for attempt in range(1, attempts + 1):
            self.emit("step_applying", step=step.id, host=host.name, attempt=attempt)
            try:
                result = self.call(ctx, lambda p=plan: action.apply(ctx, p))
                if not isinstance(result, Result):
                    raise StepFailed(f"action {action.name} returned no Result from apply() "
                                     f"(plugin bug)")
                with self.lock:
                    self.applied.append(_Applied(step, action, host, ctx, result))
                self.emit("step_applied", step=step.id, host=host.name,
                          result={"summary": result.summary, "changed": result.changed,
                                  "outputs": result.outputs, "data": result.data})
                self.call(ctx, lambda r=result: action.verify(ctx, r))
                self.emit("step_verified", step=step.id, host=host.name)
                return {**plan.outputs, **result.outputs, "changed": result.changed}
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                if attempt == attempts:
                    raise
                self.emit("step_retry", step=step.id, host=host.name, attempt=attempt,
                          error=_message(exc), delay=step.delay)
                time.sleep(step.delay)
                # Re-plan: the failed attempt may have changed state (it stays on the
                # rollback stack if it was applied).
                plan = self.check(action, ctx, inputs)
                if not plan.changed:
                    return {**plan.outputs, "changed": False}
        raise AssertionError("unreachable")

    def with_retries(self, step: Step, host: Host, phase: str, fn: Callable[[], Any]) -> Any:
        attempts = step.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return fn()
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                if attempt == attempts or isinstance(exc, TemplateError):
                    raise
                self.emit("step_retry", step=step.id, host=host.name, attempt=attempt,
                          phase=phase, error=_message(exc), delay=step.delay)
                time.sleep(step.delay)
        raise AssertionError("unreachable")

    def call(self, ctx: ActionContext, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` under the step timeout (the action sees ``ctx.cancelled`` set)."""
        if ctx.timeout is None:
            return fn()
        pool = ThreadPoolExecutor(max_workers=1)
        future = pool.submit(fn)
        try:
            return future.result(timeout=ctx.timeout)
        except FutureTimeout:
            ctx.cancelled.set()
            raise StepFailed(f"step '{ctx.step_id}' timed out after {ctx.timeout:g}s on "
                             f"{ctx.host.name}") from None
        finally:
            pool.shutdown(wait=False)

    def gate(self, step: Step, question: str) -> bool:
        if self.opt.dry_run:
            return True
        approver = self.opt.approver
        if approver is None:
            self.emit("approval", step=step.id, granted=False, by="nobody",
                      question=question)
            raise _Stop("stopped", ExitCode.STEP_FAILED,
                        f"step '{step.id}' needs approval and nobody can be asked (no terminal);"
                        f" re-run with --yes to approve, or from a terminal")
        granted = bool(approver(question))
        self.emit("approval", step=step.id, granted=granted, by=_user(), question=question)
        if not granted:
            exc = ApprovalDenied(f"step '{step.id}' was not approved")
            self.fail(step, None, exc, phase="approval")
        return granted

    # -- failure and rollback --------------------------------------------------

    def fail(self, step: Step, host: str | None, exc: BaseException, *, phase: str,
             failures: dict[str, BaseException] | None = None) -> None:
        message = _message(exc)
        if failures and len(failures) > 1:
            message = f"failed on {len(failures)} hosts: " + "; ".join(
                f"{h}: {_message(e)}" for h, e in failures.items())
        self.emit("step_failed", step=step.id, host=host, phase=phase, error=message,
                  error_type=type(exc).__name__)
        if os.environ.get("RBK_DEBUG"):
            import traceback

            self.emit("debug", step=step.id, traceback="".join(
                traceback.format_exception(type(exc), exc, exc.__traceback__)))
        self.outputs[step.id] = {"skipped": False, "changed": False, "failed": True,
                                 "error": message}
        policy = step.on_failure
        if isinstance(exc, ApprovalDenied | BudgetExceeded):
            policy = "rollback" if policy == "continue" else policy
        if policy == "continue":
            return
        where = f"step '{step.id}'" + (f" on {host}" if host else "")
        # Approval and budget messages already name the step.
        what = message if isinstance(exc, ApprovalDenied | BudgetExceeded) else (
            f"{where} failed: {message}")
        if self.opt.dry_run:
            raise _Stop("failed", ExitCode.STEP_FAILED, f"plan failed: {what}")
        if policy == "stop":
            raise _Stop("failed", ExitCode.STEP_FAILED,
                        f"{what}; stopped without rollback (on_failure: stop)")
        if not self.applied:
            raise _Stop("failed", ExitCode.STEP_FAILED, f"{what}; nothing had been changed")
        rolled = self.rollback(what)
        if rolled:
            raise _Stop("rolled_back", ExitCode.STEP_FAILED, f"{what}; changes rolled back")
        raise _Stop("rollback_failed", ExitCode.ROLLBACK_FAILED,
                    f"{what}; ROLLBACK INCOMPLETE — a human must check "
                    f"(see 'rbk report {self.run_id}')")

    def rollback(self, reason: str) -> bool:
        """Undo applied steps in reverse order; True if everything changed was undone."""
        self.emit("rollback_started", reason=reason)
        complete = True
        while self.applied:
            item = self.applied.pop()
            step, host = item.step, item.host
            if not item.result.changed:
                continue
            if step.rollback is False:
                self.emit("step_not_rolled_back", step=step.id, host=host.name,
                          reason="rollback: false in the runbook")
                continue
            try:
                if isinstance(step.rollback, RollbackOverride):
                    self.run_override(step, step.rollback, item)
                else:
                    item.action.rollback(item.ctx, item.result)
                self.emit("step_rolled_back", step=step.id, host=host.name)
            except (NotImplementedError, RollbackUnsupported) as exc:
                if type(item.action).rollback_support == "not-needed":
                    continue
                complete = False
                self.emit("step_not_rolled_back", step=step.id, host=host.name,
                          reason=str(exc) or f"{step.action} cannot be rolled back")
            except Exception as exc:
                complete = False
                self.emit("step_rollback_failed", step=step.id, host=host.name,
                          error=_message(exc))
        self.emit("rollback_finished", complete=complete)
        return complete

    def run_override(self, step: Step, override: RollbackOverride, item: _Applied) -> None:
        cls = self.registry.action(override.action)
        action = cls()
        variables = self.variables()
        inputs = self.render_inputs(step, cls, override.with_, variables)
        plan = self.check(action, item.ctx, inputs)
        if cls.mutating and plan.changed:
            action.apply(item.ctx, plan)


def _message(exc: BaseException) -> str:
    if isinstance(exc, RbkError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def batches(names: list[str], serial: int | str | list[int | str] | None) -> list[list[str]]:
    """Split hosts into rollout batches: ``1``, ``"25%"`` or ``[1, 5, "100%"]`` (canary first;
    the last size repeats)."""
    if not serial or not names:
        return [names] if names else []
    sizes = serial if isinstance(serial, list) else [serial]
    out, i, k = [], 0, 0
    while i < len(names):
        size = sizes[min(k, len(sizes) - 1)]
        if isinstance(size, str) and size.endswith("%"):
            n = max(1, int(len(names) * float(size[:-1]) / 100))
        else:
            n = max(1, int(size))
        out.append(names[i:i + n])
        i += n
        k += 1
    return out


def _first(*values: int | None) -> int:
    return next(v for v in values if v is not None)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def load_events(run_id: str, state: Path | None = None) -> tuple[Any, list[dict[str, Any]]]:
    store = RunStore(state or default_state_dir())
    row = store.get(run_id)
    return row, read_journal(Path(row.journal))
