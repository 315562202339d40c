// The process environment as an injectable function, so that code reading variables (the AWS
// credential chain, the kubeconfig loader, flags) and its unit tests never call getenv() behind a
// test's back. One definition for aws/, k8s/ and every later reader.
//
// Thread-safety: ProcessEnvironment() reads with getenv(); podiam never calls setenv() after
// start-up, so concurrent reads are safe.
//
//   Environment env = MapEnvironment({{"AWS_PROFILE", "ci"}});   // tests
//   Environment real = ProcessEnvironment();                     // production
//   std::optional<std::string> region = NonEmpty(env, "AWS_REGION");
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace podiam {

// The value of an environment variable; nullopt when unset. Empty values are returned as "".
using Environment = std::function<std::optional<std::string>(std::string_view name)>;

Environment ProcessEnvironment();
Environment MapEnvironment(std::map<std::string, std::string, std::less<>> values);

// A set, non-empty environment variable (the AWS SDKs treat empty as unset).
std::optional<std::string> NonEmpty(const Environment& env, std::string_view name);

}  // namespace podiam
