"""The ``ssh`` transport (paramiko): strict host keys, one connection per host per run.

Host keys are checked *before* authentication, against the inventory's
known_hosts file(s) and ``~/.ssh/known_hosts``, loaded once per run: an unknown
host fails with the command to verify and add it, a changed key fails loudly,
and in both cases no credential or command is sent.
"""

from __future__ import annotations

import base64
import hashlib
import os
import posixpath
import random
import shlex
import socket
import stat
import threading
import time
from fnmatch import fnmatchcase
from typing import Any, BinaryIO

from rbk.errors import StepFailed
from rbk.hosts.base import MAX_OUTPUT, CommandResult, FileInfo, display

BANNER_RETRIES = 6
_known_hosts_cache: dict[tuple[Any, ...], Any] = {}
_cache_lock = threading.Lock()
# Bastions shared by the hosts behind them: one SSH connection each, many channels.
_jumps: dict[tuple[Any, ...], list[Any]] = {}  # key -> [SSHTransport, users]
_jumps_lock = threading.Lock()


def fingerprint(key: Any) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_files(spec: dict[str, Any]) -> list[str]:
    files = []
    for f in (spec.get("known_hosts"), "~/.ssh/known_hosts"):
        if f:
            path = os.path.expanduser(str(f))
            if path not in files:
                files.append(path)
    return files


def load_known_hosts(files: list[str]) -> Any:
    """All keys from ``files``, parsed once per process and set of files."""
    import paramiko

    # Keyed by mtime and size too, so an edited known_hosts is re-read.
    key = tuple((f, *(lambda st: (st.st_mtime_ns, st.st_size))(os.stat(f)))
                if os.path.exists(f) else (f, 0, 0) for f in files)
    with _cache_lock:
        if key not in _known_hosts_cache:
            keys = paramiko.HostKeys()
            for f in files:
                if os.path.exists(f):
                    try:
                        keys.load(f)
                    except (OSError, paramiko.SSHException) as exc:
                        raise StepFailed(f"cannot read known_hosts {f}: {exc}") from None
            _known_hosts_cache[key] = keys
        return _known_hosts_cache[key]


def resolve(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Inventory settings completed from ~/.ssh/config (HostName, Port, User,
    IdentityFile, ProxyJump); the inventory wins where both say something."""
    import paramiko

    out = dict(spec)
    path = os.path.expanduser(spec.get("ssh_config", "~/.ssh/config"))
    if os.path.exists(path):
        cfg = paramiko.SSHConfig.from_path(path).lookup(spec.get("address") or name)
        out.setdefault("address", cfg.get("hostname"))
        if "port" not in spec and "port" in cfg:
            out["port"] = int(cfg["port"])
        if "user" not in spec and "user" in cfg:
            out["user"] = cfg["user"]
        if "key" not in spec and cfg.get("identityfile"):
            out["key"] = cfg["identityfile"][0]
        if "proxy_jump" not in spec and cfg.get("proxyjump"):
            out["proxy_jump"] = cfg["proxyjump"]
    out.setdefault("address", name)
    out["port"] = int(out.get("port") or 22)
    out.setdefault("user", os.environ.get("USER") or "root")
    return out


def _acquire_jump(jump: str, spec: dict[str, Any]) -> SSHTransport:
    """The shared connection to a ``user@bastion:port`` for a host with this spec."""
    from rbk.hosts.base import Host

    user, _, hostport = jump.rpartition("@")
    jhost, _, jport = hostport.partition(":")
    settings = {k: v for k, v in spec.items()
                if k in ("key", "key_passphrase", "known_hosts", "connect_timeout", "agent",
                         "ssh_config")}
    settings |= {"address": jhost, "port": int(jport or 22), "user": user or spec["user"]}
    key = tuple(sorted((k, str(v)) for k, v in settings.items()))
    with _jumps_lock:
        entry = _jumps.get(key)
        if entry is None:
            entry = _jumps[key] = [SSHTransport(Host(name=jhost, vars=settings)), 0]
        entry[1] += 1
        return entry[0]


def _release_jump(transport: SSHTransport) -> None:
    with _jumps_lock:
        for key, entry in list(_jumps.items()):
            if entry[0] is transport:
                entry[1] -= 1
                if entry[1] <= 0:
                    del _jumps[key]
                    transport.close()
                return


class SSHTransport:
    """Runs commands and moves files on one host over one reused SSH connection."""

    def __init__(self, host: Any):
        self.name = host.name
        self.spec = resolve(host.name, host.vars)
        self._client: Any = None
        self._sftp: Any = None
        self._jump: SSHTransport | None = None
        self._lock = threading.Lock()

    # -- connection -----------------------------------------------------------

    @property
    def where(self) -> str:
        return f"{self.name} ({self.spec['address']}:{self.spec['port']})"

    def connection(self) -> Any:
        with self._lock:
            if self._client is None or not self._client.is_active():
                self._client = self._connect()
            return self._client

    def _socket(self) -> Any:
        s = self.spec
        timeout = float(s.get("connect_timeout", 10))
        jump = s.get("proxy_jump")
        if jump:
            if self._jump is None:
                self._jump = _acquire_jump(jump, s)
            return self._jump.connection().open_channel(
                "direct-tcpip", (s["address"], s["port"]), ("127.0.0.1", 0), timeout=timeout)
        try:
            return socket.create_connection((s["address"], s["port"]), timeout=timeout)
        except OSError as exc:
            raise StepFailed(f"cannot connect to {self.where}: {exc.strerror or exc}") from None

    def _connect(self) -> Any:
        import paramiko

        s = self.spec
        delay = 0.2
        for attempt in range(1, BANNER_RETRIES + 1):
            sock = self._socket()
            transport = paramiko.Transport(sock)
            transport.banner_timeout = float(s.get("banner_timeout", 15))
            try:
                transport.start_client(timeout=float(s.get("connect_timeout", 10)))
                break
            except (paramiko.SSHException, EOFError, OSError) as exc:
                transport.close()
                # sshd's MaxStartups drops connections under bursty connects.
                if "banner" in str(exc).lower() and attempt < BANNER_RETRIES:
                    # Jittered: connections dropped together must not all return together.
                    time.sleep(delay * (0.5 + random.random()))
                    delay *= 2
                    continue
                raise StepFailed(f"SSH handshake with {self.where} failed: {exc}") from None
        self._check_host_key(transport)
        self._authenticate(transport)
        transport.set_keepalive(int(s.get("keepalive", 30)))
        return transport

    def _check_host_key(self, transport: Any) -> None:
        s = self.spec
        files = known_hosts_files(s)
        keys = load_known_hosts(files)
        lookup = s["address"] if s["port"] == 22 else f"[{s['address']}]:{s['port']}"
        server_key = transport.get_remote_server_key()
        known = keys.lookup(lookup)
        target_file = files[0]
        if known is None:
            transport.close()
            raise StepFailed(
                f"host {self.where} is not in known_hosts ({', '.join(files)}); refusing to "
                f"connect. Its key is {server_key.get_name()} {fingerprint(server_key)}: compare "
                f"it with the host's own 'ssh-keygen -lf' output, then add it with: "
                f"ssh-keyscan -p {s['port']} {shlex.quote(s['address'])} >> "
                f"{shlex.quote(target_file)}")
        expected = known.get(server_key.get_name())
        if expected is None or expected != server_key:
            transport.close()
            was = ", ".join(f"{t} {fingerprint(k)}" for t, k in known.items())
            raise StepFailed(
                f"HOST KEY CHANGED for {self.where}: known_hosts has {was}, the server offers "
                f"{server_key.get_name()} {fingerprint(server_key)}. Nothing was sent. This may "
                f"be a man-in-the-middle; if the change is legitimate, remove the old entry "
                f"with: ssh-keygen -R {shlex.quote(lookup)} -f {shlex.quote(target_file)}")

    def _authenticate(self, transport: Any) -> None:
        import paramiko

        s = self.spec
        user = s["user"]
        errors = []
        if s.get("key"):
            path = os.path.expanduser(str(s["key"]))
            try:
                passphrase = s.get("key_passphrase")
                pkey = paramiko.PKey.from_path(
                    path, password=None if passphrase is None else str(passphrase).encode())
                transport.auth_publickey(user, pkey)
                return
            except FileNotFoundError:
                errors.append(f"key file {path} not found")
            except paramiko.PasswordRequiredException:
                errors.append(f"key {path} is encrypted: give key_passphrase "
                              f"({{env: NAME}} or {{input: NAME}})")
            except (TypeError, ValueError) as exc:  # OpenSSH-format keys, via cryptography
                if passphrase is None and "password" in str(exc).lower():
                    errors.append(f"key {path} is encrypted: give key_passphrase "
                                  f"({{env: NAME}} or {{input: NAME}})")
                else:
                    errors.append(f"key {path} does not open (wrong key_passphrase?): {exc}")
            except paramiko.SSHException as exc:
                errors.append(f"key {path}: {exc}")
        if s.get("agent", True):
            for agent_key in paramiko.Agent().get_keys():
                try:
                    transport.auth_publickey(user, agent_key)
                    return
                except paramiko.SSHException:
                    continue
            errors.append("no agent key accepted")
        transport.close()
        raise StepFailed(f"SSH authentication as {user} to {self.where} failed: "
                         f"{'; '.join(errors) or 'no key configured'}")

    # -- commands -------------------------------------------------------------

    def run(self, command: list[str] | str, *, timeout: float | None = None,
            stdin: bytes | None = None, env: dict[str, str] | None = None,
            cwd: str | None = None, max_output: int = MAX_OUTPUT) -> CommandResult:
        """One command string for the remote shell: argv lists are shlex-joined, so each
        element stays one word whatever it contains."""
        shown = display(command)
        line = shown
        if env:
            line = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()
                            if k.isidentifier()) + " " + line
        if cwd:
            line = f"cd {shlex.quote(cwd)} && {line}"
        if timeout:
            # Closing the channel does not stop a command that has no terminal: the host
            # itself must kill it (and its children) at the deadline. Hosts without
            # coreutils' timeout still run it; rbk then only stops waiting.
            t = f"{max(float(timeout), 0.001):g}"
            quoted = shlex.quote(line)
            line = (f"if command -v timeout >/dev/null 2>&1; then exec timeout -k 5 {t} sh -c "
                    f"{quoted}; else exec sh -c {quoted}; fi")
        become = bool(self.spec.get("become"))
        if become:
            # sudo prompts with a marker of ours on stderr when it wants the password;
            # the command announces itself on stdout once sudo let it run. Only then does
            # stdin go through: the password can never end up in the command's input.
            nonce = os.urandom(8).hex()
            prompt, started = f"[rbk-sudo-{nonce}]", f"rbk-become-{nonce}"
            user = str(self.spec.get("become_user", "root"))
            line = (f"sudo -S -p {shlex.quote(prompt)} -u {shlex.quote(user)} -- sh -c "
                    f"{shlex.quote(f'echo {started} && {line}')}")
        start = time.monotonic()
        chan = self.connection().open_session(timeout=10)
        chan.exec_command(line)
        out, err = bytearray(), bytearray()
        if become:
            refused = self._become(chan, prompt, started, out, err,
                                   start + (timeout or 60))
            if refused:
                chan.close()
                return CommandResult(shown, self.name, 1, "", refused,
                                     time.monotonic() - start, False)
        if stdin is not None:
            chan.sendall(stdin)
        chan.shutdown_write()  # EOF: a command reading stdin must not wait for rbk forever
        truncated = False
        deadline = start + timeout if timeout else None
        timed_out = False
        # Blocking reads with a short timeout (no busy polling: with 100 hosts, polling
        # threads starve paramiko's own transport threads of the GIL).
        chan.settimeout(0.5)
        for recv, buf in ((chan.recv, out), (chan.recv_stderr, err)):
            while True:
                try:
                    data = recv(65536)
                except TimeoutError:
                    if deadline and time.monotonic() > deadline:
                        timed_out = True
                        break
                    continue
                if not data:
                    break
                room = max_output - len(buf)
                if room > 0:
                    buf += data[:room]
                if len(data) > room:
                    truncated = True
            if timed_out:
                break
        if timed_out:
            chan.close()  # the host's timeout (above) kills the command itself
            code = -9
            err += f"\n[rbk] killed after timeout of {timeout:g}s".encode()
        else:
            code = chan.recv_exit_status()
            chan.close()
        return CommandResult(shown, self.name, code, out.decode("utf-8", "replace"),
                             err.decode("utf-8", "replace"), time.monotonic() - start, truncated)

    def _become(self, chan: Any, prompt: str, started: str, out: bytearray, err: bytearray,
                deadline: float) -> str | None:
        """Answer sudo's prompt (once) until the command starts; None when it did, else
        why not. What the command already wrote stays in ``out``/``err``."""
        user = self.spec.get("become_user", "root")
        password = self.spec.get("become_password")
        answered = False
        mark = (started + "\n").encode()
        ask = prompt.encode()
        while True:
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            while chan.recv_ready():
                out += chan.recv(65536)
            if mark in out:
                del out[: out.index(mark) + len(mark)]
                err[:] = err.replace(ask, b"")
                return None
            if ask in err:
                err[:] = err.replace(ask, b"", 1)
                if password is None:
                    return (f"sudo on {self.name} asks for a password: set become_password "
                            f"({{env: NAME}} or {{input: NAME}} of a secret input)")
                if answered:
                    return f"sudo on {self.name} refused become_password for user {user}"
                chan.sendall((str(password) + "\n").encode())
                answered = True
                continue
            if chan.exit_status_ready() and not chan.recv_ready() \
                    and not chan.recv_stderr_ready():
                said = err.decode("utf-8", "replace").strip().splitlines()
                return (f"sudo on {self.name} did not run the command as {user}: "
                        f"{said[-1] if said else 'exit ' + str(chan.recv_exit_status())}")
            if time.monotonic() > deadline:
                return f"sudo on {self.name} did not answer within the command's timeout"
            time.sleep(0.005)

    # -- files (SFTP) ----------------------------------------------------------

    def sftp(self) -> Any:
        if self._sftp is None:
            import paramiko

            connection = self.connection()
            with self._lock:
                if self._sftp is None:
                    self._sftp = paramiko.SFTPClient.from_transport(connection)
        return self._sftp

    def read_file(self, path: str) -> bytes | None:
        try:
            with self.sftp().open(path, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            if getattr(exc, "errno", None) == 2:
                return None
            raise StepFailed(f"cannot read {path} on {self.name}: {exc}") from None

    def open_read(self, path: str) -> BinaryIO:
        fh = self.sftp().open(path, "rb")
        fh.prefetch()
        return fh

    def write_file(self, path: str, data: bytes, mode: int | None = None) -> None:
        sftp = self.sftp()
        tmp = posixpath.join(posixpath.dirname(path) or ".",
                             f".rbk-{os.getpid()}-{threading.get_ident()}.tmp")
        try:
            with sftp.open(tmp, "wb") as fh:
                fh.write(data)
            if mode is not None:
                sftp.chmod(tmp, mode)
            sftp.posix_rename(tmp, path)
        except OSError as exc:
            try:
                sftp.remove(tmp)
            except OSError:
                pass
            raise StepFailed(f"cannot write {path} on {self.name}: {exc}") from None

    def remove(self, path: str) -> None:
        try:
            self.sftp().remove(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            if getattr(exc, "errno", None) != 2:
                raise StepFailed(f"cannot remove {path} on {self.name}: {exc}") from None

    def stat_mode(self, path: str) -> int | None:
        try:
            return stat.S_IMODE(self.sftp().stat(path).st_mode)
        except FileNotFoundError:
            return None
        except OSError:
            return None

    def glob(self, pattern: str) -> list[FileInfo]:
        """Glob in the last path component only, matched locally (no remote shell)."""
        directory, base = posixpath.split(pattern)
        sftp = self.sftp()
        try:
            entries = sftp.listdir_attr(directory or ".")
        except OSError:
            return []
        return sorted((FileInfo(posixpath.join(directory, e.filename), e.st_size or 0,
                                float(e.st_mtime or 0))
                       for e in entries if fnmatchcase(e.filename, base)
                       and stat.S_ISREG(e.st_mode or 0)), key=lambda f: f.path)

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
            self._sftp = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._jump is not None:  # the bastion goes with its last host
            _release_jump(self._jump)
            self._jump = None
