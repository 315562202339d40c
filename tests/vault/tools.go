//go:build tools

// Package tools pins the vault command build.sh compiles; it is never built itself.
package tools

import (
	_ "github.com/hashicorp/vault"
)
