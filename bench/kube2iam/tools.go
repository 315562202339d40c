//go:build tools

// Keeps the kube2iam requirement in go.mod (a main package cannot be imported otherwise).
package tools

import _ "github.com/jtblin/kube2iam"
