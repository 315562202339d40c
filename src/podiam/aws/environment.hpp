// The process environment (base/environment.hpp, named here too) and the file system as injectable
// functions, so the credential providers (and their unit tests) never call getenv() or open files
// behind a test's back.
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

#include "podiam/base/environment.hpp"
#include "podiam/base/error.hpp"

namespace podiam::aws {

using podiam::Environment;
using podiam::MapEnvironment;
using podiam::NonEmpty;
using podiam::ProcessEnvironment;

// The whole content of a file; kNotFound when it does not exist, kUnavailable on other errors.
using FileReader = std::function<Result<std::string>(const std::string& path)>;

Result<std::string> ReadLocalFile(const std::string& path);

}  // namespace podiam::aws
