"""Plain and terminal renderings: markdown (paste into an incident channel) and rich text."""

from __future__ import annotations

import io
import json
import time
from typing import Any

from rbk.report.charts import chart_line, table_markdown, table_text
from rbk.report.model import Report, StepEntry

STATUS_WORD = {
    "would_change": "WOULD CHANGE", "no_change": "no change", "skipped": "skipped",
    "failed": "FAILED", "applied": "applied", "rolled_back": "rolled back",
    "not_run": "not run", "planned": "planned", "applying": "applying",
    "not_rolled_back": "NOT ROLLED BACK", "rollback_failed": "ROLLBACK FAILED",
}



def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(ts)) if ts else "-"


def _fmt_value(v: Any) -> str:
    return json.dumps(v, default=str) if not isinstance(v, str) else v


def _names(names: list[str]) -> str:
    if len(names) <= 5:
        return ", ".join(names)
    return f"{', '.join(names[:3])} and {len(names) - 3} more ({len(names)} hosts)"


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=True, default=str) + "\n"


def render_markdown(report: Report) -> str:
    rb = report.runbook
    out = [f"# {report.headline}", "",
           f"**{rb.get('title') or rb['name']}** (`{rb['name']}`) — run `{report.run_id}`, "
           f"mode **{report.mode}**, trigger {report.trigger}, started {_when(report.started)}", ""]
    if report.message:
        out += [f"> {report.message}", ""]
    if report.inputs:
        out += ["| input | value |", "|---|---|"]
        out += [f"| {k} | `{_fmt_value(v)}` |" for k, v in report.inputs.items()]
        out.append("")
    for i, step in enumerate(report.steps, 1):
        out += _md_step(i, step)
    if report.rollback:
        state = "complete" if report.rollback.get("complete") else "INCOMPLETE"
        out += [f"## Rollback: {state}", "", f"Reason: {report.rollback.get('reason')}", ""]
    return "\n".join(out).rstrip() + "\n"


def _md_step(i: int, step: StepEntry) -> list[str]:
    title = step.name or step.id
    out = [f"## {i}. {title} — {STATUS_WORD.get(step.status, step.status)}", "",
           f"`{step.id}` · action `{step.action}`"
           + (f" · fidelity **{step.fidelity}**" if step.fidelity else "")
           + (f" · {step.rollback_label}" if step.rollback_label else "")
           + (" · approval gate" if step.approve else ""), ""]
    if step.reason:
        out += [f"Skipped: {step.reason}", ""]
    if step.error:
        out += [f"**Error:** {step.error}", ""]
    for names, h in step.host_groups():
        plan = h.plan or {}
        prefix = f"**{_names(names)}**: " if len(step.hosts) > 1 or names != ["localhost"] else ""
        if plan.get("summary"):
            out.append(f"{prefix}{plan['summary']}")
        if plan.get("fidelity_reason"):
            out.append(f"  _({plan['fidelity']}: {plan['fidelity_reason']})_")
        out.append("")
        for chart in plan.get("charts") or []:
            out += [f"`{chart_line(chart)}`", ""]
        for table in plan.get("tables") or []:
            out += table_markdown(table)
        for cmd in plan.get("commands") or []:
            out += ["```sh", cmd, "```"]
        for call in plan.get("api_calls") or []:
            out += ["```http", f"{call.get('method', '')} {call.get('url', '')}",
                    json.dumps(call.get("body"), indent=2, default=str) if call.get("body")
                    is not None else "", "```"]
        if plan.get("diff"):
            out += ["```diff", plan["diff"].rstrip("\n"), "```"]
        if h.result and h.result.get("summary"):
            out.append(f"Result: {h.result['summary']}")
        if h.error:
            out.append(f"**Failed:** {h.error}")
        if h.rollback:
            out.append(f"Rollback: {h.rollback}")
        out.append("")
    for line in step.logs:
        out.append(f"- {line}")
    return out + [""]


def render_text(report: Report, *, color: bool | None = None, width: int | None = None) -> str:
    """Terminal rendering with rich; colour only when writing to a TTY."""
    from rich.console import Console
    from rich.markup import escape

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=bool(color), no_color=not color,
                      width=width or 100, highlight=False, soft_wrap=True)
    rb = report.runbook
    style = "bold yellow" if report.is_plan else (
        "bold green" if report.status == "succeeded" else "bold red")
    console.print(f"[{style}]{escape(report.headline)}[/]")
    console.print(f"{escape(rb.get('title') or rb['name'])} ({escape(rb['name'])}) · run "
                  f"{report.run_id} · {report.mode} · {escape(report.trigger)}")
    if report.message:
        console.print(f"[bold]{escape(report.message)}[/]")
    console.print()
    for i, step in enumerate(report.steps, 1):
        word = STATUS_WORD.get(step.status, step.status)
        colour = {"would_change": "yellow", "failed": "red", "applied": "green",
                  "rolled_back": "magenta", "rollback_failed": "bold red",
                  "not_rolled_back": "bold red"}.get(step.status, "dim")
        meta = [step.action]
        if step.fidelity:
            meta.append(f"fidelity {step.fidelity}")
        if step.rollback_label:
            meta.append(step.rollback_label)
        console.print(f"{i:>2}. [bold]{escape(step.name or step.id)}[/] [{colour}]{word}[/] "
                      f"[dim]({escape(', '.join(meta))})[/]")
        if step.reason:
            console.print(f"    skipped: {escape(step.reason)}")
        if step.error:
            console.print(f"    [red]error: {escape(step.error)}[/]")
        if step.failed_hosts:
            console.print(f"    [red]{len(step.failed_hosts)} host(s) failed (within "
                          f"max_fail_percentage): {escape(', '.join(step.failed_hosts))}[/]")
        for names, h in step.host_groups():
            plan = h.plan or {}
            on = (escape(f"[{_names(names)}] ") if len(step.hosts) > 1
                  or names != ["localhost"] else "")
            if plan.get("summary"):
                console.print(f"    {on}{escape(plan['summary'])}")
            if plan.get("fidelity_reason"):
                console.print(f"    [dim]{escape(plan['fidelity'])}: "
                              f"{escape(plan['fidelity_reason'])}[/]")
            for chart in plan.get("charts") or []:
                console.print(f"    {escape(chart_line(chart))}")
            for table in plan.get("tables") or []:
                for line in table_text(table):
                    console.print(escape(line))
            for cmd in plan.get("commands") or []:
                lines = cmd.splitlines() or [""]
                if not plan.get("changed") and len(lines) > 3:
                    # A read-only probe: its findings matter here, not its full text.
                    cmd = f"{lines[0]} … ({len(lines) - 1} more lines; see --format json)"
                console.print(f"    $ {escape(cmd)}")
            for call in plan.get("api_calls") or []:
                console.print(f"    {escape(str(call.get('method')))} {escape(str(call.get('url')))}")
            if plan.get("diff"):
                for line in plan["diff"].rstrip("\n").splitlines():
                    colour = ("cyan" if line.startswith("@@") else "green" if line.startswith("+")
                              else "red" if line.startswith("-") else "")
                    console.print(f"    [{colour}]{escape(line)}[/]" if colour
                                  else f"    {escape(line)}")
            if h.result and h.result.get("summary"):
                console.print(f"    → {escape(h.result['summary'])}")
            if h.error and h.status == "failed":
                console.print(f"    [red]{on}failed: {escape(h.error)}[/]")
            if h.rollback:
                console.print(f"    ↩ {escape(h.rollback)}")
        for line in step.logs:
            console.print(f"    [dim]{escape(line)}[/]")
    if report.rollback:
        ok = report.rollback.get("complete")
        console.print()
        console.print("[green]rollback complete[/]" if ok else
                       "[bold red]ROLLBACK INCOMPLETE — check the steps marked above[/]")
    return buf.getvalue()
