"""hosts.facts, hosts.upload, hosts.service."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Literal

from pydantic import Field, field_validator

from rbk import Action, Fidelity, Plan, Result
from rbk.action import StrictInputs
from rbk.errors import CommandFailed, StepFailed
from rbk_hosts import facts as facts_mod


class FactsInputs(StrictInputs):
    pass


class Facts(Action):
    name = "hosts.facts"
    description = "Cores, load, memory, disk, connections, listening ports, uptime — as numbers."
    Inputs = FactsInputs
    mutating = False
    rollback_support = "not-needed"
    outputs = {"hostname": "kernel hostname", "cores": "online CPUs",
               "load": "{1m, 5m, 15m}", "load_per_core": "1-minute load / cores",
               "memory": "{total_bytes, available_bytes, used_percent}",
               "disk_root": "{total_bytes, used_bytes, available_bytes, used_percent} of /",
               "connections": "{established, listen, time_wait, close_wait} TCP sockets",
               "listening_ports": "TCP ports in LISTEN", "uptime_s": "seconds since boot"}

    def check(self, ctx, inputs: FactsInputs) -> Plan:
        r = ctx.host.run(["sh", "-c", facts_mod.SCRIPT], timeout=ctx.timeout or 30)
        if r.exited != 0:
            raise CommandFailed("facts script", r.exited, r.stdout, r.stderr, ctx.host.name)
        f = facts_mod.parse(r.stdout)
        mem = f["memory"]["used_percent"]
        summary = (f"{f['cores']} cores, load {f['load']['1m']:g} ({f['load_per_core']}/core), "
                   f"memory {mem}% used, {f['connections']['established']} connections")
        return Plan(changed=False, summary=summary, outputs=f)


def _sha(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


class UploadInputs(StrictInputs):
    src: str = Field(description="Local file (relative to where rbk runs).")
    dest: str = Field(description="Absolute path on the target host.")
    mode: str | None = Field(None, description="Octal mode, e.g. '0644'.")
    owner: str | None = Field(None, description="user[:group] (chown).")
    backup: bool = Field(True, description="Keep the previous content for rollback.")

    @field_validator("dest")
    @classmethod
    def _absolute(cls, v: str) -> str:
        if not v.startswith("/") or "\0" in v:
            raise ValueError("dest must be an absolute path")
        return v

    @field_validator("owner")
    @classmethod
    def _owner(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[a-z_][a-z0-9_-]*(:[a-z_][a-z0-9_-]*)?", v):
            raise ValueError(f"owner {v!r} must look like user or user:group")
        return v


class Upload(Action):
    name = "hosts.upload"
    description = "Copy a file to hosts (SFTP), idempotent by checksum, with backup and rollback."
    Inputs = UploadInputs
    rollback_support = "full"
    outputs = {"dest": "path written", "sha256": "checksum of the content"}

    def check(self, ctx, inputs: UploadInputs) -> Plan:
        try:
            data = ctx.local_path(inputs.src).read_bytes()
        except OSError as exc:
            raise StepFailed(f"cannot read {inputs.src}: {exc.strerror}") from None
        t = ctx.host.transport
        old = t.read_file(inputs.dest)
        mode = int(inputs.mode, 8) if inputs.mode else None
        old_mode = t.stat_mode(inputs.dest) if old is not None else None
        changed = old != data or (mode is not None and old_mode != mode)
        what = ("already in place" if not changed else
                f"would {'create' if old is None else 'replace'} {inputs.dest} "
                f"({len(data)} bytes, sha256 {_sha(data)[:12]})")
        return Plan(changed=changed, summary=what, fidelity=Fidelity.EXACT,
                    before=_sha(old), after=_sha(data),
                    outputs={"dest": inputs.dest, "sha256": _sha(data)},
                    data={"content": base64.b64encode(data).decode(), "dest": inputs.dest,
                          "mode": mode, "owner": inputs.owner, "old_sha": _sha(old),
                          "backup": inputs.backup})

    def apply(self, ctx, plan: Plan) -> Result:
        t = ctx.host.transport
        d = plan.data
        old = t.read_file(d["dest"])
        if _sha(old) != d["old_sha"]:
            raise StepFailed(f"{d['dest']} on {ctx.host.name} changed since it was planned")
        old_mode = t.stat_mode(d["dest"]) if old is not None else None
        t.write_file(d["dest"], base64.b64decode(d["content"]),
                     d["mode"] if d["mode"] is not None else old_mode)
        if d["owner"]:
            r = ctx.host.run(["chown", d["owner"], d["dest"]], timeout=30)
            if r.exited != 0:
                raise CommandFailed(r.command, r.exited, r.stdout, r.stderr, ctx.host.name)
        keep = base64.b64encode(old).decode() if old is not None and d["backup"] else None
        return Result(outputs=plan.outputs, summary=f"uploaded {d['dest']}",
                      data={"dest": d["dest"], "existed": old is not None, "old": keep,
                            "old_mode": old_mode, "backup": d["backup"]})

    def rollback(self, ctx, result: Result) -> None:
        t = ctx.host.transport
        d = result.data
        if not d["existed"]:
            t.remove(d["dest"])
        elif d["old"] is None:
            from rbk.engine import RollbackUnsupported

            raise RollbackUnsupported(f"no backup of {d['dest']} was kept (backup: false)")
        else:
            t.write_file(d["dest"], base64.b64decode(d["old"]), d["old_mode"])


class ServiceInputs(StrictInputs):
    name: str = Field(description="systemd unit (nginx, app@8081) or a label for commands.")
    state: Literal["started", "stopped", "restarted", "reloaded"]
    manager: Literal["systemd", "command"] = Field("systemd", description=(
        "systemd (systemctl), or command: give status/start/stop[/restart/reload] commands."))
    status: str | None = Field(None, description="command manager: exits 0 when running.")
    start: str | None = None
    stop: str | None = None
    restart: str | None = None
    reload: str | None = None

    @field_validator("name")
    @classmethod
    def _unit(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9@._:-]{1,128}", v):
            raise ValueError(f"service name {v!r} is not a valid unit name")
        return v


class Service(Action):
    name = "hosts.service"
    description = "Start, stop, restart or reload a systemd unit or a command-defined service."
    Inputs = ServiceInputs
    rollback_support = "partial"  # started/stopped are undone; restarts need nothing
    shell_fields = frozenset({"status", "start", "stop", "restart", "reload"})
    outputs = {"running": "whether the service runs after the step"}

    @staticmethod
    def _cmd(i: ServiceInputs, verb: str) -> list[str] | str:
        if i.manager == "systemd":
            return ["systemctl", "is-active", "--quiet", i.name] if verb == "status" else \
                ["systemctl", verb, i.name]
        cmd = getattr(i, verb)
        if cmd is None:
            if verb == "restart" and i.stop and i.start:
                return f"{i.stop} && {i.start}"
            raise StepFailed(f"service {i.name}: manager 'command' needs a '{verb}' command")
        return cmd

    def check(self, ctx, inputs: ServiceInputs) -> Plan:
        status = self._cmd(inputs, "status")
        running = ctx.host.run(status, timeout=30).exited == 0
        want = inputs.state
        if (want == "started" and running) or (want == "stopped" and not running):
            return Plan(changed=False, summary=f"{inputs.name} is already {want}",
                        outputs={"running": running})
        verb = {"started": "start", "stopped": "stop", "restarted": "restart",
                "reloaded": "reload"}[want]
        cmd = self._cmd(inputs, verb)
        from rbk.hosts.base import display

        return Plan(changed=True, summary=f"would {verb} {inputs.name}",
                    fidelity=Fidelity.EXACT if want in ("started", "stopped")
                    else Fidelity.ESTIMATED,
                    fidelity_reason="" if want in ("started", "stopped")
                    else "a restart or reload interrupts what runs now",
                    commands=[display(cmd)], outputs={"running": want != "stopped"},
                    rollback="full" if want in ("started", "stopped") else "not-needed",
                    data={"inputs": inputs.model_dump(), "verb": verb, "was_running": running})

    def _do(self, ctx, inputs: ServiceInputs, verb: str) -> None:
        r = ctx.host.run(self._cmd(inputs, verb), timeout=ctx.timeout or 120)
        if r.exited != 0:
            raise CommandFailed(r.command, r.exited, r.stdout, r.stderr, ctx.host.name)

    def apply(self, ctx, plan: Plan) -> Result:
        inputs = ServiceInputs.model_validate(plan.data["inputs"])
        self._do(ctx, inputs, plan.data["verb"])
        return Result(outputs=plan.outputs, summary=f"{plan.data['verb']}ed {inputs.name}"
                      .replace("stoped", "stopped"), data=plan.data)

    def verify(self, ctx, result: Result) -> None:
        inputs = ServiceInputs.model_validate(result.data["inputs"])
        want_running = result.data["verb"] != "stop"
        import time

        deadline = time.monotonic() + 10
        while True:
            running = ctx.host.run(self._cmd(inputs, "status"), timeout=30).exited == 0
            if running == want_running:
                return
            if time.monotonic() > deadline:
                raise StepFailed(f"{inputs.name} on {ctx.host.name} is "
                                 f"{'not running' if want_running else 'still running'} after "
                                 f"{result.data['verb']}")
            time.sleep(0.2)

    def rollback(self, ctx, result: Result) -> None:
        inputs = ServiceInputs.model_validate(result.data["inputs"])
        verb = result.data["verb"]
        if verb == "start" and not result.data["was_running"]:
            self._do(ctx, inputs, "stop")
        elif verb == "stop" and result.data["was_running"]:
            self._do(ctx, inputs, "start")


from rbk_hosts.scale import Scale  # noqa: E402 - keeps one module per action family

ACTIONS = [Facts, Upload, Service, Scale]
