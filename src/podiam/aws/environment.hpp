// The process environment and the file system as injectable functions, so the credential
// providers (and their unit tests) never call getenv() or open files behind a test's back.
//
// Thread-safety: ProcessEnvironment() reads the environment with getenv(); podiam never calls
// setenv() after start-up, so concurrent reads are safe. ReadLocalFile is safe from any thread.
//
//   aws::Environment env = aws::MapEnvironment({{"AWS_PROFILE", "ci"}});   // tests
//   aws::Environment real = aws::ProcessEnvironment();                     // production
//   std::optional<std::string> region = env("AWS_REGION");
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "podiam/base/error.hpp"

namespace podiam::aws {

// The value of an environment variable; nullopt when unset. Empty values are returned as "" and
// treated as unset by the providers, as the AWS SDKs do.
using Environment = std::function<std::optional<std::string>(std::string_view name)>;

Environment ProcessEnvironment();
Environment MapEnvironment(std::map<std::string, std::string, std::less<>> values);

// The whole content of a file; kNotFound when it does not exist, kUnavailable on other errors.
using FileReader = std::function<Result<std::string>(const std::string& path)>;

Result<std::string> ReadLocalFile(const std::string& path);

// A set, non-empty environment variable.
std::optional<std::string> NonEmpty(const Environment& env, std::string_view name);

}  // namespace podiam::aws
