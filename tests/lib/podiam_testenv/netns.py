"""Network namespaces for tests: one "node" and any number of "pods" joined to it by veth pairs.

Safety model (see docs/test-environment.md):
- Nothing is created in the host (root) namespace: no links, addresses, routes or iptables rules.
  veth pairs are created inside the node namespace with their peer put straight into the pod's.
- The node namespace has only `lo` and the pods' veths, so it has no way out at all. Pods have a
  /30 to the node and routes for exactly 169.254.169.254/32, 169.254.170.23/32 and the node's
  address; no default route, so anything else fails at once with ENETUNREACH.
- The test process reaches into a namespace without routing: a socket belongs to the namespace it
  was created in, so `socket_in(ns)` creates one from a short-lived thread that setns()es into it.
  `HttpServer` and `Relay` use that to serve inside the node (stub IMDS, fault proxy) and to bridge
  a node address to a loopback service of the test process (moto).
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from . import paths

NETNS_DIR = Path("/run/netns")
NAME_PREFIX = "pdm-"
TEST_NET = ipaddress.IPv4Network("10.241.0.0/16")
NODE_IP = "10.241.0.1"  # on the node's lo: the address pods reach the node (and its servers) at
IMDS_IP = "169.254.169.254"
POD_IDENTITY_IP = "169.254.170.23"  # EKS Pod Identity Agent
NODE_VETH_PREFIX = "pv"  # node side of pod i's veth is pv<i>; iptables matches "pv+"
# IPv6, only for pods made with add_pod(ipv6=True): unique-local test addresses, never routed.
TEST_NET6 = ipaddress.IPv6Network("fd0a:241::/48")
NODE_IP6 = "fd0a:241::1"  # on the node's lo once a pod has IPv6
IMDS_IP6 = "fd00:ec2::254"  # the IPv6 metadata endpoint

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class HostSafetyError(AssertionError):
    pass


def assert_host_forwarding_off() -> None:
    """The host must not forward: then no namespace traffic could ever be routed anywhere."""
    value = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
    if value != "0":
        raise HostSafetyError(
            f"host net.ipv4.ip_forward is {value}; the namespace tests require it to be 0 "
            "and will not change it themselves")


# ---------------------------------------------------------------------------------------------
# primitives

def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 30)
    proc = subprocess.run(cmd, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def ip(*args: str, netns: str | None = None, batch: str | None = None) -> str:
    cmd = [paths.tool("ip")] + (["-n", netns] if netns else []) + list(args)
    if batch is not None:
        cmd += ["-batch", "-"]
    return _run(cmd, input=batch).stdout


def _setns(fd: int) -> None:
    if hasattr(os, "setns"):  # Python >= 3.12
        os.setns(fd, _CLONE_NEWNET)
    elif _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def call_in_netns(netns: str | None, fn, *args):
    """Run fn(*args) in a fresh thread switched into `netns` (None: just call it).

    setns() moves only the calling thread, and the thread ends afterwards, so the test process's
    other threads never change namespace.
    """
    if netns is None:
        return fn(*args)
    box: dict = {}

    def worker():
        try:
            with open(NETNS_DIR / netns) as target, open("/proc/thread-self/ns/net") as home:
                _setns(target.fileno())
                try:
                    box["value"] = fn(*args)
                finally:
                    _setns(home.fileno())
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = e

    t = threading.Thread(target=worker, name=f"setns-{netns}")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def socket_in(netns: str | None, family=socket.AF_INET, type=socket.SOCK_STREAM) -> socket.socket:
    """A socket that lives in `netns` (binds, connects and routes there), usable from any thread."""
    return call_in_netns(netns, socket.socket, family, type)


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def listen_socket(host: str, port: int = 0, netns: str | None = None) -> socket.socket:
    s = socket_in(netns, _family(host))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(128)
    return s


def no_delay(s: socket.socket) -> socket.socket:
    """TCP_NODELAY: small writes go out at once. Without it a peer that writes a response (or a
    relay that forwards one) in two pieces waits for the delayed ACK of the first, ~40 ms per
    request on a reused keep-alive connection."""
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def connect(host: str, port: int, netns: str | None = None, timeout: float = 5.0) -> socket.socket:
    s = socket_in(netns, _family(host))
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    return no_delay(s)


def wait_for_port(host: str, port: int, netns: str | None = None, timeout: float = 30.0,
                  alive=lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            connect(host, port, netns, timeout=1.0).close()
            return
        except OSError:
            if not alive():
                raise RuntimeError(f"process died before listening on {host}:{port}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port} (netns {netns}) "
                                   f"after {timeout} s") from None
            time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# servers living in a namespace, run by the test process

class HttpHandler(BaseHTTPRequestHandler):
    """Base of the harness's HTTP handlers: HTTP/1.1 keep-alive, and each response leaves in one
    write. BaseHTTPRequestHandler writes the header block and the body separately to an
    unbuffered socket file; with a buffered one, both are sent together when
    handle_one_request() flushes after the handler returns (responses above the buffer size go
    out in pieces, which is harmless once TCP_NODELAY is set, as HttpServer does)."""

    protocol_version = "HTTP/1.1"
    wbufsize = 64 * 1024


class _ThreadingServer(ThreadingHTTPServer):
    daemon_threads = True
    owner = None  # the object a handler serves, reachable as self.server.owner

    def get_request(self):
        conn, addr = super().get_request()
        return no_delay(conn), addr


class HttpServer:
    """A ThreadingHTTPServer on a socket in `netns`; handler_class reads self.server.owner."""

    def __init__(self, handler_class, host="127.0.0.1", port=0, netns=None, owner=None):
        self.netns = netns
        self._srv = _ThreadingServer((host, port), handler_class, bind_and_activate=False)
        self._srv.socket.close()
        self._srv.socket = listen_socket(host, port, netns)
        self._srv.server_address = self._srv.socket.getsockname()
        self._srv.owner = owner
        self.host, self.port = self._srv.server_address[:2]
        self._thread = threading.Thread(target=self._srv.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"http-{self.host}:{self.port}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        if self._thread is not None:
            self._srv.shutdown()
            self._srv.server_close()
            self._thread = None


class Relay:
    """TCP relay: listens on host:port in `netns`, connects each client to target in target_netns.

    Used to give pods and the node a node-local address for a service of the test process on the
    host's loopback (moto, the fault proxy) and vice versa. It only ever connects to the one
    target it was given.
    """

    def __init__(self, target: tuple[str, int], host: str, port: int = 0, netns: str | None = None,
                 target_netns: str | None = None):
        self.target, self.target_netns = target, target_netns
        self._listener = listen_socket(host, port, netns)
        self._listener.settimeout(0.2)
        self.host, self.port = self._listener.getsockname()[:2]
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._accept_loop, name=f"relay-{self.port}", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            try:
                no_delay(client)
                upstream = connect(*self.target, netns=self.target_netns)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.update((client, upstream))
            threading.Thread(target=self._serve, args=(client, upstream), daemon=True).start()

    def _serve(self, client: socket.socket, upstream: socket.socket):
        for s in (client, upstream):
            s.settimeout(None)
        back = threading.Thread(target=self._pump, args=(upstream, client), daemon=True)
        back.start()
        self._pump(client, upstream)
        back.join()
        self._forget(client, upstream)

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:  # a reset on one side resets the other
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _forget(self, *socks):
        with self._lock:
            for s in socks:
                self._conns.discard(s)
        for s in socks:
            s.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._forget(*conns)


# ---------------------------------------------------------------------------------------------
# node and pods

class CommandError(AssertionError):
    def __init__(self, where: str, proc: subprocess.CompletedProcess):
        self.proc = proc
        super().__init__(
            f"command in {where} failed with exit code {proc.returncode}: {proc.args}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}")


def _netns_exec(netns: str, cmd, env=None, timeout=60, check=True, input=None, cwd=None):
    proc = subprocess.run([paths.tool("ip"), "netns", "exec", netns, *map(str, cmd)], env=env,
                          timeout=timeout, input=input, cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise CommandError(netns, proc)
    return proc


def netns_pids(netns: str) -> list[int]:
    out = subprocess.run([paths.tool("ip"), "netns", "pids", netns], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def delete_netns(netns: str) -> None:
    """Kill every process left in the namespace, then delete it (its veths go with it)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = netns_pids(netns)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 3
        while pids and netns_pids(netns) and time.monotonic() < deadline:
            time.sleep(0.05)
    if (NETNS_DIR / netns).exists():
        ip("netns", "del", netns)


def new_run_id() -> str:
    """Unique per run and per node: the owning pid (used by cleanup.py) and random bits."""
    return f"{os.getpid()}-{secrets.token_hex(3)}"


class Pod:
    """A pod's network namespace: eth0 with a /30 to the node, no default route.

    With ipv6=True also a /64 (fd0a:241:1:<i>::2, node side ::1) and routes for exactly
    fd00:ec2::254/128 and NODE_IP6/128; `ip6`/`gateway6` are None otherwise.
    """

    def __init__(self, node: Node, index: int, name: str, ipv6: bool = False):
        self.node, self.index, self.name = node, index, name
        subnet = ipaddress.IPv4Network((int(TEST_NET.network_address) + 256 + 4 * index, 30))
        self.gateway = str(subnet.network_address + 1)  # node side (pv<i>)
        self.ip = str(subnet.network_address + 2)
        self.ip6 = self.gateway6 = None
        if ipv6:
            subnet6 = ipaddress.IPv6Network(
                (int(TEST_NET6.network_address) + ((0x10000 + index) << 64), 64))
            self.gateway6 = str(subnet6.network_address + 1)
            self.ip6 = str(subnet6.network_address + 2)
        self.node_ifname = f"{NODE_VETH_PREFIX}{index}"
        self.home = tempfile.mkdtemp(prefix=f"{name}-home-")

    def _create(self) -> None:
        ip("netns", "add", self.name)
        ip(netns=self.node.name, batch=(
            f"link add {self.node_ifname} type veth peer name eth0 netns {self.name}\n"
            f"addr add {self.gateway}/30 dev {self.node_ifname}\n"
            f"link set {self.node_ifname} up\n"))
        ip(netns=self.name, batch=(
            "link set lo up\n"
            f"addr add {self.ip}/30 dev eth0\n"
            "link set eth0 up\n"
            f"route add {IMDS_IP}/32 via {self.gateway} dev eth0\n"
            f"route add {POD_IDENTITY_IP}/32 via {self.gateway} dev eth0\n"
            f"route add {NODE_IP}/32 via {self.gateway} dev eth0\n"))
        if self.ip6:  # nodad: usable at once, no duplicate address detection wait
            ip(netns=self.node.name, batch=f"addr add {self.gateway6}/64 dev {self.node_ifname} nodad\n")
            ip(netns=self.name, batch=(
                f"addr add {self.ip6}/64 dev eth0 nodad\n"
                f"route add {IMDS_IP6}/128 via {self.gateway6} dev eth0\n"
                f"route add {NODE_IP6}/128 via {self.gateway6} dev eth0\n"))

    # -- running workloads ----------------------------------------------------------------------
    def env(self, extra: dict | None = None) -> dict:
        """The environment of an unmodified workload: region, STS endpoint, a clean HOME.

        No AWS_* credentials, profiles, config files or proxies: the SDKs' default chains fall
        through to IMDS (or whatever `extra` sets, e.g. AWS_CONTAINER_CREDENTIALS_FULL_URI).
        A value of None in `extra` removes that variable.
        """
        env = {
            "PATH": f"{paths.VENV_BIN}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "HOME": self.home,
            "LANG": "C.UTF-8",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        if self.node.sts_endpoint:
            env["AWS_ENDPOINT_URL_STS"] = self.node.sts_endpoint
        for k, v in (extra or {}).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        return env

    def run(self, cmd, env: dict | None = None, timeout=60, check=True, input=None, cwd=None):
        """Run cmd in the pod with env() (+ env); CommandError with its output if check fails."""
        return _netns_exec(self.name, cmd, self.env(env), timeout, check, input, cwd or self.home)

    def python(self, code: str, **kw):
        """The venv's python (boto3, botocore, requests) running `code`."""
        return self.run([paths.PYTHON, "-c", code], **kw)

    def aws_cli(self, args, **kw):
        return self.run([paths.AWS_CLI, *args], **kw)

    def node_js(self, script: str, args=(), **kw):
        """node with tests/js/node_modules: a file (absolute or relative to tests/js) or ESM code."""
        path = Path(script) if Path(script).is_absolute() else paths.JS_DIR / script
        if script.endswith((".mjs", ".js", ".cjs")) and path.exists():
            cmd = [paths.tool("node"), path, *args]
        else:
            cmd = [paths.tool("node"), "--input-type=module", "-e", script, *args]
        kw.setdefault("cwd", paths.JS_DIR)
        return self.run(cmd, **kw)

    def connect(self, host: str, port: int, timeout: float = 5.0) -> socket.socket:
        """A TCP connection made from inside the pod (no subprocess)."""
        return connect(host, port, self.name, timeout)

    def __repr__(self):
        return f"Pod({self.name}, ip={self.ip}, ip6={self.ip6})"


class Node:
    """The "node" namespace: lo with NODE_IP, the pods' veths, DNAT rules, servers for the pods."""

    ip = NODE_IP

    def __init__(self, run_id: str | None = None):
        self.run_id = run_id or new_run_id()
        self.name = f"{NAME_PREFIX}{self.run_id}-node"
        self.pods: list[Pod] = []
        self.sts_endpoint: str | None = None  # AWS_ENDPOINT_URL_STS given to pods
        self._closers: list = []  # servers, relays, processes: closed in reverse at destroy()
        self._procs: list[subprocess.Popen] = []
        self._ipv6 = False  # enable_ipv6() done
        ip("netns", "add", self.name)
        try:
            ip(netns=self.name, batch=f"link set lo up\naddr add {NODE_IP}/32 dev lo\n")
        except BaseException:
            delete_netns(self.name)
            raise

    # -- pods ---------------------------------------------------------------------------------
    def add_pod(self, ipv6: bool = False) -> Pod:
        index = len(self.pods)
        if ipv6:
            self.enable_ipv6()
        pod = Pod(self, index, f"{NAME_PREFIX}{self.run_id}-pod{index}", ipv6)
        self.pods.append(pod)  # before creating, so destroy() removes a half-made one
        pod._create()
        return pod

    def enable_ipv6(self) -> None:
        """NODE_IP6 on the node's lo, and IPv6 forwarding on in the node namespace (as on a node of
        an IPv6 cluster; the node still has no way out). Idempotent."""
        if self._ipv6:
            return
        ip(netns=self.name, batch=f"addr add {NODE_IP6}/128 dev lo nodad\n")
        self.run([paths.tool("sysctl"), "-q", "-w", "net.ipv6.conf.all.forwarding=1"])
        self._ipv6 = True

    def add_address(self, address: str) -> None:
        """An extra address on the node's lo (e.g. a stub "node IMDS" on fd00:ec2::254)."""
        prefix = 128 if ":" in address else 32
        ip(netns=self.name, batch=f"addr add {address}/{prefix} dev lo{' nodad' if prefix == 128 else ''}\n")

    # -- commands and processes in the node ---------------------------------------------------
    def run(self, cmd, env=None, timeout=60, check=True, input=None, cwd=None):
        return _netns_exec(self.name, cmd, env, timeout, check, input, cwd)

    def popen(self, cmd, **kw) -> subprocess.Popen:
        """Start a process in the node (e.g. the podiam binary); killed at teardown."""
        kw.setdefault("start_new_session", True)
        proc = subprocess.Popen([paths.tool("ip"), "netns", "exec", self.name, *map(str, cmd)], **kw)
        self._procs.append(proc)
        return proc

    # -- DNAT ---------------------------------------------------------------------------------
    def dnat(self, dest_ip: str, to_port: int, dest_port: int = 80, to_ip: str = NODE_IP) -> None:
        """Pods' TCP to dest_ip:dest_port goes to to_ip:to_port in the node (rule in the node only)."""
        self.run([paths.tool("iptables"), "-w", "-t", "nat", "-A", "PREROUTING",
                  "-i", f"{NODE_VETH_PREFIX}+", "-p", "tcp", "-d", dest_ip, "--dport", str(dest_port),
                  "-j", "DNAT", "--to-destination", f"{to_ip}:{to_port}"])

    def redirect_imds(self, to_port: int) -> None:
        self.dnat(IMDS_IP, to_port)

    def redirect_pod_identity(self, to_port: int) -> None:
        self.dnat(POD_IDENTITY_IP, to_port)

    def nat_rules(self) -> str:
        return self.run([paths.tool("iptables"), "-w", "-t", "nat", "-S"], check=False).stdout

    def nat6_rules(self) -> str:
        return self.run([paths.tool("ip6tables"), "-w", "-t", "nat", "-S"], check=False).stdout

    # -- servers ------------------------------------------------------------------------------
    def serve_http(self, handler_class, port: int = 0, owner=None, host: str = NODE_IP) -> HttpServer:
        """An HTTP server of the test process listening on host:port (NODE_IP) inside the node."""
        return self._closing(HttpServer(handler_class, host, port, self.name, owner))

    def expose(self, url: str, port: int = 0) -> str:
        """A node URL (reachable by pods and node processes) relaying to a host-loopback URL."""
        parts = urlsplit(url)
        relay = self._closing(Relay((parts.hostname, parts.port), NODE_IP, port, self.name))
        return relay.url

    def start_moto(self, port: int = 5000):
        """A separate moto server process inside the node, on NODE_IP:port (own state)."""
        from .moto import MotoServer
        return self._closing(MotoServer(NODE_IP, port, netns=self.name).start())

    def _closing(self, thing):
        self._closers.append(thing)
        return thing

    # -- diagnostics and teardown -------------------------------------------------------------
    def diagnostics(self) -> str:
        parts = [f"node {self.name}: pods {[(p.name, p.ip, p.ip6) for p in self.pods]}",
                 "nat rules:\n" + self.nat_rules()]
        if self._ipv6:
            parts.append("ip6tables nat rules:\n" + self.nat6_rules())
        for thing in self._closers:
            tail = getattr(thing, "log_tail", None)
            if tail:
                parts.append(f"{thing!r} log tail:\n{tail()}")
        return "\n".join(parts)

    def destroy(self) -> None:
        errors = []
        for proc in self._procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    proc.kill()
        for thing in reversed(self._closers):
            try:
                (getattr(thing, "stop", None) or thing.close)()
            except Exception as e:  # noqa: BLE001 - keep tearing down
                errors.append(e)
        for ns in [p.name for p in self.pods] + [self.name]:
            try:
                delete_netns(ns)
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        for pod in self.pods:
            shutil.rmtree(pod.home, ignore_errors=True)
        if errors:
            raise RuntimeError(f"teardown of {self.name} had errors: {errors}")

    def __repr__(self):
        return f"Node({self.name})"


def list_test_namespaces() -> list[str]:
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(NAME_PREFIX))
    except FileNotFoundError:
        return []
