// whoami prints the Arn of sts:GetCallerIdentity as an unmodified workload using the AWS SDK for
// Go v2 sees it: the default config (credential chain: env, shared files, web identity, container
// credentials, IMDS; AWS_ENDPOINT_URL_STS honoured by the SDK). Built by
// tests/lib/podiam_testenv/gosdk.py into ~/.cache/podiam; never committed as a binary.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func main() {
	ctx := context.Background()
	var opts []func(*config.LoadOptions) error
	if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") != "" {
		opts = append(opts, config.WithRegion(os.Getenv("AWS_DEFAULT_REGION")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "whoami: config: %v\n", err)
		os.Exit(1)
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "whoami: %v\n", err)
		os.Exit(1)
	}
	creds, _ := cfg.Credentials.Retrieve(ctx)
	enc, _ := json.Marshal(map[string]string{
		"Arn": aws.ToString(out.Arn), "Account": aws.ToString(out.Account),
		"UserId": aws.ToString(out.UserId), "AccessKeyId": creds.AccessKeyID,
	})
	fmt.Println(string(enc))
}
