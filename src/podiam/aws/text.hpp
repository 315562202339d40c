// Small text helpers shared by the aws/ sources: quoting user input inside error messages,
// counting UTF-8 code points, and the character classes the STS and IAM models use.
//
// Thread-safety: pure functions.
//
//   return MakeError(ErrorCode::kInvalidArgument, "bad role name " + aws::Quote(name));
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace podiam::aws {

// `text` in single quotes for an error message: bytes outside printable ASCII become \xNN and
// anything past `max` bytes is cut to "..." so that a megabyte of garbage cannot flood a log line.
std::string Quote(std::string_view text, std::size_t max = 120);

// Number of code points, or nullopt when `text` is not valid UTF-8.
std::optional<std::size_t> Utf8Length(std::string_view text);

// Decodes UTF-8 into code points, or nullopt when invalid.
std::optional<std::u32string> DecodeUtf8(std::string_view text);

// ASCII \w of the AWS models: [A-Za-z0-9_].
bool IsWordChar(char c);

// [\w+=,.@-]: IAM role names, STS RoleSessionName and SourceIdentity.
bool IsSessionNameChar(char c);

// ASCII digits only, non-empty.
bool IsAllDigits(std::string_view text);

}  // namespace podiam::aws
