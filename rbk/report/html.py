"""A self-contained HTML report: one file, no external assets, diffs highlighted."""

from __future__ import annotations

import json
from html import escape

from rbk.report.charts import svg, table_html
from rbk.report.model import Report
from rbk.report.text import STATUS_WORD, _when

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#1b1f24;padding:0 1rem}
h1{font-size:1.5rem} h1.plan{color:#9a6700} h1.ok{color:#1a7f37} h1.bad{color:#cf222e}
.meta{color:#57606a} table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #d0d7de;padding:.2rem .6rem;text-align:left}
section.step{border:1px solid #d0d7de;border-radius:6px;margin:1rem 0;padding:.6rem 1rem}
.badge{display:inline-block;border-radius:1rem;padding:0 .6rem;font-size:.8rem;background:#eaeef2}
.would_change,.planned{background:#fff8c5}.failed,.rollback_failed,.not_rolled_back{background:#ffebe9}
.applied{background:#dafbe1}.rolled_back{background:#fbefff}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;border-radius:4px}
pre.diff span.add{color:#1a7f37;background:#e6ffec;display:block}
pre.diff span.del{color:#cf222e;background:#ffebe9;display:block}
pre.diff span.hunk{color:#8250df;display:block}
pre.diff span.ctx{display:block}
.error{color:#cf222e;font-weight:600}
"""


def _diff(text: str) -> str:
    lines = []
    for line in text.rstrip("\n").splitlines():
        cls = ("hunk" if line.startswith("@@") else "add" if line.startswith("+")
               else "del" if line.startswith("-") else "ctx")
        lines.append(f'<span class="{cls}">{escape(line) or " "}</span>')
    # Every line is a block-level span, so no newlines between them.
    return '<pre class="diff">' + "".join(lines) + "</pre>"


def render_html(report: Report) -> str:
    rb = report.runbook
    cls = "plan" if report.is_plan else ("ok" if report.status == "succeeded" else "bad")
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8>"
             f"<title>rbk {escape(report.run_id)} — {escape(rb['name'])}</title>"
             f"<style>{_CSS}</style></head><body>",
             f'<h1 class="{cls}">{escape(report.headline)}</h1>',
             f'<p class="meta"><b>{escape(rb.get("title") or rb["name"])}</b> '
             f'(<code>{escape(rb["name"])}</code>) · run <code>{escape(report.run_id)}</code> · '
             f'{escape(report.mode)} · {escape(report.trigger)} · {escape(_when(report.started))}</p>']
    if report.message:
        parts.append(f"<p><b>{escape(report.message)}</b></p>")
    if report.inputs:
        rows = "".join(f"<tr><th>{escape(k)}</th><td><code>{escape(json.dumps(v, default=str))}"
                       f"</code></td></tr>" for k, v in report.inputs.items())
        parts.append(f"<table>{rows}</table>")
    for i, step in enumerate(report.steps, 1):
        word = STATUS_WORD.get(step.status, step.status)
        meta = [f"<code>{escape(step.action)}</code>"]
        if step.fidelity:
            meta.append(f"fidelity <b>{escape(step.fidelity)}</b>")
        if step.rollback_label:
            meta.append(escape(step.rollback_label))
        parts.append(f'<section class="step"><h2>{i}. {escape(step.name or step.id)} '
                     f'<span class="badge {escape(step.status)}">{escape(word)}</span></h2>'
                     f'<p class="meta">{" · ".join(meta)}</p>')
        if step.reason:
            parts.append(f"<p>Skipped: {escape(step.reason)}</p>")
        if step.error:
            parts.append(f'<p class="error">{escape(step.error)}</p>')
        for name, h in step.hosts.items():
            plan = h.plan or {}
            parts.append(f"<h3>{escape(name)}</h3>")
            if plan.get("summary"):
                parts.append(f"<p>{escape(plan['summary'])}</p>")
            if plan.get("fidelity_reason"):
                parts.append(f"<p class=meta>{escape(plan['fidelity'])}: "
                             f"{escape(plan['fidelity_reason'])}</p>")
            for chart in plan.get("charts") or []:
                parts.append(svg(chart))
            for table in plan.get("tables") or []:
                parts.append(table_html(table))
            for cmd in plan.get("commands") or []:
                parts.append(f"<pre>$ {escape(cmd)}</pre>")
            for call in plan.get("api_calls") or []:
                parts.append(f"<pre>{escape(json.dumps(call, indent=2, default=str))}</pre>")
            if plan.get("diff"):
                parts.append(_diff(plan["diff"]))
            if h.result and h.result.get("summary"):
                parts.append(f"<p>Result: {escape(h.result['summary'])}</p>")
            if h.rollback:
                parts.append(f"<p>Rollback: {escape(h.rollback)}</p>")
        if step.logs:
            parts.append("<ul>" + "".join(f"<li>{escape(x)}</li>" for x in step.logs) + "</ul>")
        parts.append("</section>")
    if report.rollback:
        ok = report.rollback.get("complete")
        parts.append(f'<p class="{"" if ok else "error"}">Rollback '
                     f'{"complete" if ok else "INCOMPLETE"}: {escape(str(report.rollback.get("reason")))}</p>')
    parts.append("</body></html>\n")
    return "\n".join(parts)
