// `podiam explain policy|pod`: wiring only; the logic is in explain/ (docs/explain.md).
#include "podiam/app/explain.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "podiam/agent/container_sources.hpp"
#include "podiam/app/kube_stack.hpp"
#include "podiam/app/role_policy.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/environment.hpp"
#include "podiam/base/log.hpp"
#include "podiam/controller/role_object.hpp"
#include "podiam/explain/pod.hpp"
#include "podiam/explain/policy.hpp"
#include "podiam/k8s/resource.hpp"
#include "podiam/metrics/registry.hpp"

namespace podiam::app {
namespace {

int Print(const explain::Explanation& e, const cli::ExplainConfig& config) {
  bool colour = isatty(STDOUT_FILENO) == 1 && !ProcessEnvironment()("NO_COLOR");
  std::string text =
      config.output == "json" ? explain::RenderJson(e) : explain::RenderText(e, colour);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return explain::ExitCode(e);
}

Result<explain::PodFacts> ReadPod(k8s::KubeApi& api, std::string_view namespace_name,
                                  std::string_view name) {
  explain::PodFacts facts;
  auto pod = api.Get(k8s::resources::Pods(), namespace_name, name);
  if (!pod) {
    return tl::unexpected(pod.error().Wrap(fmt::format("reading pod {}/{}", namespace_name, name)));
  }
  facts.pod = std::move(*pod);
  std::string sa_name = k8s::StringAt(facts.pod, "spec", "serviceAccountName");
  if (sa_name.empty()) {
    sa_name = "default";
  }
  auto sa = api.Get(k8s::resources::ServiceAccounts(), namespace_name, sa_name);
  if (sa) {
    facts.service_account = std::move(*sa);
  } else if (sa.error().code() != ErrorCode::kNotFound) {
    return tl::unexpected(sa.error().Wrap("reading service account " + sa_name));
  }
  auto ns = api.Get(k8s::resources::Namespaces(), "", namespace_name);
  if (ns) {
    facts.namespace_object = std::move(*ns);
  } else if (ns.error().code() != ErrorCode::kNotFound) {
    return tl::unexpected(ns.error().Wrap("reading namespace " + std::string(namespace_name)));
  }
  auto associations = api.List(agent::PodIdentityAssociations(), namespace_name, {});
  if (associations) {
    facts.associations = std::move(associations->items);
  } else {
    facts.associations_error = associations.error().message();
  }
  // AWSIAMRoles of both groups; a group whose CRD is not installed has none.
  std::string missing;
  for (const k8s::Resource& resource : {controller::PodiamRoles(), controller::ZalandoRoles()}) {
    auto roles = api.List(resource, namespace_name, {});
    if (roles) {
      for (auto& item : roles->items) {
        item["apiVersion"] = resource.group + "/" + resource.version;  // lists omit it per item
        facts.awsiamroles.push_back(std::move(item));
      }
    } else if (roles.error().code() == ErrorCode::kNotFound) {
      missing += (missing.empty() ? "" : ", ") + resource.group;
    } else {
      facts.awsiamroles_error += (facts.awsiamroles_error.empty() ? "" : "; ") + resource.group +
                                 ": " + roles.error().message();
    }
  }
  if (missing == "podiam.io, zalando.org") {
    facts.awsiamroles_error = "the AWSIAMRole CRDs are not installed";
  }
  return facts;
}

}  // namespace

int RunExplain(const cli::GlobalConfig& /*global*/, const cli::ExplainConfig& config) {
  if (config.action == "trust") {
    return RunExplainTrust(config);
  }
  log::Logger log("explain");
  SystemClock clock;
  auto options = PolicyOptionsFrom(config.roles, nullptr, clock, log);
  if (!options) {
    log.Error("cannot explain", {{"error", options.error().message()}});
    return 1;
  }
  identity::RolePolicy policy(*options);
  if (config.action == "policy") {
    identity::Annotations ns;
    if (config.allowed_roles) {
      ns.emplace(options->keys.allowed_roles, *config.allowed_roles);
    }
    if (config.permitted) {
      ns.emplace(options->keys.permitted, *config.permitted);
    }
    return Print(explain::ExplainPolicy(policy, {.role = config.role,
                                                 .namespace_name = config.namespace_name,
                                                 .namespace_annotations = &ns}),
                 config);
  }

  auto slash = config.pod.find('/');
  std::string namespace_name = config.pod.substr(0, slash);
  std::string name = config.pod.substr(slash + 1);
  SystemRandom random;
  metrics::Registry registry;
  auto kube = KubeStack::Connect(config.kube, clock, random, registry, "podiam-explain");
  if (!kube) {
    log.Error("cannot explain", {{"step", "kubernetes"}, {"error", kube.error().message()}});
    return 1;
  }
  auto facts = ReadPod((*kube)->api(), namespace_name, name);
  if (!facts) {
    log.Error("cannot explain", {{"step", "read"}, {"error", facts.error().message()}});
    return 1;
  }
  explain::PodSettings settings{.container_credentials_from_annotations =
                                    config.container_credentials_from_annotations};
  settings.webhook.annotation_prefix = config.annotation_prefix;
  settings.webhook.audience = config.token_audience;
  settings.controller = {.cluster_name = config.cluster_name,
                         .allow_no_external_id = config.allow_no_external_id};
  auto explanation = explain::ExplainPod(policy, *facts, settings, random);
  if (!explanation) {
    log.Error("cannot explain", {{"step", "decide"}, {"error", explanation.error().message()}});
    return 1;
  }
  return Print(*explanation, config);
}

}  // namespace podiam::app
