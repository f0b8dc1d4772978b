"""A real clamd (ClamAV's daemon, Debian's clamav-daemon) for the attachment scanning tests.

Its signatures are offline here, so the database directory holds one local
body signature that detects the EICAR test string anywhere in a file (an
``.ndb``: ``name:target:offset:hex``); archives are scanned as clamd scans them
by default, so EICAR inside a zip is found too. ``StreamMaxLength`` is small,
so a file over it can be tested. A missing clamd fails the test: the scanning
promise is that it ran against the real thing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Eicar-Signature"
STREAM_MAX = 1 << 20  # 1 MiB


def _clamd_binary() -> str:
    found = shutil.which("clamd") or ("/usr/sbin/clamd" if Path("/usr/sbin/clamd").exists() else "")
    assert found, "clamd is not installed: apt-get install -y clamav-daemon (.ci/run installs it)"
    return found


class ClamdServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket_path = str(root / "clamd.sock")
        with socket.socket() as probe:  # a free loopback port for its TCP listener too (host:port)
            probe.bind(("127.0.0.1", 0))
            self.tcp_port = probe.getsockname()[1]
        self.tcp_address = f"127.0.0.1:{self.tcp_port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> "ClamdServer":
        db = self.root / "db"
        db.mkdir(parents=True, exist_ok=True)
        (db / "helpline-test.ndb").write_text(f"{SIGNATURE}:0:*:{b'EICAR-STANDARD-ANTIVIRUS-TEST-FILE'.hex()}\n")
        conf = self.root / "clamd.conf"
        conf.write_text(
            f"LocalSocket {self.socket_path}\nForeground yes\nDatabaseDirectory {db}\n"
            f"TemporaryDirectory {self.root}\nStreamMaxLength {STREAM_MAX}\n"
            f"LogFile {self.root / 'clamd.log'}\nScanArchive yes\n"
            f"TCPSocket {self.tcp_port}\nTCPAddr 127.0.0.1\n"
        )
        self.proc = subprocess.Popen(
            [_clamd_binary(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"clamd exited: {self.proc.stderr.read().decode(errors='replace')[-2000:]}")
            if self.ping():
                return self
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"clamd did not answer PING within {timeout} s")

    def ping(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(2)
                s.connect(self.socket_path)
                s.sendall(b"zPING\0")
                return s.recv(64).startswith(b"PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class HangingClamd:
    """A socket that accepts connections and reads, but never answers: a clamd that hangs."""

    def __init__(self, root: Path) -> None:
        import threading

        self.socket_path = str(root / "hang.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.socket_path)
        self.sock.listen(16)
        self.conns: list[socket.socket] = []
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)  # kept open, never read to the end, never answered

    def stop(self) -> None:
        self.stopped = True
        self.sock.close()
        for c in self.conns:
            c.close()
