package schema

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// create sends a manifest as written, so that fields the Go types would
// drop or default reach the server unchanged.
func create(t *testing.T, ns, manifest string) error {
	t.Helper()
	u := &unstructured.Unstructured{}
	require.NoError(t, yaml.Unmarshal([]byte(manifest), &u.Object))
	u.SetNamespace(ns)
	return env.Admin.Create(context.Background(), u)
}

const freightName = "0123456789abcdef0123456789abcdef01234567"

// Objects that are wrong on their own are refused by the schema, with a
// message that names the field and says what to write instead.
func TestInvalidObjectsAreRefused(t *testing.T) {
	ns := env.NewProject(t, "invalid")
	cases := []struct {
		name     string
		manifest string
		want     []string
	}{{
		name: "promotion without stage",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Promotion
metadata: {name: p1}
spec: {freight: ` + freightName + `}`,
		want: []string{"spec.stage: Required value"},
	}, {
		name: "stage subscribing to repos and upstream stages",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: s1}
spec:
  subscriptions:
    repos:
      images: [{repoURL: nginx}]
    upstreamStages: [{name: test}]`,
		want: []string{"spec.subscriptions", "subscriptions must name exactly one of repos, warehouse or upstreamStages"},
	}, {
		name: "stage subscribing to nothing",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: s2}
spec: {subscriptions: {}}`,
		want: []string{"subscriptions must name exactly one of repos, warehouse or upstreamStages"},
	}, {
		name: "image subscription with an unparsable semver constraint",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: s3}
spec:
  subscriptions:
    repos:
      images: [{repoURL: nginx, semverConstraint: "^^1.24"}]`,
		want: []string{"spec.subscriptions.repos.images[0].semverConstraint", "must be a semantic version range such as ^1.24.0"},
	}, {
		name: "stage writing to the branch it subscribes to",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: s4}
spec:
  subscriptions:
    repos:
      git: [{repoURL: "https://git.example/demo.git", branch: main}]
  promotionMechanisms:
    gitRepoUpdates:
    - repoURL: "https://git.example/demo.git"
      writeBranch: main
      kustomize: {images: [{image: nginx, path: stages/test}]}`,
		want: []string{"writeBranch may not be the branch the Stage subscribes to", "stages/test"},
	}, {
		name: "kustomize path leaving the repository",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: s5}
spec:
  subscriptions: {warehouse: w}
  promotionMechanisms:
    gitRepoUpdates:
    - repoURL: "https://git.example/demo.git"
      writeBranch: stages/test
      kustomize: {images: [{image: nginx, path: "stages/../../etc"}]}`,
		want: []string{"path", "relative to the repository root and may not contain '..'"},
	}, {
		name: "absolute values file path",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: s6}
spec:
  subscriptions: {warehouse: w}
  promotionMechanisms:
    gitRepoUpdates:
    - repoURL: "https://git.example/demo.git"
      writeBranch: stages/test
      helm: {images: [{image: nginx, valuesFilePath: /etc/passwd, key: image.tag, value: Tag}]}`,
		want: []string{"valuesFilePath", "relative to the repository root"},
	}, {
		name: "unknown helm value kind",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: s7}
spec:
  subscriptions: {warehouse: w}
  promotionMechanisms:
    gitRepoUpdates:
    - repoURL: "https://git.example/demo.git"
      writeBranch: stages/test
      helm: {images: [{image: nginx, valuesFilePath: values.yaml, key: image.tag, value: Version}]}`,
		want: []string{"value", `Unsupported value: "Version"`, `"ImageAndTag"`},
	}, {
		name: "warehouse polling too often",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {name: w7}
spec:
  interval: 1s
  subscriptions: {images: [{repoURL: nginx}]}`,
		want: []string{"interval must be a duration of at least 10s"},
	}, {
		name: "warehouse interval in words",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {name: w8}
spec:
  interval: five minutes
  subscriptions: {images: [{repoURL: nginx}]}`,
		want: []string{"spec.interval", "interval must be a duration of at least 10s, such as 30s, 5m or 1h"},
	}, {
		name: "freight whose name is not a fingerprint",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Freight
metadata: {name: my-freight}
images: [{repoURL: nginx, tag: 1.25.0}]`,
		want: []string{"40-character lowercase hex SHA-1 fingerprint"},
	}, {
		name: "freight without artifacts",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Freight
metadata: {name: ` + freightName + `}`,
		want: []string{"at least one commit, image or chart"},
	}, {
		name: "freight alias that cannot be a label value",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Freight
metadata: {name: ` + freightName + `}
alias: Mortal Dragonfly
images: [{repoURL: nginx, tag: 1.25.0}]`,
		want: []string{"alias must be lowercase letters, digits and '-'"},
	}, {
		name: "promotion policy without stage",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: PromotionPolicy
metadata: {name: pp}
enableAutoPromotion: true`,
		want: []string{"stage: Required value"},
	}, {
		name: "stage writing to a repoURL with a password",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: s-userinfo}
spec:
  subscriptions: {warehouse: w}
  promotionMechanisms:
    gitRepoUpdates:
    - repoURL: "https://robot:hunter2@git.example.com/gitops.git"
      writeBranch: stages/test
      readBranch: main`,
		want: []string{"repoURL must not hold credentials"},
	}, {
		name: "argo cd source update naming a repoURL with a password",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: s-argo-userinfo}
spec:
  subscriptions: {warehouse: w}
  promotionMechanisms:
    argoCDAppUpdates:
    - appName: app
      sourceUpdates:
      - repoURL: "https://robot:hunter2@git.example.com/gitops.git"
        updateTargetRevision: true`,
		want: []string{"repoURL must not hold credentials"},
	}, {
		name: "verification url with a password",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: s-check-userinfo}
spec:
  subscriptions: {warehouse: w}
  verification:
    http:
    - name: smoke
      url: "https://robot:hunter2@app.example.com/healthz"`,
		want: []string{"url must not hold credentials", "valueFrom names a Secret"},
	}, {
		name: "stage with subscriptions and requestedFreight",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: s-both}
spec:
  subscriptions: {warehouse: w}
  requestedFreight:
  - origin: {kind: Warehouse, name: w}
    sources: {direct: true}`,
		want: []string{"with subscriptions or with requestedFreight, not both"},
	}, {
		name: "stage requesting one origin twice",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: s-twice}
spec:
  requestedFreight:
  - origin: {kind: Warehouse, name: w}
    sources: {direct: true}
  - origin: {kind: Warehouse, name: w}
    sources: {stages: [test]}`,
		want: []string{"each origin may be requested once"},
	}, {
		name: "requested Freight without sources, a Stage as origin",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: s-sources}
spec:
  requestedFreight:
  - origin: {kind: Warehouse, name: w}
    sources: {direct: false}
  - origin: {kind: Stage, name: test}
    sources: {direct: true}`,
		want: []string{"sources need direct: true or at least one upstream Stage", "only Warehouses are requested as origins"},
	}, {
		name: "requested Freight through a badly named Stage, an unknown strategy",
		manifest: `
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: s-strategy}
spec:
  requestedFreight:
  - origin: {kind: Warehouse, name: x}
    sources: {stages: [test, "Not A Name"], availabilityStrategy: Most}`,
		want: []string{`Unsupported value: "Most"`, "spec.requestedFreight[0].sources.stages[1]"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := create(t, ns, tc.manifest)
			require.Error(t, err, "the server accepted it")
			require.True(t, apierrors.IsInvalid(err), "want an Invalid error, got %v", err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

// A valid object of each kind is accepted, and defaults are filled in.
func TestValidObjectsGetDefaults(t *testing.T) {
	ns := env.NewProject(t, "valid")
	require.NoError(t, create(t, ns, `
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {name: w}
spec:
  subscriptions:
    git: [{repoURL: "git@github.com:example/demo.git", includePaths: [apps/]}]
    images:
    - {repoURL: ghcr.io/example/app, semverConstraint: ">=1.0.0 <2.0.0 || ~3.1", platform: linux/arm64/v8}
    - {repoURL: "localhost:5000/app", imageSelectionStrategy: Digest, tag: latest}
    charts:
    - {repoURL: "https://charts.example", name: app, semverConstraint: "1.2 - 1.4"}
    - {repoURL: "oci://localhost:5000/charts/app"}`))
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("kargo.akuity.io/v1alpha1")
	u.SetKind("Warehouse")
	require.NoError(t, env.Admin.Get(context.Background(), clientKey(ns, "w"), u))
	interval, _, _ := unstructured.NestedString(u.Object, "spec", "interval")
	require.Equal(t, "5m", interval)
	limit, _, _ := unstructured.NestedInt64(u.Object, "spec", "discoveryLimit")
	require.EqualValues(t, 20, limit)
	// A Warehouse's subscriptions are stored as written (they take two
	// shapes, which no schema default fits); kargo reads them with the
	// same defaults.
	wh := &kargoapi.Warehouse{}
	require.NoError(t, env.Admin.Get(context.Background(), clientKey(ns, "w"), wh))
	require.Equal(t, kargoapi.CommitSelectionNewestFromBranch, wh.Spec.Subscriptions.Git[0].CommitSelectionStrategy)
	require.Equal(t, kargoapi.ImageSelectionSemVer, wh.Spec.Subscriptions.Images[0].ImageSelectionStrategy)
	require.Equal(t, kargoapi.ImageSelectionDigest, wh.Spec.Subscriptions.Images[1].ImageSelectionStrategy)
}
