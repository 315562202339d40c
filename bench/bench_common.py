"""What the pod-facing benchmarks share (bench/agent_bench.py, bench/container_credentials_bench.py):
wrk run from inside a pod with one of bench/agent/*.lua, whose done() prints one BENCHJSON line
(bench/agent/common.lua), and nginx serving the same bytes in a node namespace as the ceiling.

    wrk = Wrk(pod.name, LUA, url, threads=2, connections=64, settings={"BENCH_TOKEN": token})
    wrk.warm_up(2.0)
    result = wrk.run(10.0)   # the BENCHJSON fields plus rps and errors

    root = tmp / "nginx"
    proc = start_nginx(node, root, body, workers="auto", address=ADDR, port=80,
                       locations=f"location = /v1/credentials {{ alias {root}/www/creds.json; }}")
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

from podiam_testenv.netns import Node, connect


class Wrk:
    """wrk in `pod_name`'s network namespace; `settings` are the script's BENCH_* variables."""

    def __init__(self, pod_name: str, lua: Path, url: str, *, threads: int, connections: int,
                 settings: dict[str, str], delay_ms: int | None = None):
        self.url = url
        self.env = dict(os.environ, **settings)
        if delay_ms is not None:  # each connection waits this long between requests
            self.env["BENCH_DELAY_MS"] = str(delay_ms)
        self.base = ["ip", "netns", "exec", pod_name, "wrk", f"-t{threads}", f"-c{connections}",
                     "-s", str(lua), "--timeout", "5s"]

    def warm_up(self, seconds: float) -> None:
        if seconds > 0:
            subprocess.run(self.base + [f"-d{seconds:g}s", self.url], env=self.env,
                           capture_output=True, timeout=120)

    def run(self, seconds: float) -> dict:
        """The parsed BENCHJSON line plus rps and errors (the sum of wrk's error counts)."""
        proc = subprocess.run(self.base + [f"-d{seconds:g}s", self.url], env=self.env,
                              capture_output=True, text=True, timeout=seconds + 120)
        m = re.search(r"^BENCHJSON (\{.*\})$", proc.stdout, re.M)
        if proc.returncode != 0 or not m:
            raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        r = json.loads(m.group(1))
        r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
        r["errors"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
        return r


def start_nginx(node: Node, root: Path, body: bytes, *, workers: str, address: str, port: int,
                locations: str) -> subprocess.Popen:
    """nginx in `node`'s namespace listening on address:port, `body` written to
    ROOT/www/creds.json for `locations` (the server block's location lines) to serve; returns
    once it accepts connections. The caller's directories above `root` must be world-readable
    (nginx workers run as nobody)."""
    (root / "www").mkdir(parents=True, exist_ok=True)
    (root / "www" / "creds.json").write_bytes(body)
    conf = root / "nginx.conf"
    conf.write_text(f"""
worker_processes {workers};
daemon off;
master_process on;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  default_type application/json;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  open_file_cache max=16 inactive=60s;
  open_file_cache_valid 60s;
  server {{
    listen {address}:{port};
    {locations}
  }}
}}
""")
    subprocess.run(["chmod", "-R", "a+rX", str(root)], check=True)
    proc = node.popen(["nginx", "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            connect(address, port, node.name, 1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not start: {(root / 'error.log').read_text()}")
