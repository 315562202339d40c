// podiam_sigv4_tool: signs requests described as JSON on stdin and prints the results as JSON, so
// that tests/integration/test_sigv4_oracle.py can compare podiam's SigV4 with botocore's.
//
// Input: one object, or an array of them:
//   {"method": "POST", "url": "https://sts.us-east-1.amazonaws.com/",
//    "headers": [["Content-Type", "application/x-www-form-urlencoded; charset=utf-8"]],
//    "body": "Action=...",                  (or "form": [["Action", "AssumeRole"], ...], encoded
//                                            with podiam's STS form encoder)
//    "access_key_id": "...", "secret_access_key": "...", "session_token": "...",
//    "region": "us-east-1", "service": "sts", "timestamp": "20150830T123600Z"}
// Output (same shape: object or array):
//   {"authorization": "...", "body": "...", "canonical_request": "...", "string_to_sign": "...",
//    "headers": [[name, value], ...]}      or {"error": "..."}
// A test tool: it prints the secrets it was given back to no one, but is not for production use.
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "podiam/aws/sigv4.hpp"
#include "podiam/aws/sts_codec.hpp"

namespace {

using nlohmann::json;
using podiam::aws::Credentials;

// "20150830T123600Z" or ISO 8601.
podiam::Result<podiam::Clock::WallTime> ParseTime(const std::string& text) {
  if (text.size() == 16 && text[8] == 'T') {
    std::string iso = text.substr(0, 4) + "-" + text.substr(4, 2) + "-" + text.substr(6, 2) + "T" +
                      text.substr(9, 2) + ":" + text.substr(11, 2) + ":" + text.substr(13, 2) + "Z";
    return podiam::aws::ParseTimestamp(iso);
  }
  return podiam::aws::ParseTimestamp(text);
}

json SignOne(const json& in) {
  podiam::http::ClientRequest request{.method = in.value("method", "POST"),
                                      .url = in.at("url").get<std::string>()};
  for (const auto& header : in.value("headers", json::array())) {
    request.headers.Add(header.at(0).get<std::string>(), header.at(1).get<std::string>());
  }
  if (in.contains("form")) {
    podiam::aws::FormParams params;
    for (const auto& pair : in.at("form")) {
      params.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
    }
    request.body = podiam::aws::FormEncode(params);
  } else {
    request.body = in.value("body", "");
  }
  Credentials creds{.access_key_id = in.at("access_key_id").get<std::string>(),
                    .secret_access_key = in.at("secret_access_key").get<std::string>(),
                    .session_token = in.value("session_token", "")};
  auto when = ParseTime(in.at("timestamp").get<std::string>());
  if (!when) {
    return {{"error", when.error().ToString()}};
  }
  std::string region = in.at("region").get<std::string>();
  std::string service = in.value("service", "sts");
  auto parts = podiam::aws::SignRequest(request, creds,
                                        {.region = region, .service = service, .time = *when});
  if (!parts) {
    return {{"error", parts.error().ToString()}};
  }
  json headers = json::array();
  for (const auto& [name, value] : request.headers.items()) {
    headers.push_back({name, value});
  }
  return {{"authorization", parts->authorization},
          {"body", request.body},
          {"canonical_request", parts->canonical_request},
          {"string_to_sign", parts->string_to_sign},
          {"headers", headers}};
}

}  // namespace

int main() {
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  json in = json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (in.is_discarded()) {
    std::cerr << "podiam_sigv4_tool: stdin is not JSON\n";
    return 2;
  }
  try {
    if (in.is_array()) {
      json out = json::array();
      for (const auto& item : in) {
        out.push_back(SignOne(item));
      }
      std::cout << out.dump() << "\n";
    } else {
      std::cout << SignOne(in).dump() << "\n";
    }
  } catch (const json::exception& e) {
    std::cerr << "podiam_sigv4_tool: bad input: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
