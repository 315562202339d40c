// Prints the caller identity, as an unmodified workload using the AWS SDK for JavaScript v3
// would see it: credentials from the default Node.js provider chain (env, ini files, web identity,
// container credentials, IMDS), STS endpoint from AWS_ENDPOINT_URL_STS if set (the SDK reads it).
// The JS SDK reads AWS_REGION, not AWS_DEFAULT_REGION; fall back to the latter so one pod
// environment suits botocore, the AWS CLI and this script.
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";

const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
const client = new STSClient({ region, credentials: fromNodeProviderChain() });
try {
  const { UserId, Account, Arn } = await client.send(new GetCallerIdentityCommand({}));
  const { accessKeyId } = await client.config.credentials();
  console.log(JSON.stringify({ UserId, Account, Arn, AccessKeyId: accessKeyId }));
} catch (err) {
  console.error(`whoami: ${err.name}: ${err.message}`);
  process.exit(1);
}
