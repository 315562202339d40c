// Building and signing one STS AssumeRole request (validate, form-encode, SigV4 with a session
// token), the CPU work podiam does per credential fetch before any I/O; plus its parts and the
// response parsing, to see where the time goes. docs/benchmarks.md has the figures.
//
//   ninja -C build podiam_bench_sts_sign && build/bench/podiam_bench_sts_sign
#include <benchmark/benchmark.h>

#include "podiam/aws/sigv4.hpp"
#include "podiam/aws/sts_codec.hpp"

namespace podiam::aws {
namespace {

const Credentials kNodeCredentials{
    .access_key_id = "ASIARZPUZDIKBRQSI4T2",
    .secret_access_key = "K8PII1G8HC7LutwjBTFdubDnuolZccyG1piTSp8M",
    .session_token = std::string(
        "FQoGZXIvYXdzEBYaDZb0bY6NMZsvzbRX64MToVJHeIIAz2eZqQzK1lLfB0tH8wUu3Tn2kR5gQm1Zp4VYc7xWdA9s"
        "E3yJbNfLrGtHq6uK2iO0vPaXzCwD5mS8nTgR1hF4eB7jU9lY2kM6oQ3rZ0xV5pW8aI1sN4dG7fJ0cK3bL6hE9gT2"
        "uR5yS8wA1zD4xC7vF0iH3jK6mN9pQ2tU5oY8lE1rW4qB7gM0sZ3nX6vC9bT2yU5hJ8kL1dF4gA7sP0oI3uY6tR9e"
        "W2qZ5xC8vB1nM4jH7fD0kG3sL6aP9oI2uY5tR8eW1qZ4xC7vB0nM3jH6fD9kG2sL5aP8oI1uY4tR7eW0qZ3xC6v")};

AssumeRoleRequest PodRequest() {
  return {.role_arn = "arn:aws:iam::123456789012:role/k8s/team/app-role",
          .role_session_name = "pod-default-web-7d9f8b6c5-x2x4z",
          .duration_seconds = 3600,
          .external_id = "cluster-prod-1"};
}

void BM_BuildAndSignAssumeRole(benchmark::State& state) {
  const AssumeRoleRequest request = PodRequest();
  const auto now = *ParseTimestamp("2026-01-01T00:00:00Z");
  for (auto _ : state) {
    auto body = EncodeAssumeRole(request);
    http::ClientRequest http_request{
        .method = "POST", .url = "https://sts.eu-west-1.amazonaws.com/", .body = *body};
    http_request.headers.Set("Content-Type", kFormContentType);
    auto parts = SignRequest(http_request, kNodeCredentials,
                             {.region = "eu-west-1", .service = "sts", .time = now});
    benchmark::DoNotOptimize(parts);
  }
}
BENCHMARK(BM_BuildAndSignAssumeRole);

void BM_EncodeAssumeRole(benchmark::State& state) {
  const AssumeRoleRequest request = PodRequest();
  for (auto _ : state) {
    benchmark::DoNotOptimize(EncodeAssumeRole(request));
  }
}
BENCHMARK(BM_EncodeAssumeRole);

void BM_DeriveSigningKey(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        DeriveSigningKey(kNodeCredentials.secret_access_key, "20260101", "eu-west-1", "sts"));
  }
}
BENCHMARK(BM_DeriveSigningKey);

void BM_ParseAssumeRoleResponse(benchmark::State& state) {
  const std::string xml =
      "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>"
      "<Credentials><AccessKeyId>ASIARZPUZDIKBRQSI4T2</AccessKeyId><SecretAccessKey>"
      "K8PII1G8HC7LutwjBTFdubDnuolZccyG1piTSp8M</SecretAccessKey><SessionToken>" +
      kNodeCredentials.session_token +
      "</SessionToken><Expiration>2026-11-23T07:39:25.669870Z</Expiration></Credentials>"
      "<AssumedRoleUser><AssumedRoleId>AROA3X42LBCDEAUSZS41K:pod-default-web-1</AssumedRoleId>"
      "<Arn>arn:aws:sts::123456789012:assumed-role/my-role/pod-default-web-1</Arn>"
      "</AssumedRoleUser><PackedPolicySize>6</PackedPolicySize></AssumeRoleResult>"
      "<ResponseMetadata><RequestId>VxtoLiOy228op9C3LJjCJyzUuWthQSH9QmsxDEBd7Rtxw4J2tBWW"
      "</RequestId></ResponseMetadata></AssumeRoleResponse>";
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParseAssumeRoleResponse(xml));
  }
}
BENCHMARK(BM_ParseAssumeRoleResponse);

}  // namespace
}  // namespace podiam::aws

BENCHMARK_MAIN();
