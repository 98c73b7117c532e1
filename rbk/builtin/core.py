"""Builtin reporters, transports, notifiers and the shipped runbook directory."""

from __future__ import annotations

from pathlib import Path

from rbk.hookspecs import hookimpl


@hookimpl
def rbk_reporters(register):
    from rbk.report import html, text

    register("text", text.render_text)
    register("markdown", text.render_markdown)
    register("json", text.render_json)
    register("html", html.render_html)


@hookimpl
def rbk_transports(register):
    from rbk.hosts.local import LocalTransport
    from rbk.hosts.ssh import SSHTransport

    register("local", LocalTransport)
    register("ssh", SSHTransport)


@hookimpl
def rbk_notifiers(register):
    from rbk.builtin import notify

    register("webhook", notify.send_webhook)
    register("slack", notify.send_slack)


@hookimpl
def rbk_runbook_paths():
    package = Path(__file__).resolve().parent.parent
    shipped = package / "runbooks"  # inside an installed wheel
    checkout = package.parent / "runbooks"  # a source checkout / editable install
    return [p for p in (shipped, checkout) if p.is_dir()][:1]
