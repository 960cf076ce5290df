package promotion

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// Warehouses written with the field names of Kargo v1's documentation
// (constraint for both a version range and the Digest strategy's tag,
// allowTagsRegexes, ignoreTagsRegexes, cacheByTag) apply unchanged with
// kubectl in strict field validation and select what Kargo would; what
// kargo does not do (expressionFilter) is refused with a message saying
// what to use instead.
func TestKargoV1WarehouseFieldsApplyAndSelect(t *testing.T) {
	ns := env.NewProject(t, "v1fields")
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	for _, tag := range []string{"1.0.0", "1.1.0", "1.5.0", "2.0.0", "nightly-20261201", "nightly-20261202", "latest"} {
		reg.PushImage(t, "app", tag, registry.Image{})
	}
	image := reg.Host() + "/app"
	manifests := fmt.Sprintf(`apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: versions
  namespace: %[1]s
spec:
  subscriptions:
  - image:
      repoURL: %[2]s
      constraint: ^1.0.0
      ignoreTagsRegexes:
      - ^1\.5\.
      cacheByTag: true
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: nightlies
  namespace: %[1]s
spec:
  subscriptions:
  - image:
      repoURL: %[2]s
      imageSelectionStrategy: Lexical
      allowTagsRegexes:
      - ^nightly-\d{8}$
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: tracking
  namespace: %[1]s
spec:
  subscriptions:
  - image:
      repoURL: %[2]s
      imageSelectionStrategy: Digest
      constraint: latest
`, ns, image)
	file := filepath.Join(t.TempDir(), "warehouses.yaml")
	require.NoError(t, os.WriteFile(file, []byte(manifests), 0o600))
	out, err := env.Kubectl("apply", "--validate=strict", "-f", file)
	require.NoError(t, err, out)

	for warehouse, tag := range map[string]string{"versions": "1.1.0", "nightlies": "nightly-20261202", "tracking": "latest"} {
		eventually(t, time.Minute, "Warehouse "+warehouse+" makes Freight", func() (bool, string) {
			wh := get(t, &kargoapi.Warehouse{}, ns, warehouse)
			return wh.Status.LastFreight != nil, fmt.Sprintf("%+v", wh.Status.Conditions)
		})
		f := get(t, &kargoapi.Freight{}, ns, newestOf(t, ns, warehouse))
		require.Equal(t, tag, f.Images[0].Tag, warehouse)
		if warehouse == "tracking" {
			require.NotEmpty(t, f.Images[0].Digest)
		}
	}

	for _, tt := range []struct{ from, to, want string }{
		{"constraint: ^1.0.0", "constraint: ^1.0.0\n      semverConstraint: ^1.0.0", "constraint is Kargo v1's name for semverConstraint and tag: set one of them"},
		{"imageSelectionStrategy: Lexical", "imageSelectionStrategy: Lexical\n      constraint: ^1.0.0", "constraint applies to imageSelectionStrategy SemVer (a version range) and Digest (the tag to track)"},
	} {
		bad := strings.Replace(manifests, tt.from, tt.to, 1)
		require.NoError(t, os.WriteFile(file, []byte(bad), 0o600))
		out, err := env.Kubectl("apply", "--validate=strict", "-f", file)
		require.Error(t, err, tt.to)
		require.Contains(t, out, tt.want)
	}
	git := fmt.Sprintf(`apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: filtered
  namespace: %s
spec:
  subscriptions:
  - git:
      repoURL: https://git.example.com/app.git
      commitSelectionStrategy: NewestTag
      expressionFilter: tag startsWith 'v'
`, ns)
	require.NoError(t, os.WriteFile(file, []byte(git), 0o600))
	out, err = env.Kubectl("apply", "--validate=strict", "-f", file)
	require.Error(t, err)
	require.Contains(t, out, "expressionFilter is not supported: select tags with allowTags, allowTagsRegexes or ignoreTagsRegexes")
}
