package crd

import (
	"regexp"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// groupsRule is the schema's other semverConstraint rule, mirrored by
// withinGroupLimit.
const groupsRule = "size(self.split('||')) <= 32"

func withinGroupLimit(c string) bool { return len(strings.Split(c, "||")) <= 32 }

// semverRuleRegexps returns every regular expression the CRDs use to
// validate a semverConstraint field, keyed by where it was found.
func semverRuleRegexps(t testing.TB) map[string]*regexp.Regexp {
	t.Helper()
	crds, err := Definitions()
	require.NoError(t, err)
	found := map[string]*regexp.Regexp{}
	var walk func(where string, s *apiextensionsv1.JSONSchemaProps)
	walk = func(where string, s *apiextensionsv1.JSONSchemaProps) {
		if s == nil {
			return
		}
		for name, p := range s.Properties {
			if name == "semverConstraint" {
				for _, rule := range p.XValidations {
					if rule.Rule == groupsRule {
						continue
					}
					const open, closing = "self.matches('", "')"
					require.True(t, strings.HasPrefix(rule.Rule, open) && strings.HasSuffix(rule.Rule, closing),
						"%s.semverConstraint: unexpected rule %q", where, rule.Rule)
					found[where] = regexp.MustCompile(rule.Rule[len(open) : len(rule.Rule)-len(closing)])
				}
			}
			walk(where+"."+name, &p)
		}
		if s.Items != nil {
			walk(where+"[]", s.Items.Schema)
		}
	}
	for _, c := range crds {
		for _, v := range c.Spec.Versions {
			walk(c.Name, v.Schema.OpenAPIV3Schema)
		}
	}
	return found
}

func TestDefinitionsCoverEveryKind(t *testing.T) {
	crds, err := Definitions()
	require.NoError(t, err)
	// Kinds whose status a controller writes have a status subresource, so
	// that RBAC can keep users from writing it; the others are specs only
	// (PromotionPolicy, ApprovalPolicy, the tasks) or written once (AuditRecord).
	withStatus := map[string]bool{
		"Freight": true, "Project": true, "Promotion": true, "Stage": true, "Warehouse": true, "NotificationSubscription": true,
		"PromotionPolicy": false, "PromotionTask": false, "ClusterPromotionTask": false, "AuditRecord": false, "PromotionWindow": false, "ApprovalPolicy": false,
	}
	var kinds []string
	for _, c := range crds {
		require.Equal(t, "kargo.akuity.io", c.Spec.Group)
		require.Len(t, c.Spec.Versions, 1)
		v := c.Spec.Versions[0]
		require.Equal(t, "v1alpha1", v.Name)
		kind := c.Spec.Names.Kind
		if withStatus[kind] {
			require.NotNil(t, v.Subresources, "%s has no status subresource", c.Name)
			require.NotNil(t, v.Subresources.Status, "%s has no status subresource", c.Name)
		} else {
			require.True(t, v.Subresources == nil || v.Subresources.Status == nil, "%s has a status nothing writes", c.Name)
		}
		kinds = append(kinds, kind)
	}
	var want []string
	for k := range withStatus {
		want = append(want, k)
	}
	require.ElementsMatch(t, want, kinds)
}

// The schema's semverConstraint rule must accept only what the library the
// controllers use can parse, or a constraint could pass admission and then
// fail every discovery.
func TestSemverConstraintRuleAgreesWithLibrary(t *testing.T) {
	rules := semverRuleRegexps(t)
	// Stage repos git, images and charts. (A Warehouse's subscriptions,
	// which take two shapes, are checked by its webhook against these same
	// rules of the Stage CRD.)
	require.Len(t, rules, 3)

	valid := []string{
		"^1.24.0", "~1.2", "~> 1.2.3", ">=1.0.0 <2.0.0", ">= 1.0, < 2.0", "1.2 - 1.4.5",
		"^1.0 || ^2.0", "1.x", "1.2.*", "*", "=1.2.3", "!=1.2.3", "v1.2.3", "1.2.3-rc.1",
		"^1.2.3+build.5", ">1.0 <=1.5 || >=3", "<=2", "=<2", "=>2", "1.0.0 - 2.0.0 || 3.x",
	}
	invalid := []string{
		"", "latest", "^^1.0", "1.0 ||", "|| 1.0", ">= 1.0 ,, < 2", "1.0.0.0.0x", "not a range",
		">=1.0;<2.0", "1.0 - ", "- 1.0", "^", "1.2.3-", "1.2.3+",
	}
	for where, re := range rules {
		t.Run(where, func(t *testing.T) {
			for _, c := range valid {
				require.True(t, re.MatchString(c), "schema refuses %q", c)
				_, err := semver.NewConstraint(c)
				require.NoError(t, err, "library refuses %q", c)
			}
			for _, c := range invalid {
				require.False(t, re.MatchString(c), "schema accepts %q", c)
			}
		})
	}
}

func FuzzSemverConstraintRule(f *testing.F) {
	for _, seed := range []string{"^1.24.0", "1.2 - 1.4", ">=1 <2 || ~3.1", "v1.x", "1.2.3-rc.1+b", "=> 1, != 1.5"} {
		f.Add(seed)
	}
	var re *regexp.Regexp
	for _, r := range semverRuleRegexps(f) {
		re = r
		break
	}
	f.Fuzz(func(t *testing.T, c string) {
		if len(c) > 256 || !withinGroupLimit(c) || !re.MatchString(c) {
			return
		}
		if _, err := semver.NewConstraint(c); err != nil {
			t.Fatalf("schema accepts %q but the library refuses it: %v", c, err)
		}
	})
}
