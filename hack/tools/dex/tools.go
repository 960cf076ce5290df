//go:build tools

// Package dexbins pins the Dex OpenID provider that tests sign in through;
// hack/dex-bins.sh builds it.
package dexbins

import _ "github.com/dexidp/dex/cmd/dex"
