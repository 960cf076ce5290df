package sso

import (
	"testing"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
)

func TestConfigRefusesPrefixesThatReachSystem(t *testing.T) {
	base := Config{IssuerURL: "https://idp.example", ClientID: "kargo"}
	for _, prefix := range []string{"system:", "system", "sys", "s", "system:oidc:"} {
		c := base
		c.Prefix = prefix
		_, err := c.WithDefaults()
		require.ErrorContains(t, err, "system:", prefix)
	}
	for _, prefix := range []string{"", "oidc:", "corp-", "sso:"} {
		c := base
		c.Prefix = prefix
		got, err := c.WithDefaults()
		require.NoError(t, err, prefix)
		require.NotEmpty(t, got.Prefix)
	}
	_, err := Config{ClientID: "kargo"}.WithDefaults()
	require.Error(t, err)
	_, err = Config{IssuerURL: "idp.example", ClientID: "kargo"}.WithDefaults()
	require.Error(t, err)
	_, err = Config{IssuerURL: "https://idp.example"}.WithDefaults()
	require.Error(t, err)
}

func TestClaimsMapToPrefixedUsers(t *testing.T) {
	v, err := NewVerifier(Config{IssuerURL: "https://idp.example", ClientID: "kargo"})
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		claims map[string]any
		want   authenticationv1.UserInfo
		refuse string
	}{
		{
			name:   "email and groups",
			claims: map[string]any{"email": "alice@example.com", "email_verified": true, "groups": []any{"promoters", "system:masters"}},
			want:   authenticationv1.UserInfo{Username: "oidc:alice@example.com", Groups: []string{"oidc:promoters", "oidc:system:masters", "system:authenticated"}},
		},
		{
			name:   "one group as a string",
			claims: map[string]any{"email": "bob@example.com", "email_verified": true, "groups": "admins"},
			want:   authenticationv1.UserInfo{Username: "oidc:bob@example.com", Groups: []string{"oidc:admins", "system:authenticated"}},
		},
		{
			name:   "a Kubernetes username stays prefixed",
			claims: map[string]any{"email": "system:admin", "email_verified": true},
			want:   authenticationv1.UserInfo{Username: "oidc:system:admin", Groups: []string{"system:authenticated"}},
		},
		{name: "unverified email", claims: map[string]any{"email": "alice@example.com", "email_verified": false}, refuse: "not verified"},
		{name: "no email_verified", claims: map[string]any{"email": "alice@example.com"}, refuse: "not verified"},
		{name: "no username claim", claims: map[string]any{"sub": "x"}, refuse: `no "email" claim`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := v.userOf(tc.claims)
			if tc.refuse != "" {
				var refused *Refused
				require.ErrorAs(t, err, &refused)
				require.Contains(t, err.Error(), tc.refuse)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, u)
		})
	}
}

func TestIssuedLooksAtTheIssuerOnly(t *testing.T) {
	v, err := NewVerifier(Config{IssuerURL: "https://idp.example", ClientID: "kargo"})
	require.NoError(t, err)
	// {"iss":"https://idp.example"} and {"iss":"https://other.example"}
	require.True(t, v.Issued("e30.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIn0.x"))
	require.False(t, v.Issued("e30.eyJpc3MiOiJodHRwczovL290aGVyLmV4YW1wbGUifQ.x"))
	require.False(t, v.Issued("kubetest-token-alice"))
}
