"""podiam's local demo: two pods, two roles, one node agent, real AWS CLI in each pod.

Starts a real kube-apiserver (+ etcd, kube-controller-manager), moto as STS, a "node" network
namespace running `podiam agent`, and two "pod" network namespaces whose Kubernetes pods carry
different role annotations. Runs `aws sts get-caller-identity` in each pod exactly as a workload
would (no keys, no configuration: the CLI's default chain finds the agent at 169.254.169.254) and
prints the two assumed-role ARNs. Everything is torn down at the end.
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lib"))

from podiam_testenv.agent import Agent  # noqa: E402
from podiam_testenv.cluster import Cluster  # noqa: E402
from podiam_testenv.faultproxy import FaultProxy  # noqa: E402
from podiam_testenv.kube import Kube, unique  # noqa: E402
from podiam_testenv.moto import MotoServer  # noqa: E402
from podiam_testenv.netns import Node, assert_host_forwarding_off  # noqa: E402


def say(text: str) -> None:
    print(f"\033[1m==> {text}\033[0m" if sys.stdout.isatty() else f"==> {text}", flush=True)


def main() -> int:
    assert_host_forwarding_off()
    started = time.monotonic()
    cleanup = []
    try:
        say("starting kube-apiserver, etcd and kube-controller-manager on loopback")
        cluster = Cluster.start()
        cleanup.append(cluster.stop)
        say("starting moto (STS) behind a counting proxy")
        moto = MotoServer("127.0.0.1").start()
        cleanup.append(moto.stop)
        sts = FaultProxy(moto.endpoint)
        cleanup.append(sts.close)

        kube = Kube(cluster.rest)
        node = Node()
        cleanup.append(node.destroy)
        node.sts_endpoint = node.expose(moto.endpoint)
        cleanup.append(lambda: kube.delete_node(kube.node))

        say(f"starting `podiam agent` for node {kube.node} in network namespace {node.name}")
        agent = Agent(cluster, kube, node, sts).start()
        cleanup.append(agent.stop)

        team = kube.create_namespace(unique("demo"), annotations={
            "iam.amazonaws.com/allowed-roles": json.dumps(["frontend", "billing"])})["metadata"]["name"]
        cleanup.append(lambda: kube.delete_namespace(team))
        pods = []
        for role in ("frontend", "billing"):
            netns = node.add_pod()
            pod = kube.run_pod(name=f"{role}-app", namespace=team, pod_ip=netns.ip,
                               annotations={"iam.amazonaws.com/role": role})
            pods.append((role, netns, pod))
            say(f"pod {team}/{pod['metadata']['name']} at {netns.ip} asks for role '{role}'")

        print()
        for role, netns, pod in pods:
            out = netns.aws_cli(["sts", "get-caller-identity", "--output", "json"])
            arn = json.loads(out.stdout)["Arn"]
            print(f"  {team}/{pod['metadata']['name']:<13} aws sts get-caller-identity -> {arn}")
        print()
        say(f"STS AssumeRole calls made by the agent: {sts.counts('AssumeRole')} "
            f"(prefetched when each pod appeared)")
        say(f"done in {time.monotonic() - started:.1f} s; cleaning up")
        return 0
    finally:
        for step in reversed(cleanup):
            try:
                step()
            except Exception as e:  # noqa: BLE001 - clean up as much as possible
                print(f"cleanup: {e}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
