"""Root pytest configuration: loads the test-environment fixtures as plugins.

Each plugin module lives in tests/lib/podiam_testenv and owns one concern:
  fixtures_cluster  - kube-apiserver + etcd + kube-controller-manager (session scope)
  fixtures_aws      - moto server and the counting/fault-injecting STS proxy (session scope)
  fixtures_netns    - a "node" network namespace and "pod" namespaces (function scope)
"""

pytest_plugins = [
    "podiam_testenv.fixtures_cluster",
    "podiam_testenv.fixtures_aws",
    "podiam_testenv.fixtures_netns",
]
