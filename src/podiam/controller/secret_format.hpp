// The Secret an AWSIAMRole becomes (docs/controller.md, "Secret format"), and the parser of its
// credentials.json for `podiam credential-process`:
//
//   credentials          shared credentials file: [default] with aws_access_key_id,
//                        aws_secret_access_key, aws_session_token (AWS_SHARED_CREDENTIALS_FILE)
//   credentials.json     the credential_process output format: {"Version": 1, "AccessKeyId",
//                        "SecretAccessKey", "SessionToken", "Expiration"}
//   credentials.process  a config file: [default] credential_process = <command>
//                        (AWS_CONFIG_FILE); the command prints credentials.json, re-read on
//                        every refresh the SDK makes
//   role-arn             the role's ARN
//   expiration           RFC 3339 expiry of the credentials
//
// Thread-safety: pure functions.
//
//   auto files = controller::SecretFiles(creds, "arn:aws:iam::1:role/app",
//                                        "podiam credential-process");
//   k8s::Json secret = controller::SecretObject(role, files);
//   auto c = controller::ParseProcessCredentials(file_text);   // Result<aws::Credentials>
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "podiam/aws/credentials.hpp"
#include "podiam/base/error.hpp"
#include "podiam/controller/role_object.hpp"
#include "podiam/k8s/kube_api.hpp"

namespace podiam::controller {

using FileMap = std::map<std::string, std::string, std::less<>>;

inline constexpr std::string_view kAdoptAnnotation = "podiam.io/adopt";
inline constexpr std::string_view kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr std::string_view kManagedByValue = "podiam-controller";

// The five keys; `process_command` is the credential_process command line.
FileMap SecretFiles(const aws::Credentials& credentials, std::string_view role_arn,
                    std::string_view process_command);

// credentials.json alone (also what `podiam credential-process` prints).
std::string ProcessCredentialsJson(const aws::Credentials& credentials);

// A Secret named role.secret_name in the role's namespace, controlled by the role
// (ownerReferences: the Kubernetes garbage collector deletes it with the role), with `files`
// as stringData.
k8s::Json SecretObject(const RoleObject& role, const FileMap& files);

// The Secret's data, decoded; keys whose values are not valid base64 are left out.
FileMap DecodedSecretData(const k8s::Json& secret);

// Whether `secret` is controlled by `role` (an ownerReference with its uid).
bool OwnedBy(const k8s::Json& secret, const RoleObject& role);
// Whether `secret` carries podiam.io/adopt: "true".
bool Adoptable(const k8s::Json& secret);

// credentials.json as `podiam credential-process` reads it: Version 1, non-empty AccessKeyId
// and SecretAccessKey, a valid RFC 3339 Expiration when present. Untrusted bytes: every
// malformation is a kInvalidArgument that names the field, never secret values.
Result<aws::Credentials> ParseProcessCredentials(std::string_view text);

}  // namespace podiam::controller
