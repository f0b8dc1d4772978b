"""A small cluster of Linux network namespaces on one machine: hosts with their own addresses on one bridge.

Each host is a namespace (``ip netns``) joined to a bridge by a veth pair, so
processes on different hosts talk over real TCP between real addresses and a
host can be cut off (its link set down, or an iptables DROP inside it) without
touching the others. Needs root and iproute2/iptables; everything made is
named with the cluster's prefix and removed by ``teardown`` (also of a
previous run that died before cleaning up).
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field


def sh(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
    return out


@dataclass
class Host:
    name: str
    ns: str
    address: str
    veth: str

    def cmd(self, *argv: str) -> list[str]:
        """argv run inside this host's namespace."""
        return ["ip", "netns", "exec", self.ns, *argv]

    def run(self, *argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return sh(*self.cmd(*argv), check=check, timeout=timeout)


@dataclass
class Cluster:
    prefix: str = "hlc"
    subnet: str = "10.77.0"
    hosts: dict[str, Host] = field(default_factory=dict)
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"{self.prefix}-br"

    @property
    def gateway(self) -> str:
        return f"{self.subnet}.1"

    def up(self, names: list[str]) -> "Cluster":
        self.teardown()
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for i, name in enumerate(names):
            self.add_host(name, f"{self.subnet}.{10 + i}")
        return self

    def add_host(self, name: str, address: str) -> Host:
        ns, veth = f"{self.prefix}-{name}", f"{self.prefix}-{name}"[:15]
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", veth, "master", self.bridge, "up")
        sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        host = self.hosts[name] = Host(name, ns, address, veth)
        return host

    def spawn(
        self,
        host: Host,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        log: str | None = None,
        user: str | None = None,
    ) -> subprocess.Popen:
        """A process on ``host``, in a session of its own so that killing the host kills all of it."""
        inner = (["runuser", "-u", user, "--"] if user else []) + argv
        out = open(log, "ab") if log else subprocess.DEVNULL
        proc = subprocess.Popen(
            host.cmd(*inner), env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
        proc.host = host.name  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def kill_host(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Every process started on the host, at once (a power cut, as far as the others can tell)."""
        for proc in self.procs:
            if getattr(proc, "host", None) == name and proc.poll() is None:
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    pass
        for pid in self._pids_in(self.hosts[name].ns):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def link(self, name: str, up: bool) -> None:
        sh("ip", "link", "set", self.hosts[name].veth, "up" if up else "down")

    def partition(self, name: str, peer: str, on: bool) -> None:
        """Drop every packet between ``name`` and ``peer`` (no RST, no FIN: the connections just hang)."""
        action = "-A" if on else "-D"
        addr = self.hosts[peer].address
        for chain, flag in (("OUTPUT", "-d"), ("INPUT", "-s")):
            self.hosts[name].run("iptables", action, chain, flag, addr, "-j", "DROP")

    @staticmethod
    def _pids_in(ns: str) -> list[int]:
        out = sh("ip", "netns", "pids", ns, check=False)
        return [int(p) for p in out.stdout.split()]

    def teardown(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.procs.clear()
        listed = sh("ip", "netns", "list", check=False).stdout.split("\n")
        for line in listed:
            ns = line.split(" ")[0]
            if ns.startswith(self.prefix + "-"):
                for pid in self._pids_in(ns):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                sh("ip", "netns", "del", ns, check=False)
        # A veth outlives its namespace while a process still holds it: remove ours by name.
        for line in sh("ip", "-o", "link", "show", check=False).stdout.splitlines():
            name = line.split(":")[1].strip().split("@")[0]
            if name.startswith(self.prefix + "-"):
                sh("ip", "link", "del", name, check=False)
        self.hosts.clear()
