"""A real Dovecot for the IMAP tests: private config, loopback ports, throwaway Maildirs.

Started as root from its own config file (``dovecot -c FILE -F``), following
ARCHITECTURE.md's notes: ``imap-login`` runs as ``dovenull``, the mail user is the
unprivileged ``dovecot`` account owning the Maildirs, every directory above the
passwd-file is traversable, and the daemon's standard streams go to a file, not
a pipe. Users are added to the passwd-file while it runs (Dovecot re-reads it
when it changes), so each test gets a mailbox of its own.

XOAUTH2 is served too: a second passdb checks bearer tokens against a tiny
local introspection endpoint (``Dovecot.oauth2_tokens`` maps token -> user).
The same little server hands out tokens that expire (``token_command``), as an
authorization server would, for the refresh tests; it records every token it
issued and every check Dovecot made.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

INSTALL_HINT = (
    "dovecot is not installed: the IMAP tests need a real Dovecot "
    "(Debian's dovecot-imapd; .ci/run installs dovecot-imapd)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dovecot exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"dovecot did not listen on {port}:\n{log.read_text(errors='replace')[-3000:]}")


class _Introspection(BaseHTTPRequestHandler):
    tokens: dict[str, str] = {}
    expiry: dict[str, float] = {}  # token -> time.time() after which it is refused
    issued: list[tuple[str, str]] = []  # (user, token) handed out by /token
    checks: list[tuple[str, bool]] = []  # (token, active) as Dovecot asked

    def _issue(self, query: dict[str, list[str]]) -> dict | str:
        user, ttl = query["user"][0], float(query.get("ttl", ["3600"])[0])
        token = "tok-" + uuid.uuid4().hex
        self.tokens[token] = user
        self.expiry[token] = time.time() + ttl
        self.issued.append((user, token))
        if query.get("format", ["json"])[0] == "plain":
            return token
        return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        query = parse_qs(body)
        query.update(parse_qs(urlsplit(self.path).query))
        if urlsplit(self.path).path == "/token":
            issued = self._issue(query)
            data = (json.dumps(issued) if isinstance(issued, dict) else issued).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        token = (query.get("token") or query.get("access_token") or [""])[0]
        auth = self.headers.get("Authorization", "")
        if not token and auth.lower().startswith("bearer "):
            token = auth[7:]
        user = self.tokens.get(token)
        if user and time.time() > self.expiry.get(token, float("inf")):
            user = None
        self.checks.append((token, bool(user)))
        reply = {"active": True, "username": user} if user else {"active": False}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


class Dovecot:
    POOL = 200  # users written before the start

    def __init__(self) -> None:
        if not shutil.which("dovecot") and not os.path.exists("/usr/sbin/dovecot"):
            raise RuntimeError(INSTALL_HINT)
        self.binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not os.path.exists("/usr/lib/dovecot/imap"):
            raise RuntimeError(INSTALL_HINT + " (dovecot-core is there but not the IMAP server)")
        self.mail_user = pwd.getpwnam("dovecot")
        # Not under pytest's tmp_path: that is mode 0700, and the dovecot user must traverse it.
        self.root = Path(tempfile.mkdtemp(prefix="helpline-dovecot-"))
        os.chmod(self.root, 0o755)
        self.imap_port = free_port()
        self.imaps_port = free_port()
        self.passwd = self.root / "passwd"
        self.log = self.root / "dovecot.log"
        self.proc: subprocess.Popen | None = None
        self.users: dict[str, str] = {}
        self._pool: list[tuple[str, str]] = []
        self.oauth2_tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        self._http: ThreadingHTTPServer | None = None

    # ---- set-up ---------------------------------------------------------
    def _cert(self) -> None:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-keyout",
                str(self.root / "key.pem"),
                "-out",
                str(self.root / "cert.pem"),
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.chmod(self.root / "key.pem", 0o600)

    @property
    def cafile(self) -> str:
        return str(self.root / "cert.pem")

    def _config(self) -> str:
        r = self.root
        dh = "/usr/share/dovecot/dh.pem"
        return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
info_log_path = {r}/dovecot.log
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
first_valid_gid = 1
ssl = yes
ssl_cert = <{r}/cert.pem
ssl_key = <{r}/key.pem
{"ssl_dh = <" + dh if os.path.exists(dh) else ""}
disable_plaintext_auth = no
auth_verbose = yes
auth_failure_delay = 0
auth_mechanisms = plain login xoauth2
mail_location = maildir:~/Maildir
mail_fsync = never
imap_idle_notify_interval = 2 mins
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/passwd
  mechanisms = plain login
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2
  args = {r}/oauth2.conf.ext
}}
userdb {{
  driver = static
  args = uid={self.mail_user.pw_uid} gid={self.mail_user.pw_gid} home={r}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service imap {{
  process_limit = 200
}}
service anvil {{
  chroot =
}}
service stats {{
  inet_listener http {{
    port = 0
  }}
}}
"""

    def start(self) -> "Dovecot":
        self._cert()
        _Introspection.tokens = self.oauth2_tokens
        self.oauth2_expiry, self.oauth2_issued, self.oauth2_checks = {}, [], []
        _Introspection.expiry, _Introspection.issued = self.oauth2_expiry, self.oauth2_issued
        _Introspection.checks = self.oauth2_checks
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _Introspection)
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        (self.root / "oauth2.conf.ext").write_text(
            f"introspection_mode = post\n"
            f"introspection_url = http://127.0.0.1:{self._http.server_address[1]}/introspect\n"
            f"username_attribute = username\n"
            f"active_attribute = active\nactive_value = true\n"
        )
        for _ in range(self.POOL):
            self.users["u" + uuid.uuid4().hex[:10]] = "pw-" + uuid.uuid4().hex
        self._pool = list(self.users.items())
        self._write_passwd()
        home = self.root / "home"
        home.mkdir()
        os.chown(home, self.mail_user.pw_uid, self.mail_user.pw_gid)
        conf = self.root / "dovecot.conf"
        conf.write_text(self._config())
        out = open(self.root / "dovecot.out", "ab")  # a file, never a pipe: the daemon keeps its streams
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(conf), "-F"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        out.close()
        _wait_port(self.imap_port, self.proc, self.root / "dovecot.out")
        _wait_port(self.imaps_port, self.proc, self.root / "dovecot.out")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if os.environ.get("HELPLINE_TEST_DOVECOT_LOG"):  # keep the server's log for a post-mortem
            for name in ("dovecot.log", "dovecot.out"):
                if (self.root / name).exists():
                    shutil.copy(self.root / name, os.environ["HELPLINE_TEST_DOVECOT_LOG"] + "." + name)
        if self._http:
            self._http.shutdown()
            self._http.server_close()
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- users ------------------------------------------------------------
    def _write_passwd(self) -> None:
        tmp = self.passwd.with_suffix(".tmp")
        tmp.write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in self.users.items()))
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.passwd)

    def add_user(self, name: str | None = None, password: str | None = None) -> tuple[str, str]:
        """A fresh user with an empty mailbox. Taken from users written before the start:
        Dovecot looks at a changed passwd-file at most once a second, so a user added
        later is only usable a second after (this then waits that second)."""
        with self._lock:
            if name is None and password is None and self._pool:
                return self._pool.pop()
            name = name or "u" + uuid.uuid4().hex[:10]
            password = password or "pw-" + uuid.uuid4().hex
            self.users[name] = password
            self._write_passwd()
        time.sleep(1.1)
        return name, password

    def add_token(self, user: str) -> str:
        token = "tok-" + uuid.uuid4().hex
        self.oauth2_tokens[token] = user
        return token

    def token_command(self, user: str, ttl: float, fmt: str = "json") -> str:
        """An ``oauth2_cmd`` that gets a new token for ``user`` valid ``ttl`` seconds, printed as JSON
        (``access_token``, ``expires_in``) or plain."""
        assert self._http is not None
        url = f"http://127.0.0.1:{self._http.server_address[1]}/token?user={user}&ttl={ttl}&format={fmt}"
        return f"{sys.executable} {Path(__file__).with_name('get_token.py')} {url}"

    def issued_to(self, user: str) -> list[str]:
        return [t for u, t in self.oauth2_issued if u == user]

    def checked(self, tokens: list[str]) -> list[tuple[str, bool]]:
        """Dovecot's checks of these tokens, in order: (token, accepted)."""
        return [(t, ok) for t, ok in self.oauth2_checks if t in tokens]

    def revoke(self, token: str) -> None:
        self.oauth2_expiry[token] = 0.0
