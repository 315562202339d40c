// FakeStsClient: an in-memory aws::StsClient for unit tests of anything that calls STS.
//
// It issues credentials that expire `lifetime` after the injected Clock's Now() (at the moment
// the call returns), counts calls per action, records AssumeRole requests, and tracks how many
// calls run at once (and the most ever). It can be scripted:
//   - to fail: Fail(error, n) makes the next n calls (any action) fail with `error`, and
//     Fail(error) makes every call fail until Heal();
//   - to block: Block() parks every call at its start until Unblock() (all) or ReleaseOne()
//     (the oldest). AwaitBlocked(n) waits until n calls are parked, which lets a test line up
//     concurrent callers deterministically (single-flight, concurrency bounds, shutdown).
//
// Thread-safety: every method is safe from any thread. Tests use real-time waits only in
// AwaitBlocked()/AwaitCalls(), and only as a safety timeout.
//
//   testing::FakeClock clock;
//   testing::FakeStsClient sts(clock, std::chrono::hours(1));
//   sts.Fail(Error(ErrorCode::kPermissionDenied, "not authorized", "AccessDenied"), 1);
//   sts.Block();
//   std::thread t([&] { broker.Get(spec, deadline); });
//   ASSERT_TRUE(sts.AwaitBlocked(1));
//   sts.Unblock();
//   EXPECT_EQ(sts.Calls(testing::FakeStsClient::Action::kAssumeRole), 1);
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "podiam/aws/credentials.hpp"
#include "podiam/aws/sts_client.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"

namespace podiam::testing {

class FakeStsClient final : public aws::StsClient {
 public:
  enum class Action { kAssumeRole, kAssumeRoleWithWebIdentity, kGetCallerIdentity };
  static constexpr int kForever = -1;

  explicit FakeStsClient(const Clock& clock, std::chrono::seconds lifetime = std::chrono::hours(1))
      : clock_(clock), lifetime_(lifetime) {}

  // --- scripting ---

  // Lifetime of the credentials issued by calls that return from now on.
  void set_lifetime(std::chrono::seconds lifetime) {
    std::lock_guard lock(mu_);
    lifetime_ = lifetime;
  }
  // The next `times` calls fail with `error` (kForever: every call until Heal()). Replaces any
  // earlier script.
  void Fail(Error error, int times = kForever) {
    std::lock_guard lock(mu_);
    failure_ = std::move(error);
    failures_left_ = times;
  }
  void Heal() {
    std::lock_guard lock(mu_);
    failure_.reset();
    failures_left_ = 0;
  }
  // Calls park at their start until released.
  void Block() {
    std::lock_guard lock(mu_);
    blocking_ = true;
  }
  // Stops blocking and releases every parked call.
  void Unblock() {
    {
      std::lock_guard lock(mu_);
      blocking_ = false;
      released_ = next_park_ticket_;
    }
    cv_.notify_all();
  }
  // Releases the oldest parked call (calls keep blocking). False when none is parked.
  bool ReleaseOne() {
    {
      std::lock_guard lock(mu_);
      if (released_ >= next_park_ticket_) {
        return false;  // every parked call is already released
      }
      ++released_;
    }
    cv_.notify_all();
    return true;
  }

  // --- observation ---

  // Waits until at least `count` calls are parked. False after `timeout` (real time).
  bool AwaitBlocked(int count, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return parked_ >= count; });
  }
  // Waits until at least `count` calls have started (counting all actions).
  bool AwaitCalls(int count, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return total_calls_ >= count; });
  }
  [[nodiscard]] int Calls(Action action) const {
    std::lock_guard lock(mu_);
    return calls_.at(static_cast<std::size_t>(action));
  }
  [[nodiscard]] int AssumeRoleCalls() const { return Calls(Action::kAssumeRole); }
  [[nodiscard]] int Parked() const {
    std::lock_guard lock(mu_);
    return parked_;
  }
  [[nodiscard]] int InFlight() const {
    std::lock_guard lock(mu_);
    return in_flight_;
  }
  // The most calls that were ever inside the client at the same time.
  [[nodiscard]] int MaxInFlight() const {
    std::lock_guard lock(mu_);
    return max_in_flight_;
  }
  // Every AssumeRole request received, oldest first.
  [[nodiscard]] std::vector<aws::AssumeRoleRequest> Requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // For each of Requests(): the access key ID it was signed with, "" for the client's own
  // credentials (AssumeRole rather than AssumeRoleAs).
  [[nodiscard]] std::vector<std::string> Signers() const {
    std::lock_guard lock(mu_);
    return signers_;
  }

  // --- aws::StsClient ---

  Result<aws::AssumeRoleResult> AssumeRole(const aws::AssumeRoleRequest& request) override {
    return AssumeRoleSignedBy("", request);
  }

  Result<aws::AssumeRoleResult> AssumeRoleAs(const aws::Credentials& caller,
                                             const aws::AssumeRoleRequest& request) override {
    return AssumeRoleSignedBy(caller.access_key_id, request);
  }

  Result<aws::AssumeRoleResult> AssumeRoleSignedBy(const std::string& signer,
                                                   const aws::AssumeRoleRequest& request) {
    auto issued = Enter(Action::kAssumeRole, &request, signer);
    if (!issued) {
      return tl::unexpected(issued.error());
    }
    aws::AssumeRoleResult result;
    result.credentials = std::move(issued->credentials);
    result.credentials.source = "fake-sts role=" + request.role_arn;
    result.assumed_role_user.arn =
        "arn:aws:sts::123456789012:assumed-role/fake/" + request.role_session_name;
    result.assumed_role_user.assumed_role_id = "AROAFAKE:" + request.role_session_name;
    result.source_identity = request.source_identity;
    result.request_id = issued->request_id;
    return result;
  }

  Result<aws::AssumeRoleWithWebIdentityResult> AssumeRoleWithWebIdentity(
      const aws::AssumeRoleWithWebIdentityRequest& request) override {
    auto issued = Enter(Action::kAssumeRoleWithWebIdentity, nullptr);
    if (!issued) {
      return tl::unexpected(issued.error());
    }
    aws::AssumeRoleWithWebIdentityResult result;
    result.credentials = std::move(issued->credentials);
    result.credentials.source = "fake-sts web-identity role=" + request.role_arn;
    result.assumed_role_user.arn =
        "arn:aws:sts::123456789012:assumed-role/fake/" + request.role_session_name;
    result.request_id = issued->request_id;
    return result;
  }

  Result<aws::CallerIdentity> GetCallerIdentity() override {
    auto issued = Enter(Action::kGetCallerIdentity, nullptr);
    if (!issued) {
      return tl::unexpected(issued.error());
    }
    return aws::CallerIdentity{.user_id = "AIDAFAKE",
                               .account = "123456789012",
                               .arn = "arn:aws:iam::123456789012:user/fake",
                               .request_id = issued->request_id};
  }

 private:
  struct Issued {
    aws::Credentials credentials;
    std::string request_id;
  };

  // Counts the call, parks it while blocking, then applies the failure script or issues
  // credentials. The in-flight count covers the whole call, parking included.
  Result<Issued> Enter(Action action, const aws::AssumeRoleRequest* request,
                       const std::string& signer = "") {
    std::unique_lock lock(mu_);
    ++calls_.at(static_cast<std::size_t>(action));
    ++total_calls_;
    if (request != nullptr) {
      requests_.push_back(*request);
      signers_.push_back(signer);
    }
    ++in_flight_;
    max_in_flight_ = std::max(max_in_flight_, in_flight_);
    if (blocking_) {
      const std::uint64_t ticket = next_park_ticket_++;
      ++parked_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_ > ticket; });
      --parked_;
    } else {
      cv_.notify_all();
    }
    --in_flight_;
    const int n = ++serial_;
    const std::string request_id = "fake-request-" + std::to_string(n);
    if (failure_ && failures_left_ != 0) {
      Error error = *failure_;
      if (failures_left_ > 0 && --failures_left_ == 0) {
        failure_.reset();
      }
      return tl::unexpected(std::move(error));
    }
    Issued issued;
    issued.credentials.access_key_id = "ASIAFAKE" + std::to_string(100000 + n);
    issued.credentials.secret_access_key = "fake-secret-" + std::to_string(n);
    issued.credentials.session_token = "fake-token-" + std::to_string(n);
    issued.credentials.expiration = clock_.Now() + lifetime_;
    issued.request_id = request_id;
    return issued;
  }

  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::chrono::seconds lifetime_;
  std::optional<Error> failure_;
  int failures_left_ = 0;
  bool blocking_ = false;
  std::uint64_t next_park_ticket_ = 0;  // tickets of parked calls, in arrival order
  std::uint64_t released_ = 0;          // calls with a ticket below this may go on
  int parked_ = 0;
  std::array<int, 3> calls_{};
  int total_calls_ = 0;
  int in_flight_ = 0;
  int max_in_flight_ = 0;
  int serial_ = 0;
  std::vector<aws::AssumeRoleRequest> requests_;
  std::vector<std::string> signers_;
};

}  // namespace podiam::testing
