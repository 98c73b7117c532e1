"""hosts.scale: bring a service to N instances across a host group."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

from pydantic import Field, field_validator

from rbk import Action, Fidelity, Plan, Result
from rbk.action import StrictInputs
from rbk.errors import CommandFailed, StepFailed


class ScaleInputs(StrictInputs):
    hosts: str = Field(description="Host pattern of the group to spread instances over.")
    count: int = Field(ge=0, le=10000, description="Instances wanted in total.")
    ports: list[int] = Field(min_length=1, description=(
        "Instance slots on each host: one instance per port (e.g. [8081, 8082, 8083])."))
    status: str = Field(description="Command, exits 0 when the instance runs; {port} and "
                                    "{address} are replaced. E.g. systemctl is-active "
                                    "--quiet app@{port}")
    start: str = Field(description="Command that starts the instance ({port}, {address}).")
    stop: str = Field(description="Command that stops the instance ({port}, {address}).")
    health: str | None = Field(None, description="URL that must answer < 500 once an instance "
                                                 "started, e.g. http://{address}:{port}/healthz")
    health_timeout: float = Field(30, description="Seconds to wait for health.")
    upstream: dict[str, Any] | None = Field(None, description=(
        "Register instances in an nginx upstream: {upstream: NAME, on: HOST, nginx: {...}} "
        "(uses the nginx.upstream action)."))

    @field_validator("ports")
    @classmethod
    def _ports(cls, v: list[int]) -> list[int]:
        if any(not 0 < p < 65536 for p in v) or len(set(v)) != len(v):
            raise ValueError("ports must be distinct numbers 1-65535")
        return v


def _fill(template: str, address: str, port: int) -> str:
    # Values are validated numbers and inventory addresses, inserted quoted.
    import shlex

    return template.replace("{port}", str(int(port))).replace("{address}",
                                                              shlex.quote(address))


class Scale(Action):
    name = "hosts.scale"
    description = "Bring a service to N instances across hosts: start/stop, health, upstream."
    Inputs = ScaleInputs
    rollback_support = "full"
    outputs = {"instances": "[{host, address, port}] running after the step",
               "started": "instances started", "stopped": "instances stopped"}

    def _hosts(self, ctx, inputs: ScaleInputs) -> list[Any]:
        if ctx.select_hosts is None:
            raise StepFailed("hosts.scale needs the engine's host selection")
        return ctx.select_hosts(inputs.hosts)

    def check(self, ctx, inputs: ScaleInputs) -> Plan:
        if inputs.count > len(inputs.ports) * 10000:
            raise StepFailed("count too large")
        hosts = self._hosts(ctx, inputs)
        running: list[dict[str, Any]] = []
        free: list[dict[str, Any]] = []
        for h in hosts:
            address = _address(h)
            for port in inputs.ports:
                r = h.run(_fill(inputs.status, address, port), timeout=30)
                slot = {"host": h.name, "address": address, "port": port}
                (running if r.exited == 0 else free).append(slot)
        capacity = len(hosts) * len(inputs.ports)
        if inputs.count > capacity:
            raise StepFailed(f"cannot run {inputs.count} instances: {len(hosts)} hosts x "
                             f"{len(inputs.ports)} ports = {capacity} slots")
        start, stop = _delta(running, free, inputs.count, [h.name for h in hosts],
                             inputs.ports)
        after = [s for s in running if s not in stop] + start
        what = (f"{len(running)} -> {inputs.count} instances" +
                (f": start {', '.join(_label(s) for s in start)}" if start else "") +
                (f": stop {', '.join(_label(s) for s in stop)}" if stop else ""))
        commands = [f"{s['host']}: {_fill(inputs.start, s['address'], s['port'])}" for s in start]
        commands += [f"{s['host']}: {_fill(inputs.stop, s['address'], s['port'])}" for s in stop]
        if inputs.upstream and (start or stop):
            pool = inputs.upstream.get("upstream")
            on = inputs.upstream.get("on") or ctx.host.name
            if start:
                commands.append(f"nginx.upstream add {', '.join(_addr(s) for s in start)} "
                                f"to {pool} on {on}")
            if stop:
                commands.append(f"nginx.upstream remove {', '.join(_addr(s) for s in stop)} "
                                f"from {pool} on {on}")
        return Plan(changed=bool(start or stop),
                    summary=what if start or stop else f"already {inputs.count} instances",
                    fidelity=Fidelity.ESTIMATED, fidelity_reason="instances may start or "
                    "die between plan and apply", commands=commands,
                    outputs={"instances": after, "started": start, "stopped": stop},
                    data={"inputs": inputs.model_dump(), "start": start, "stop": stop})

    def apply(self, ctx, plan: Plan) -> Result:
        inputs = ScaleInputs.model_validate(plan.data["inputs"])
        by_name = {h.name: h for h in self._hosts(ctx, inputs)}
        started: list[dict] = []
        stopped: list[dict] = []
        try:
            for slot in plan.data["start"]:
                self._run(by_name[slot["host"]], inputs.start, slot)
                started.append(slot)
                self._healthy(ctx, inputs, slot)
            if started:
                self._upstream(ctx, inputs, "add", started)
            if plan.data["stop"]:
                self._upstream(ctx, inputs, "remove", plan.data["stop"])
            for slot in plan.data["stop"]:
                self._run(by_name[slot["host"]], inputs.stop, slot)
                stopped.append(slot)
        except StepFailed as exc:
            # Undo what this step already did before failing it.
            try:
                self._undo(ctx, inputs, by_name, started, stopped)
            except StepFailed as undo:
                raise StepFailed(f"{exc}; {undo}") from None
            raise
        return Result(outputs=plan.outputs, summary=plan.summary,
                      data={"inputs": plan.data["inputs"], "started": started,
                            "stopped": stopped})

    def rollback(self, ctx, result: Result) -> None:
        inputs = ScaleInputs.model_validate(result.data["inputs"])
        by_name = {h.name: h for h in self._hosts(ctx, inputs)}
        self._undo(ctx, inputs, by_name, result.data["started"], result.data["stopped"])

    def _undo(self, ctx, inputs, by_name, started, stopped) -> None:
        """Best effort over every instance: one that fails to stop must not leave the
        others running. Raises at the end if any instance is still in the wrong state."""
        problems = []
        if started:
            try:
                self._upstream(ctx, inputs, "remove", started, tolerant=True)
            except StepFailed as exc:
                problems.append(str(exc))
            for slot in reversed(started):
                host = by_name[slot["host"]]
                host.run(_fill(inputs.stop, slot["address"], slot["port"]), timeout=120)
                if self._running(host, inputs, slot):
                    problems.append(f"{_label(slot)} still runs after stop")
        for slot in stopped:
            host = by_name[slot["host"]]
            host.run(_fill(inputs.start, slot["address"], slot["port"]), timeout=120)
            if not self._running(host, inputs, slot):
                problems.append(f"{_label(slot)} did not start again")
        if stopped:
            try:
                self._upstream(ctx, inputs, "add", stopped)
            except StepFailed as exc:
                problems.append(str(exc))
        if problems:
            raise StepFailed("undoing the scale change was incomplete: " + "; ".join(problems))

    @staticmethod
    def _running(host, inputs: ScaleInputs, slot: dict) -> bool:
        return host.run(_fill(inputs.status, slot["address"], slot["port"]),
                        timeout=30).exited == 0

    @staticmethod
    def _run(host, template: str, slot: dict) -> None:
        r = host.run(_fill(template, slot["address"], slot["port"]), timeout=120)
        if r.exited != 0:
            raise CommandFailed(r.command, r.exited, r.stdout, r.stderr, host.name)

    @staticmethod
    def _healthy(ctx, inputs: ScaleInputs, slot: dict) -> None:
        if not inputs.health:
            return
        url = inputs.health.replace("{port}", str(slot["port"])).replace(
            "{address}", slot["address"])
        deadline = time.monotonic() + inputs.health_timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310
                    if resp.status < 500:
                        return
                    last = f"status {resp.status}"
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    return
                last = f"status {exc.code}"
            except OSError as exc:
                last = str(getattr(exc, "reason", exc))
            if ctx.cancelled.wait(0.2):
                break
        raise StepFailed(f"instance {_label(slot)} not healthy at {url} after "
                         f"{inputs.health_timeout:g}s ({last})")

    @staticmethod
    def _upstream(ctx, inputs: ScaleInputs, op: str, slots: list[dict], tolerant=False) -> None:
        if not inputs.upstream or not slots:
            return
        from rbk.plugins import get_registry

        spec = dict(inputs.upstream)
        on = spec.pop("on", None)
        cls = get_registry().action("nginx.upstream")
        action = cls()
        servers = [f"{s['address']}:{s['port']}" for s in slots]
        upstream_inputs = cls.Inputs.model_validate({**spec, "op": op, "servers": servers})
        target = ctx.select_hosts(on)[0] if on else ctx.host
        sub = _with_host(ctx, target)
        try:
            plan = action.check(sub, upstream_inputs)
            if plan.changed:
                action.apply(sub, plan)
        except StepFailed:
            if not tolerant:
                raise


def _with_host(ctx, host):
    from dataclasses import replace

    return replace(ctx, host=host)


def _address(host) -> str:
    return str(host.vars.get("address") or host.name)


def _addr(slot: dict) -> str:
    return f"{slot['address']}:{slot['port']}"


def _label(slot: dict) -> str:
    return f"{slot['host']}:{slot['port']}"


def _delta(running: list[dict], free: list[dict], count: int, order: list[str],
           ports: list[int]) -> tuple[list[dict], list[dict]]:
    """Which slots to start or stop: spread evenly over hosts, ports in the order given;
    stop from the most loaded host (the last of equals), last port first — so scaling
    out and back in returns to the same instances."""
    per_host = {h: [s for s in running if s["host"] == h] for h in order}
    start: list[dict] = []
    stop: list[dict] = []
    free_by_host = {h: sorted((s for s in free if s["host"] == h),
                              key=lambda s: ports.index(s["port"])) for h in order}
    while len(running) + len(start) - len(stop) < count:
        h = min((h for h in order if free_by_host[h]),
                key=lambda h: (len(per_host[h]), order.index(h)))
        slot = free_by_host[h].pop(0)
        per_host[h].append(slot)
        start.append(slot)
    while len(running) + len(start) - len(stop) > count:
        h = max((h for h in order if per_host[h]),
                key=lambda h: (len(per_host[h]), order.index(h)))  # ties: the last host
        slot = max(per_host[h], key=lambda s: ports.index(s["port"]))
        per_host[h].remove(slot)
        stop.append(slot)
    return start, stop
