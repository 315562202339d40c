// Kubernetes objects for tests and benchmarks: a compact PodJson() with just the fields a test
// cares about, and RealisticPodJson() shaped like what an apiserver really returns for a pod of a
// Deployment (managedFields, containers, env, volumes, conditions, containerStatuses: ~4 KB),
// so that decoding and memory figures mean something.
//
// Thread-safety: pure functions.
//
//   auto pod = testing::PodJson({.name = "web-1", .ip = "10.0.0.5"});
//   api.Put(k8s::resources::Pods(), pod);
#pragma once

#include <fmt/format.h>

#include <map>
#include <string>
#include <vector>

#include "podiam/k8s/kube_api.hpp"

namespace podiam::testing {

struct TestPod {
  std::string namespace_name = "default";
  std::string name;
  std::string ip;                     // status.podIP and podIPs[0]; "" = none yet
  std::vector<std::string> more_ips;  // further podIPs (dual-stack)
  std::string node = "node-1";
  std::string service_account = "default";
  std::string phase = "Running";
  bool host_network = false;
  bool deleting = false;
  std::string created = "2026-01-01T00:00:00Z";
  std::string uid;  // "" = let the fake assign one
  std::map<std::string, std::string> annotations;
};

inline k8s::Json PodJson(const TestPod& p) {
  k8s::Json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", p.name}, {"namespace", p.namespace_name}, {"creationTimestamp", p.created}}},
      {"spec",
       {{"nodeName", p.node},
        {"serviceAccountName", p.service_account},
        {"containers", {{{"name", "app"}, {"image", "registry.example/app:1"}}}}}},
      {"status", {{"phase", p.phase}}}};
  if (!p.uid.empty()) {
    pod["metadata"]["uid"] = p.uid;
  }
  if (!p.annotations.empty()) {
    pod["metadata"]["annotations"] = p.annotations;
  }
  if (p.host_network) {
    pod["spec"]["hostNetwork"] = true;
  }
  if (p.deleting) {
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:10:00Z";
    pod["metadata"]["deletionGracePeriodSeconds"] = 30;
  }
  if (!p.ip.empty()) {
    pod["status"]["podIP"] = p.ip;
    k8s::Json ips = k8s::Json::array({{{"ip", p.ip}}});
    for (const auto& more : p.more_ips) {
      ips.push_back({{"ip", more}});
    }
    pod["status"]["podIPs"] = ips;
  }
  return pod;
}

// Pod number `i` of a 10-namespace, many-ServiceAccount cluster, about 4 KB of JSON.
inline k8s::Json RealisticPodJson(int i, int resource_version = 1000) {
  std::string ns = fmt::format("team-{}", i % 10);
  std::string app = fmt::format("service-{}", i % 97);
  std::string name = fmt::format("{}-7d9c8b6f5-{:05x}", app, i);
  std::string ip = fmt::format("10.{}.{}.{}", 100 + (i >> 16 & 0xFF), i >> 8 & 0xFF, i & 0xFF);
  std::string uid = fmt::format("6b1c2f3e-{:04x}-4d5e-8f90-{:012x}", i & 0xFFFF, i);
  k8s::Json env = k8s::Json::array();
  for (int e = 0; e < 8; ++e) {
    env.push_back({{"name", fmt::format("SETTING_{}", e)},
                   {"value", fmt::format("value-for-setting-{}-of-{}", e, app)}});
  }
  env.push_back(
      {{"name", "POD_NAME"},
       {"valueFrom", {{"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", "metadata.name"}}}}}});
  k8s::Json container = {
      {"name", "app"},
      {"image",
       fmt::format("123456789012.dkr.ecr.eu-west-1.amazonaws.com/{}:v1.{}.3", app, i % 13)},
      {"imagePullPolicy", "IfNotPresent"},
      {"ports", {{{"containerPort", 8080}, {"name", "http"}, {"protocol", "TCP"}}}},
      {"env", env},
      {"resources",
       {{"limits", {{"cpu", "1"}, {"memory", "512Mi"}}},
        {"requests", {{"cpu", "100m"}, {"memory", "256Mi"}}}}},
      {"readinessProbe",
       {{"httpGet", {{"path", "/healthz"}, {"port", 8080}, {"scheme", "HTTP"}}},
        {"periodSeconds", 10},
        {"timeoutSeconds", 1},
        {"successThreshold", 1},
        {"failureThreshold", 3}}},
      {"volumeMounts",
       {{{"name", "kube-api-access-abcde"},
         {"mountPath", "/var/run/secrets/kubernetes.io/serviceaccount"},
         {"readOnly", true}},
        {{"name", "config"}, {"mountPath", "/etc/app"}}}},
      {"terminationMessagePath", "/dev/termination-log"},
      {"terminationMessagePolicy", "File"}};
  k8s::Json conditions = k8s::Json::array();
  for (const char* type :
       {"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"}) {
    conditions.push_back({{"type", type},
                          {"status", "True"},
                          {"lastProbeTime", nullptr},
                          {"lastTransitionTime", "2026-01-01T00:00:05Z"}});
  }
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name},
        {"generateName", app + "-7d9c8b6f5-"},
        {"namespace", ns},
        {"uid", uid},
        {"resourceVersion", std::to_string(resource_version + i)},
        {"creationTimestamp", "2026-01-01T00:00:00Z"},
        {"labels",
         {{"app.kubernetes.io/name", app},
          {"app.kubernetes.io/part-of", "shop"},
          {"pod-template-hash", "7d9c8b6f5"}}},
        {"annotations",
         {{"iam.amazonaws.com/role", fmt::format("arn:aws:iam::123456789012:role/{}", app)},
          {"kubectl.kubernetes.io/restartedAt", "2026-01-01T00:00:00Z"},
          {"prometheus.io/scrape", "true"}}},
        {"ownerReferences",
         {{{"apiVersion", "apps/v1"},
           {"kind", "ReplicaSet"},
           {"name", app + "-7d9c8b6f5"},
           {"uid", "0f0e0d0c-0b0a-0908-0706-050403020100"},
           {"controller", true},
           {"blockOwnerDeletion", true}}}},
        {"managedFields",
         {{{"manager", "kube-controller-manager"},
           {"operation", "Update"},
           {"apiVersion", "v1"},
           {"time", "2026-01-01T00:00:00Z"},
           {"fieldsType", "FieldsV1"},
           {"fieldsV1",
            {{"f:metadata",
              {{"f:generateName", k8s::Json::object()},
               {"f:labels",
                {{".", k8s::Json::object()}, {"f:app.kubernetes.io/name", k8s::Json::object()}}},
               {"f:ownerReferences", {{".", k8s::Json::object()}}}}},
             {"f:spec",
              {{"f:containers", {{"k:{\"name\":\"app\"}", {{".", k8s::Json::object()}}}}}}}}}},
          {{"manager", "kubelet"},
           {"operation", "Update"},
           {"apiVersion", "v1"},
           {"time", "2026-01-01T00:00:05Z"},
           {"fieldsType", "FieldsV1"},
           {"subresource", "status"},
           {"fieldsV1",
            {{"f:status",
              {{"f:conditions", k8s::Json::object()},
               {"f:containerStatuses", k8s::Json::object()},
               {"f:podIP", k8s::Json::object()},
               {"f:podIPs", k8s::Json::object()}}}}}}}}}},
      {"spec",
       {{"containers", {container}},
        {"volumes",
         {{{"name", "kube-api-access-abcde"},
           {"projected",
            {{"defaultMode", 420},
             {"sources",
              {{{"serviceAccountToken", {{"expirationSeconds", 3607}, {"path", "token"}}}},
               {{"configMap",
                 {{"name", "kube-root-ca.crt"},
                  {"items", {{{"key", "ca.crt"}, {"path", "ca.crt"}}}}}}}}}}}},
          {{"name", "config"}, {"configMap", {{"name", app + "-config"}, {"defaultMode", 420}}}}}},
        {"restartPolicy", "Always"},
        {"terminationGracePeriodSeconds", 30},
        {"dnsPolicy", "ClusterFirst"},
        {"serviceAccountName", app},
        {"serviceAccount", app},
        {"nodeName", "ip-10-0-1-23.eu-west-1.compute.internal"},
        {"securityContext", {{"runAsNonRoot", true}, {"fsGroup", 2000}}},
        {"schedulerName", "default-scheduler"},
        {"tolerations",
         {{{"key", "node.kubernetes.io/not-ready"},
           {"operator", "Exists"},
           {"effect", "NoExecute"},
           {"tolerationSeconds", 300}},
          {{"key", "node.kubernetes.io/unreachable"},
           {"operator", "Exists"},
           {"effect", "NoExecute"},
           {"tolerationSeconds", 300}}}},
        {"priority", 0},
        {"enableServiceLinks", true},
        {"preemptionPolicy", "PreemptLowerPriority"}}},
      {"status",
       {{"phase", "Running"},
        {"conditions", conditions},
        {"hostIP", "10.0.1.23"},
        {"hostIPs", {{{"ip", "10.0.1.23"}}}},
        {"podIP", ip},
        {"podIPs", {{{"ip", ip}}}},
        {"startTime", "2026-01-01T00:00:01Z"},
        {"containerStatuses",
         {{{"name", "app"},
           {"state", {{"running", {{"startedAt", "2026-01-01T00:00:03Z"}}}}},
           {"lastState", k8s::Json::object()},
           {"ready", true},
           {"restartCount", 0},
           {"image", container["image"]},
           {"imageID",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:"
            "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"},
           {"containerID", fmt::format("containerd://{:064x}", i)},
           {"started", true}}}},
        {"qosClass", "Burstable"}}}};
}

}  // namespace podiam::testing
