"""click commands. Library imports stay inside the commands so start-up stays fast."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from rbk import __version__

FORMATS = ["text", "markdown", "json", "html"]

EXIT_CODES_HELP = """\b
Exit codes: 0 ok · 1 a step failed (changes rolled back) · 2 usage or invalid
runbook · 3 rollback failed, a human is needed · 4 plugin error · 130 interrupted."""


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # definition order, grouped by use


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EXIT_CODES_HELP)
@click.version_option(__version__, "--version", prog_name="rbk")
@click.option("-p", "plugin_opts", multiple=True, metavar="no:NAME",
              help="Disable a plugin by name (repeatable); also RBK_DISABLE_PLUGINS.")
def cli(plugin_opts: tuple[str, ...]) -> None:
    """rbk — incident runbooks with honest dry runs and automatic rollback.

    \b
      rbk run traffic-spike --dry-run      plan + report, nothing changed
      rbk run traffic-spike -e max_conn=20 apply, roll back on failure
      rbk validate runbooks/               check runbooks before an incident
    """
    names = []
    for opt in plugin_opts:
        if not opt.startswith("no:"):
            raise click.BadParameter("use -p no:NAME to disable a plugin", param_hint="-p")
        names.append(opt[3:])
    if names:
        from rbk import plugins

        plugins.disable(names)


def _registry():
    from rbk.plugins import get_registry

    registry = get_registry()
    for failure in registry.failures:
        click.echo(f"rbk: warning: {failure}", err=True)
    return registry


def _approver(yes: bool):
    if yes:
        return lambda question: True
    if sys.stdin.isatty():
        return lambda question: click.confirm(question, default=False, err=True)
    return None


def _emit_report(outcome, fmt: str, output: str | None) -> None:
    from rbk.report.text import render_text

    report = outcome.report()
    render = _registry().reporters[fmt]
    if output:
        text = render(report)
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
        click.echo(render_text(report, color=sys.stdout.isatty()) if fmt != "text" else text,
                   nl=False)
        click.echo(f"report written to {output}")
    elif fmt == "text":
        click.echo(render_text(report, color=sys.stdout.isatty()), nl=False)
    else:
        click.echo(render(report), nl=False)


def _inventory(path: str | None, cfg: dict[str, Any]):
    from rbk.hosts.inventory import load_inventory

    path = path or cfg.get("inventory")
    return load_inventory(path) if path else None


def _run(loaded, *, dry_run: bool, extra: dict[str, Any], inventory: str | None,
         limit: str | None, yes: bool, fmt: str, output: str | None,
         max_changes: int | None) -> None:
    from rbk.config import load_config
    from rbk.engine import RunOptions, run_runbook

    cfg = load_config()
    budget = cfg.get("budget") or {}
    options = RunOptions(
        dry_run=dry_run, inputs=extra, inventory=_inventory(inventory, cfg), limit=limit,
        approver=_approver(yes),
        max_changed_steps=max_changes if max_changes is not None
        else budget.get("max_changed_steps"),
        max_hosts=budget.get("max_hosts"), forks=int(cfg.get("forks", 20)))
    outcome = run_runbook(loaded, _registry(), options)
    _emit_report(outcome, fmt, output)
    if outcome.exit_code:
        last = outcome.events[-1]
        click.echo(f"rbk: {last.get('message') or outcome.status} (run {outcome.run_id})", err=True)
    sys.exit(int(outcome.exit_code))


_run_options = [
    click.option("--dry-run", "-n", is_flag=True, help="Plan only: call check, change nothing."),
    click.option("-e", "--extra", "extra", multiple=True, metavar="KEY=VALUE|@FILE",
                 help="Set an input (repeatable); @FILE reads a YAML mapping."),
    click.option("-i", "--inventory", type=click.Path(dir_okay=False), help="Inventory file."),
    click.option("--limit", metavar="HOSTS", help="Restrict steps to these hosts/groups."),
    click.option("--yes", "-y", is_flag=True, help="Approve every approval gate."),
    click.option("--format", "fmt", type=click.Choice(FORMATS), default="text",
                 show_default=True, help="Report format."),
    click.option("-o", "--output", type=click.Path(dir_okay=False),
                 help="Write the report to FILE."),
    click.option("--max-changes", type=click.IntRange(min=0),
                 help="Change budget: at most N changing steps in this run."),
]


def run_options(f):
    for option in reversed(_run_options):
        f = option(f)
    return f


@cli.command()
@click.argument("runbook", metavar="NAME|PATH")
@run_options
def run(runbook: str, dry_run: bool, extra: tuple[str, ...], inventory: str | None,
        limit: str | None, yes: bool, fmt: str, output: str | None,
        max_changes: int | None) -> None:
    """Run a runbook (with --dry-run: plan it and change nothing)."""
    from rbk.inputs import parse_extra_vars
    from rbk.search import find_runbook
    from rbk.validate import load_and_validate

    loaded = load_and_validate(find_runbook(runbook), _registry())
    _run(loaded, dry_run=dry_run, extra=parse_extra_vars(extra), inventory=inventory,
         limit=limit, yes=yes, fmt=fmt, output=output, max_changes=max_changes)


@cli.command(name="do")
@click.argument("action")
@click.argument("args", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--on", "on", metavar="HOSTS", help="Host pattern (default: this machine).")
@run_options
def do(action: str, args: tuple[str, ...], on: str | None, dry_run: bool,
       extra: tuple[str, ...], inventory: str | None, limit: str | None, yes: bool, fmt: str,
       output: str | None, max_changes: int | None) -> None:
    """Run one action ad hoc, e.g. rbk do shell cmd='uptime' --on web.

    VALUEs are JSON when they parse as JSON (numbers, lists, objects), else text.
    """
    from rbk.adhoc import adhoc_runbook

    loaded = adhoc_runbook(action, args, on, _registry())
    _run(loaded, dry_run=dry_run, extra={}, inventory=inventory, limit=limit, yes=yes,
         fmt=fmt, output=output, max_changes=max_changes)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def validate(paths: tuple[str, ...]) -> None:
    """Check runbooks: YAML, schema, actions, inputs and templates."""
    from pathlib import Path

    from rbk.errors import RunbookError
    from rbk.validate import load_and_validate

    files: list[Path] = []
    for p in map(Path, paths):
        files += sorted(x for x in p.rglob("*") if x.suffix in (".yaml", ".yml")) if p.is_dir() else [p]
    registry = _registry()
    bad = 0
    for f in files:
        try:
            load_and_validate(f, registry)
        except RunbookError as exc:
            bad += 1
            for problem in exc.problems:
                click.echo(str(problem), err=True)
    click.echo(f"{len(files) - bad} of {len(files)} runbook(s) valid", err=bool(bad))
    sys.exit(2 if bad else 0)


@cli.command(name="list")
def list_() -> None:
    """List the runbooks on the search path."""
    from rbk.errors import RunbookError
    from rbk.loader import load_runbook
    from rbk.search import list_runbooks

    rows = []
    for found in list_runbooks():
        try:
            title = load_runbook(found.path).runbook.title
        except RunbookError:
            title = "(invalid: run rbk validate)"
        rows.append((found.name, title, str(found.path)))
    width = max((len(r[0]) for r in rows), default=0)
    for name, title, path in rows:
        click.echo(f"{name:<{width}}  {title}  [{path}]")


@cli.command()
@click.argument("runbook", metavar="NAME|PATH")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text")
def show(runbook: str, fmt: str) -> None:
    """Show what a runbook does: inputs, steps, triggers."""
    from rbk.describe import describe_runbook
    from rbk.loader import load_runbook
    from rbk.search import find_runbook

    click.echo(describe_runbook(load_runbook(find_runbook(runbook)), _registry(), fmt), nl=False)


@cli.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def actions(name: str | None, as_json: bool) -> None:
    """List actions, or show one action's inputs and outputs."""
    from rbk.describe import describe_action, list_actions

    registry = _registry()
    if name:
        click.echo(describe_action(registry, registry.action(name), as_json), nl=False)
    else:
        click.echo(list_actions(registry, as_json), nl=False)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--check", is_flag=True, help="Exit 4 if any plugin failed to load.")
def plugins(as_json: bool, check: bool) -> None:
    """List loaded plugins, their distributions and hooks."""
    import json

    registry = _registry()
    infos = registry.plugins()
    if as_json:
        click.echo(json.dumps({"plugins": [vars(i) for i in infos],
                               "failures": [vars(f) for f in registry.failures]}, indent=2))
    else:
        for i in infos:
            origin = "builtin" if i.builtin else f"{i.distribution or '-'} {i.version or ''}".strip()
            click.echo(f"{i.name:<28} {origin:<24} {', '.join(i.hooks)}")
        for f in registry.failures:
            click.echo(f"{f.name:<28} FAILED TO LOAD: {f.error}")
    if check and registry.failures:
        sys.exit(4)


@cli.command()
@click.option("--limit", "-n", default=20, show_default=True, help="How many runs.")
def runs(limit: int) -> None:
    """List past runs, newest first."""
    import time

    from rbk.runs.state import state_dir
    from rbk.runs.store import RunStore

    rows = RunStore(state_dir()).list(limit)
    if not rows:
        click.echo("no runs yet")
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started))
        code = "-" if r.exit_code is None else r.exit_code
        click.echo(f"{r.id}  {when}  {r.mode:<5}  {r.status:<15} {code!s:>3}  {r.runbook}  "
                   f"{r.summary}")


@cli.command()
@click.argument("run_id")
@click.option("--rollback", "how", flag_value="rollback",
              help="Undo what the run changed, newest first.")
@click.option("--continue", "how", flag_value="continue",
              help="Run the runbook again with the same inputs; done steps plan no change.")
@click.option("-e", "--extra", "extra", multiple=True, metavar="KEY=VALUE|@FILE",
              help="Set an input (secret inputs were not recorded: give them again).")
@click.option("-i", "--inventory", type=click.Path(dir_okay=False), help="Inventory file.")
@click.option("--yes", "-y", is_flag=True, help="Approve every approval gate (--continue).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text",
              show_default=True, help="Report format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report to FILE.")
def resume(run_id: str, how: str | None, extra: tuple[str, ...], inventory: str | None,
           yes: bool, fmt: str, output: str | None) -> None:
    """Roll back or continue a run whose process died (crash, kill -9).

    Without --rollback/--continue: show what the run left changed."""
    from rbk.config import load_config
    from rbk.engine import RunOptions
    from rbk.inputs import parse_extra_vars
    from rbk.resume import inspect_run
    from rbk.resume import resume as resume_run

    if how is None:
        run = inspect_run(run_id)
        click.echo(f"run {run.run_id} ({run.status}) of {run.runbook_path} left "
                   f"{len(run.changes)} change(s) in effect:")
        for c in run.changes:
            click.echo(f"  {c.step} on {c.host}: {c.result.get('summary', '')}")
        click.echo(f"undo them: rbk resume {run.run_id} --rollback; finish the runbook: "
                   f"rbk resume {run.run_id} --continue")
        sys.exit(2)  # a choice is needed
    cfg = load_config()
    options = RunOptions(dry_run=False, inputs=parse_extra_vars(extra),
                         inventory=_inventory(inventory, cfg), approver=_approver(yes),
                         forks=int(cfg.get("forks", 20)))
    outcome = resume_run(run_id, _registry(), options, how)
    _emit_report(outcome, fmt, output)
    if outcome.exit_code:
        last = outcome.events[-1]
        click.echo(f"rbk: {last.get('message') or outcome.status} (run {outcome.run_id})",
                   err=True)
    sys.exit(int(outcome.exit_code))


@cli.command()
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE.")
def report(run_id: str, fmt: str, output: str | None) -> None:
    """Re-render the report of a past run (id or unique prefix)."""
    from rbk.engine import load_events
    from rbk.report.model import build_report
    from rbk.report.text import render_text

    _, events = load_events(run_id)
    rep = build_report(events)
    text = (render_text(rep, color=sys.stdout.isatty() and not output) if fmt == "text"
            else _registry().reporters[fmt](rep))
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
        click.echo(f"report written to {output}")
    else:
        click.echo(text, nl=False)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9095, show_default=True, type=int)
@click.option("--allow-unauthenticated", is_flag=True,
              help="Run without a token (binds to loopback only).")
def serve(host: str, port: int, allow_unauthenticated: bool) -> None:
    """Receive alert webhooks and start runbooks (dry runs unless allowed)."""
    from rbk.config import load_config
    from rbk.errors import UsageError
    from rbk.runs.state import state_dir
    from rbk.serve.service import AlertService, ServeConfig

    config = ServeConfig.from_config(load_config(), allow_unauthenticated)
    config.log = True
    config.check()
    if not config.tokens and host not in ("127.0.0.1", "localhost", "::1"):
        raise UsageError("--allow-unauthenticated binds to loopback only; configure a token "
                         "to listen on " + host)
    service = AlertService(config, state_dir(), _registry())
    from rbk.serve.app import serve as run_server

    click.echo(f"rbk serve: listening on http://{host}:{port} "
               f"({len(service.runbooks)} runbooks)", err=True)
    run_server(service, host, port)


@cli.group()
def triggers() -> None:
    """Alert routing tools."""


@triggers.command(name="test")
@click.argument("payload", type=click.Path(exists=True, dir_okay=False))
@click.option("--source", default="alertmanager", show_default=True)
def triggers_test(payload: str, source: str) -> None:
    """Show which runbooks a webhook payload would start, and with which inputs."""
    import json
    from pathlib import Path

    from rbk.errors import UsageError
    from rbk.search import list_runbooks
    from rbk.serve.alerts import PayloadError
    from rbk.serve.routing import route
    from rbk.validate import load_and_validate

    registry = _registry()
    parser = registry.alert_sources.get(source)
    if parser is None:
        raise UsageError(f"no alert source '{source}' ({', '.join(registry.alert_sources)})")
    try:
        alerts = parser(json.loads(Path(payload).read_text()), {})
    except (ValueError, PayloadError) as exc:
        raise UsageError(f"{payload}: {exc}") from None
    runbooks = [load_and_validate(f.path, registry) for f in list_runbooks()]
    for alert in alerts:
        hits = route(alert, runbooks)
        if alert.status == "resolved":  # a resolution starts only on_resolved runbooks
            names = ", ".join(
                f"{m.runbook.name} resolved" + (
                    f", starts {m.on_resolved[0]} {json.dumps(m.on_resolved[1])}"
                    if m.on_resolved else "") for m in hits) or "nothing"
        else:
            names = ", ".join(f"{m.runbook.name} {json.dumps(m.inputs)}" for m in hits) or \
                "nothing"
        click.echo(f"{alert.status} {alert.labels.get('alertname', '?')} "
                   f"[{alert.fingerprint}] -> {names}")


@cli.command()
@click.argument("run_id")
@click.option("-i", "--inventory", type=click.Path(dir_okay=False))
def approve(run_id: str, inventory: str | None) -> None:
    """Apply a planned run's runbook with the same inputs, if its plan still holds."""
    from rbk.approve import approve_run
    from rbk.config import load_config

    result = approve_run(run_id, _registry(), None, inventory or load_config().get("inventory"))
    click.echo(result["message"])
    sys.exit(0 if result["applied"] and result["exit_code"] == 0 else 1)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the runbook format (for editors)."""
    import json

    from rbk.model import runbook_json_schema

    click.echo(json.dumps(runbook_json_schema(), indent=2))


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print a shell completion script: eval "$(rbk completion bash)"."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    click.echo(cls(cli, {}, "rbk", "_RBK_COMPLETE").source())


def run_cli(args: list[str]) -> int:
    """Run the CLI; RbkErrors become one line (or one line per problem) and an exit code."""
    from rbk.errors import ExitCode, RbkError, RunbookError

    debug = bool(os.environ.get("RBK_DEBUG"))
    try:
        cli.main(args=args, prog_name="rbk", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("rbk: aborted", err=True)
        return int(ExitCode.INTERRUPTED)
    except RunbookError as exc:
        if debug:
            raise
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        return int(exc.exit_code)
    except RbkError as exc:
        if debug:
            raise
        click.echo(f"rbk: error: {exc}", err=True)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("rbk: interrupted", err=True)
        return int(ExitCode.INTERRUPTED)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:
        if debug:
            raise
        click.echo(f"rbk: internal error: {type(exc).__name__}: {exc} "
                   f"(re-run with RBK_DEBUG=1 for the traceback and report it)", err=True)
        return 1
    return 0
