"""Where nginx is and how to test, reload and confirm a reload — over any transport."""

from __future__ import annotations

import fnmatch
import posixpath
import re
import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rbk.errors import StepFailed


class NginxSettings(BaseModel):
    """Inputs every nginx action accepts; defaults come from the host's ``nginx:`` vars."""

    model_config = ConfigDict(extra="forbid")

    binary: str = Field("nginx", description="nginx executable.")
    prefix: str | None = Field(None, description="-p PREFIX (default: the build's).")
    conf: str = Field("/etc/nginx/nginx.conf", description="-c main config file.")
    managed_dir: str = Field("/etc/nginx/conf.d/rbk", description=(
        "Directory rbk owns; http/, server/, location/ and upstream/ files live under it."))
    reload: list[str] | None = Field(None, description=(
        "Reload command (argv); default: nginx -s reload with the same -p/-c. E.g. "
        "[systemctl, reload, nginx]."))
    reload_timeout: float = Field(10, description="Seconds to wait for new workers.")
    error_log: str | None = Field(None, description="Error log, to quote [emerg] lines.")
    verify_url: str | None = Field(None, description="URL that must answer after a reload.")


def settings(ctx: Any, given: dict[str, Any] | None) -> NginxSettings:
    host_vars = (ctx.host.vars or {}).get("nginx") or {}
    data = {**host_vars, **{k: v for k, v in (given or {}).items() if v not in (None, "")}}
    for key in ("conf", "managed_dir", "error_log"):
        value = data.get(key)
        # A relative -c is nginx's to resolve against -p; other paths follow ctx.path.
        if value and not posixpath.isabs(value) and not (key == "conf" and data.get("prefix")):
            data[key] = str(ctx.path(value))
    return NginxSettings.model_validate(data)


def base_cmd(s: NginxSettings) -> list[str]:
    cmd = [s.binary]
    if s.prefix:
        cmd += ["-p", s.prefix]
    return cmd + ["-c", s.conf]


def main_conf(s: NginxSettings) -> str:
    return s.conf if posixpath.isabs(s.conf) else posixpath.join(
        s.prefix or "/usr/share/nginx", s.conf)


def conf_dir(s: NginxSettings) -> str:
    return posixpath.dirname(main_conf(s))


# ---------------------------------------------------------------------------
# reading the user's config: where are the managed files included?
# ---------------------------------------------------------------------------

_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'|(#[^\n]*)|([{};])|([^\s{};"\'#]+)')


def tokens(text: str):
    for m in _TOKEN.finditer(text):
        if m.group(3) is not None:
            continue
        if m.group(4) is not None:
            yield m.group(4), False
        else:
            yield next(g for g in (m.group(1), m.group(2), m.group(5)) if g is not None), True


@dataclass
class Include:
    pattern: str
    context: tuple[str, ...]  # e.g. ("http", "server", "location /")
    file: str


def find_includes(transport: Any, s: NginxSettings, limit: int = 200) -> tuple[list[Include], dict]:
    """Every include directive reachable from the main config, with its block context;
    also the main-context ``pid`` and ``error_log`` values."""
    found: list[Include] = []
    main: dict[str, str] = {}
    base = conf_dir(s)
    seen: set[str] = set()

    def resolve(path: str) -> str:
        # nginx resolves relative includes against the main config's directory.
        return path if posixpath.isabs(path) else posixpath.join(base, path)

    def walk(path: str, context: tuple[str, ...]) -> None:
        if len(seen) > limit or path in seen:
            return
        seen.add(path)
        data = transport.read_file(path)
        if data is None:
            return
        stack = list(context)
        words: list[str] = []
        for tok, is_word in tokens(data.decode("utf-8", "replace")):
            if is_word:
                words.append(tok)
            elif tok == "{":
                stack.append(" ".join(words) if words else "?")
                words = []
            elif tok == "}":
                if len(stack) > len(context):
                    stack.pop()
                words = []
            else:  # ;
                if words:
                    name, args = words[0], words[1:]
                    if name == "include" and args:
                        pattern = resolve(args[0])
                        found.append(Include(pattern, tuple(stack), path))
                        for f in sorted(transport.glob(pattern), key=lambda f: f.path):
                            walk(f.path, tuple(stack))
                    elif not stack and name in ("pid", "error_log") and args:
                        main.setdefault(name, args[0])
                words = []

    walk(main_conf(s), ())
    return found, main


def managed_path(s: NginxSettings, kind: str, name: str) -> str:
    return posixpath.join(s.managed_dir, kind, f"{name}.conf")


CONTEXT_OF = {"http": "http", "server": "server", "location": "location"}


def require_included(transport: Any, s: NginxSettings, needs: dict[str, str]) -> None:
    """Fail (with the exact line to add) unless each managed file is included in its context.

    ``needs`` maps a managed file path to the block it must be included in:
    ``http``, ``server``, ``location`` or ``upstream NAME``.
    """
    includes, _ = find_includes(transport, s)
    for path, context in needs.items():
        ok = False
        for inc in includes:
            if not inc.context or not fnmatch.fnmatchcase(path, inc.pattern):
                continue
            inner = inc.context[-1]
            if context.startswith("upstream "):
                ok = inner.split() == context.split()
            else:
                ok = inner.split()[0] == context
            if ok:
                break
        if not ok:
            pattern = posixpath.join(posixpath.dirname(path), "*.conf")
            block = f"the `{context}` block" if context.startswith("upstream") else (
                f"every {context} block it should apply to" if context != "http"
                else "the http block")
            raise StepFailed(f"nginx config {s.conf} does not include rbk's managed files: add "
                             f"'include {pattern};' inside {block}, then re-run")


# ---------------------------------------------------------------------------
# test, reload, confirm
# ---------------------------------------------------------------------------


def emerg(text: str) -> str:
    lines = [line for line in text.splitlines() if "[emerg]" in line or "[alert]" in line]
    return lines[-1].strip() if lines else (text.strip().splitlines() or [""])[-1].strip()


def test_config(ctx: Any, s: NginxSettings) -> None:
    r = ctx.host.run(base_cmd(s) + ["-t", "-q"], timeout=60)
    if r.exited != 0:
        raise StepFailed(f"nginx -t rejected the new config on {ctx.host.name}: "
                         f"{emerg(r.stderr + r.stdout)}")


def master_pid(ctx: Any, s: NginxSettings) -> int | None:
    _, main = find_includes(ctx.host.transport, s)
    pid_file = main.get("pid", "/run/nginx.pid")
    if not posixpath.isabs(pid_file):
        pid_file = posixpath.join(s.prefix or "/usr/share/nginx", pid_file)
    data = ctx.host.transport.read_file(pid_file)
    try:
        return int(data.decode().strip()) if data else None
    except ValueError:
        return None


def workers(ctx: Any, master: int) -> set[int]:
    # /proc, not pgrep: procps is not installed everywhere.
    r = ctx.host.run(["sh", "-c", f"grep -ls '^PPid:[[:space:]]*{int(master)}$' "
                                  "/proc/[0-9]*/status || true"], timeout=10)
    return {int(p.split("/")[2]) for p in r.stdout.split() if p.count("/") >= 3}


def reload(ctx: Any, s: NginxSettings) -> None:
    """Reload and confirm the new generation started; ``-s reload`` exits 0 even when
    the master then fails to apply the config, so its exit code proves nothing."""
    master = master_pid(ctx, s)
    if master is None:
        raise StepFailed(f"nginx is not running on {ctx.host.name} (no pid file); "
                         f"start it, or check 'conf'/'prefix'")
    before = workers(ctx, master)
    log_size = _size(ctx, s)
    cmd = s.reload or base_cmd(s) + ["-s", "reload"]
    r = ctx.host.run(cmd, timeout=60)
    if r.exited != 0:
        raise StepFailed(f"reload failed on {ctx.host.name}: {emerg(r.stderr + r.stdout)}")
    deadline = time.monotonic() + s.reload_timeout
    while time.monotonic() < deadline:
        now = workers(ctx, master)
        if now - before:
            # New generation is up. Old workers may still accept a few connections
            # while they shut down, so give them a moment to leave (long-lived
            # connections can keep them; that is not a failure).
            while now & before and time.monotonic() < deadline:
                time.sleep(0.05)
                now = workers(ctx, master)
            return
        failure = _new_emerg(ctx, s, log_size)
        if failure:
            raise StepFailed(f"nginx on {ctx.host.name} refused the reload: {failure}")
        time.sleep(0.1)
    failure = _new_emerg(ctx, s, log_size)
    raise StepFailed(f"nginx on {ctx.host.name} did not start new workers within "
                     f"{s.reload_timeout:g}s after reload" + (f": {failure}" if failure else
                                                             " (old config still serving)"))


def _size(ctx: Any, s: NginxSettings) -> int:
    if not s.error_log:
        return 0
    data = ctx.host.transport.read_file(s.error_log)
    return len(data) if data else 0


def _new_emerg(ctx: Any, s: NginxSettings, offset: int) -> str | None:
    if not s.error_log:
        return None
    data = ctx.host.transport.read_file(s.error_log) or b""
    text = data[offset:].decode("utf-8", "replace")
    return emerg(text) if "[emerg]" in text else None


def probe(ctx: Any, s: NginxSettings) -> None:
    if not s.verify_url:
        return
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(s.verify_url, timeout=5) as resp:  # noqa: S310
            status = resp.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        raise StepFailed(f"verify_url {s.verify_url} unreachable after reload: {exc}") from None
    if status >= 500:
        raise StepFailed(f"verify_url {s.verify_url} answered {status} after reload")

