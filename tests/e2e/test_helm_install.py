"""`helm install` of deploy/helm/podiam into the test kube-apiserver, then `podiam agent` run on
the test node with exactly the installed DaemonSet's args and env (as the kubelet would start
it: fieldRefs resolved, $(VAR) expanded) and the installed ServiceAccount's token and RBAC, and
unmodified boto3 in a pod getting its role through it.

The only things the test adds are what a cluster gives a pod and the test environment replaces:
--kubeconfig (in-cluster config there) and --sts-endpoint (moto here).
"""

from __future__ import annotations

import json

import pytest

from podiam_testenv.agent import BASE_ROLE_ARN, Agent
from podiam_testenv.helm import CHART, Helm, expand, kubelet_env
from podiam_testenv.imds_client import WHOAMI_PY, assumed, namespace, run_pod
from podiam_testenv.netns import NODE_IP, NODE_VETH_PREFIX

pytestmark = pytest.mark.e2e

RELEASE = "podiam-it"


def test_pod_gets_its_role_through_the_helm_installed_agent(cluster, kube, node, pods, sts, tmp_path):
    helm = Helm(home=tmp_path / "helm")
    release_ns = kube.namespace
    r = helm.run("install", RELEASE, str(CHART), "--namespace", release_ns,
                 "--set", f"agent.host.interface={NODE_VETH_PREFIX}+",
                 "--set", f"agent.baseRoleArn={BASE_ROLE_ARN}",
                 "--set", "agent.containerCredentials.link=lo",
                 # no node matches: the DaemonSet controller makes no pods; the test runs the agent
                 "--set", "agent.nodeSelector.podiam\\.io/helm-test=none",
                 kubeconfig=cluster.kubeconfig)
    assert "STATUS: deployed" in r.stdout, r.stdout
    assert "rollout status daemonset/podiam-it-agent" in r.stdout  # NOTES.txt
    agent = None
    try:
        ds = kube.rest.get(f"/apis/apps/v1/namespaces/{release_ns}/daemonsets/{RELEASE}-agent")
        spec = ds["spec"]["template"]["spec"]
        container = spec["containers"][0]
        env = kubelet_env(container, {"spec.nodeName": kube.node, "status.hostIP": NODE_IP})
        args = [expand(a, env) for a in container["args"]]
        assert args[0] == "agent" and f"--listen={NODE_IP}:8181" in args, args
        agent = Agent(cluster, kube, node, sts, command=args,
                      service_account=(release_ns, spec["serviceAccountName"]), env=env).start()

        ns = namespace(kube, ["app-helm"])
        (pod,) = pods(1)
        obj = run_pod(kube, pod, ns, role="app-helm")
        arn = json.loads(pod.python(WHOAMI_PY).stdout)
        assert arn == assumed("app-helm", ns, obj)
        assert agent.metric("podiam_imds_requests_total", route="credentials", code="200") >= 1
    finally:
        if agent is not None:
            code = agent.stop()
            assert not agent.secrets_in_log(), agent.secrets_in_log()
            assert code == 0, agent.log_tail()
        helm.run("uninstall", RELEASE, "--namespace", release_ns, kubeconfig=cluster.kubeconfig)
