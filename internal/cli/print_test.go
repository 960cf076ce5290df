package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// now is the fixed clock of every test: AGE columns count from it.
var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

const (
	freightA = "f5f87aa23c9e97f43eb83dd63768ee41f5ba3766"
	freightB = "0c6de4a53b2e7d8f9a1b2c3d4e5f60718293a4b5"
)

// fixtures are one or more objects of every kind, as the API would send
// them.
func fixtures() map[*resourceType][]client.Object {
	return map[*resourceType][]client.Object{
		projectType: {
			&kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: "kargo-demo", CreationTimestamp: ago(3 * 24 * time.Hour)},
				Status: kargoapi.ProjectStatus{Phase: kargoapi.ProjectPhaseReady}},
			&kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: "new", CreationTimestamp: ago(2 * time.Second)},
				Status: kargoapi.ProjectStatus{Phase: kargoapi.ProjectPhaseInitializing}},
		},
		warehouseType: {
			&kargoapi.Warehouse{
				ObjectMeta: metav1.ObjectMeta{Name: "kargo-demo", Namespace: "kargo-demo", CreationTimestamp: ago(90 * time.Minute)},
				Status: kargoapi.WarehouseStatus{
					Conditions:  []metav1.Condition{{Type: kargoapi.ConditionReady, Status: metav1.ConditionTrue, Reason: "Discovered"}},
					LastFreight: &kargoapi.FreightReference{Name: freightA, Alias: "mortal-dragonfly"},
				},
			},
			&kargoapi.Warehouse{ObjectMeta: metav1.ObjectMeta{Name: "fresh", Namespace: "kargo-demo"}},
		},
		stageType: {
			&kargoapi.Stage{
				ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: "kargo-demo", CreationTimestamp: ago(26 * time.Hour)},
				Status: kargoapi.StageStatus{
					Phase:          kargoapi.StagePhaseSteady,
					CurrentFreight: &kargoapi.SimpleFreight{ID: freightA, Alias: "mortal-dragonfly"},
					Health:         &kargoapi.Health{Status: kargoapi.HealthStateHealthy},
				},
			},
			&kargoapi.Stage{
				ObjectMeta: metav1.ObjectMeta{Name: "production", Namespace: "kargo-demo", CreationTimestamp: ago(26 * time.Hour)},
				Status:     kargoapi.StageStatus{Phase: kargoapi.StagePhaseNotApplicable},
			},
		},
		freightType: {
			&kargoapi.Freight{
				ObjectMeta: metav1.ObjectMeta{Name: freightA, Namespace: "kargo-demo", CreationTimestamp: ago(35 * time.Second),
					Labels: map[string]string{kargoapi.AliasLabelKey: "mortal-dragonfly"}},
				Alias:  "mortal-dragonfly",
				Origin: &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "kargo-demo"},
				Images: []kargoapi.Image{{RepoURL: "public.ecr.aws/nginx/nginx", Tag: "1.27.0", Digest: "sha256:0123"}},
				Status: kargoapi.FreightStatus{
					VerifiedIn:  map[string]kargoapi.VerifiedStage{"test": {}},
					ApprovedFor: map[string]kargoapi.ApprovedStage{"prod": {}},
				},
			},
			&kargoapi.Freight{
				// Only the label: right after a write, the alias field may
				// not have caught up.
				ObjectMeta: metav1.ObjectMeta{Name: freightB, Namespace: "kargo-demo", CreationTimestamp: ago(400 * 24 * time.Hour),
					Labels: map[string]string{kargoapi.AliasLabelKey: "frozen-tauntaun"}},
				Commits: []kargoapi.GitCommit{{RepoURL: "https://github.com/example/app.git", ID: "abc123"}},
			},
		},
		promotionType: {
			&kargoapi.Promotion{
				ObjectMeta: metav1.ObjectMeta{Name: "test.01jd8p3k", Namespace: "kargo-demo", CreationTimestamp: ago(5 * time.Minute)},
				Spec:       kargoapi.PromotionSpec{Stage: "test", Freight: freightA},
				Status:     kargoapi.PromotionStatus{Phase: kargoapi.PromotionPhaseSucceeded},
			},
			&kargoapi.Promotion{
				ObjectMeta: metav1.ObjectMeta{Name: "prod.01jd8p9z", Namespace: "kargo-demo", CreationTimestamp: ago(10 * time.Second)},
				Spec:       kargoapi.PromotionSpec{Stage: "prod", Freight: freightB},
			},
			&kargoapi.Promotion{
				ObjectMeta: metav1.ObjectMeta{Name: "uat.01jd8pa2", Namespace: "kargo-demo", CreationTimestamp: ago(time.Minute)},
				Spec: kargoapi.PromotionSpec{Stage: "uat", Freight: freightA, Steps: []kargoapi.PromotionStep{
					{Uses: "git-clone", As: "clone"}, {Uses: "kustomize-set-image"}, {Uses: "git-commit", As: "commit"},
					{Uses: "git-push", As: "push"}, {Uses: "git-open-pr", As: "open-pr"}, {Uses: "git-wait-for-pr"},
				}},
				Status: kargoapi.PromotionStatus{Phase: kargoapi.PromotionPhaseRunning, CurrentStep: 5, Steps: []kargoapi.StepExecution{
					{Alias: "clone", Status: kargoapi.StepStatusSucceeded}, {Alias: "step-2", Status: kargoapi.StepStatusSucceeded},
					{Alias: "commit", Status: kargoapi.StepStatusSucceeded}, {Alias: "push", Status: kargoapi.StepStatusSucceeded},
					{Alias: "open-pr", Status: kargoapi.StepStatusSucceeded}, {Alias: "step-6", Status: kargoapi.StepStatusRunning},
				}},
			},
			&kargoapi.Promotion{
				ObjectMeta: metav1.ObjectMeta{Name: "uat.01jd8p7q", Namespace: "kargo-demo", CreationTimestamp: ago(3 * time.Minute)},
				Spec: kargoapi.PromotionSpec{Stage: "uat", Freight: freightB, Steps: []kargoapi.PromotionStep{
					{Uses: "git-clone", As: "clone"}, {Uses: "git-push", As: "push"}, {Uses: "argocd-update"},
				}},
				Status: kargoapi.PromotionStatus{Phase: kargoapi.PromotionPhaseFailed, CurrentStep: 2, Steps: []kargoapi.StepExecution{
					{Alias: "clone", Status: kargoapi.StepStatusSucceeded}, {Alias: "push", Status: kargoapi.StepStatusFailed},
				}},
			},
		},
		promotionWindowType: {
			&kargoapi.PromotionWindow{
				ObjectMeta: metav1.ObjectMeta{Name: "no-weekend-prod", Namespace: "kargo-demo", CreationTimestamp: ago(48 * time.Hour)},
				Spec: kargoapi.PromotionWindowSpec{Kind: kargoapi.PromotionWindowDeny, TimeZone: "Europe/Berlin",
					Spans: []kargoapi.PromotionWindowSpan{{Start: "Fri 16:00", End: "Mon 08:00"}}},
			},
			&kargoapi.PromotionWindow{
				ObjectMeta: metav1.ObjectMeta{Name: "office-hours", Namespace: "kargo-demo", CreationTimestamp: ago(time.Hour)},
				Spec: kargoapi.PromotionWindowSpec{Kind: kargoapi.PromotionWindowAllow,
					Spans: []kargoapi.PromotionWindowSpan{{Start: "09:00", End: "17:00", Days: []string{"Mon", "Tue", "Wed", "Thu", "Fri"}}}},
			},
		},
		promotionPolicyType: {
			&kargoapi.PromotionPolicy{
				ObjectMeta:          metav1.ObjectMeta{Name: "test", Namespace: "kargo-demo", CreationTimestamp: ago(time.Hour)},
				Stage:               "test",
				EnableAutoPromotion: true,
			},
		},
	}
}

// asListed encodes objects and decodes them as the CLI does with a list
// from the API: without apiVersion and kind.
func asListed(t *testing.T, rt *resourceType, objs []client.Object) []object {
	t.Helper()
	var out []object
	for _, o := range objs {
		b, err := json.Marshal(o)
		require.NoError(t, err)
		obj, err := decodeObject(rt, b)
		require.NoError(t, err)
		out = append(out, obj)
	}
	return out
}

// golden compares got with testdata/name.golden, or with -update rewrites
// the file.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./internal/cli -run %s -update to create it", t.Name())
	require.Equal(t, string(want), string(got))
}

func render(t *testing.T, rt *resourceType, objs []object, output string, single bool) []byte {
	t.Helper()
	format, err := parseOutput(output)
	require.NoError(t, err)
	var buf bytes.Buffer
	p := &printer{w: &buf, rt: rt, format: format, now: func() time.Time { return now }}
	require.NoError(t, p.printList(objs, single))
	return buf.Bytes()
}

func TestTables(t *testing.T) {
	fx := fixtures()
	for _, rt := range resourceTypes {
		t.Run(rt.plural(), func(t *testing.T) {
			golden(t, "table_"+rt.plural(), render(t, rt, asListed(t, rt, fx[rt]), "", false))
		})
	}
}

func TestOutputFormats(t *testing.T) {
	fx := fixtures()
	tests := []struct {
		name   string
		rt     *resourceType
		output string
		single bool
	}{
		{name: "freight_json", rt: freightType, output: "json"},
		{name: "freight_yaml", rt: freightType, output: "yaml"},
		{name: "freight_name", rt: freightType, output: "name"},
		{name: "freight_jsonpath", rt: freightType, output: "jsonpath={.metadata.name}{\"\\t\"}{.alias}"},
		{name: "freight_jsonpath_as_json", rt: freightType, output: "jsonpath-as-json={.status}"},
		{name: "freight_single_json", rt: freightType, output: "json", single: true},
		{name: "freight_single_yaml", rt: freightType, output: "yaml", single: true},
		{name: "stages_jsonpath_relaxed", rt: stageType, output: "jsonpath=.status.phase"},
		{name: "stages_jsonpath_missing_key", rt: stageType, output: "jsonpath-as-json={.status.health}"},
		{name: "promotions_name", rt: promotionType, output: "name"},
		{name: "projects_yaml", rt: projectType, output: "yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := asListed(t, tt.rt, fx[tt.rt])
			if tt.single {
				objs = objs[:1]
			}
			golden(t, tt.name, render(t, tt.rt, objs, tt.output, tt.single))
		})
	}
}

// The "Working With Freight" page shows these two outputs; they are written
// out here rather than in a golden file so that -update cannot change them.
func TestFreightOutputsOfTheSeedPage(t *testing.T) {
	f := fixtures()[freightType][0].(*kargoapi.Freight)
	objs := asListed(t, freightType, []client.Object{f})

	require.Equal(t, ""+
		"NAME                                       ALIAS              AGE\n"+
		"f5f87aa23c9e97f43eb83dd63768ee41f5ba3766   mortal-dragonfly   35s\n",
		string(render(t, freightType, objs, "", false)))

	require.Equal(t, `[
    {
        "approvedFor": {
            "prod": {}
        },
        "verifiedIn": {
            "test": {}
        }
    }
]
`, string(render(t, freightType, objs, "jsonpath-as-json={.status}", false)))
}

func TestPrintedObjectsCanBeAppliedAgain(t *testing.T) {
	// Lists come without apiVersion and kind; printing must put them back,
	// or the output could not be applied.
	objs := asListed(t, stageType, fixtures()[stageType])
	out := render(t, stageType, objs, "json", false)
	var list struct {
		Items []metav1.TypeMeta `json:"items"`
	}
	require.NoError(t, json.Unmarshal(out, &list))
	require.Len(t, list.Items, 2)
	for _, tm := range list.Items {
		require.Equal(t, metav1.TypeMeta{APIVersion: "kargo.akuity.io/v1alpha1", Kind: "Stage"}, tm)
	}
}

func TestUnknownFieldsArePrinted(t *testing.T) {
	obj, err := decodeObject(stageType, []byte(`{"metadata":{"name":"a"},"spec":{"futureField":12345678901}}`))
	require.NoError(t, err)
	out := render(t, stageType, []object{obj}, "jsonpath={.spec.futureField}", false)
	require.Equal(t, "12345678901\n", string(out))
}

func TestWatchAddsRowsUnderTheHeader(t *testing.T) {
	objs := asListed(t, promotionType, fixtures()[promotionType])
	var buf bytes.Buffer
	p := &printer{w: &buf, rt: promotionType, format: outputFormat{}, now: func() time.Time { return now }}
	require.NoError(t, p.printList(objs[:1], false))
	require.NoError(t, p.print(objs[1:2]))
	require.Equal(t, ""+
		"NAME            STAGE   FREIGHT                                    PHASE       STEP   AGE\n"+
		"test.01jd8p3k   test    f5f87aa23c9e97f43eb83dd63768ee41f5ba3766   Succeeded          5m\n"+
		"prod.01jd8p9z   prod    0c6de4a53b2e7d8f9a1b2c3d4e5f60718293a4b5                      10s\n", buf.String())
}

func TestParseOutput(t *testing.T) {
	tests := []struct {
		in, name, err string
	}{
		{in: "", name: ""},
		{in: "json", name: "json"},
		{in: "yaml", name: "yaml"},
		{in: "name", name: "name"},
		{in: "jsonpath={.status}", name: "jsonpath"},
		{in: "jsonpath-as-json=.status", name: "jsonpath-as-json"},
		{in: "wide", err: `unknown output format "wide"`},
		{in: "json=x", err: "-o json takes no expression"},
		{in: "jsonpath=", err: "needs an expression"},
		{in: "jsonpath={.status", err: "parse -o jsonpath expression"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, err := parseOutput(tt.in)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				require.ErrorAs(t, err, new(usageError))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.name, f.name)
		})
	}
}

// A Stage that requests several origins shows origin=alias for each, with -
// for one it holds nothing of yet; Freight from several Warehouses is
// listed with its origin.
func TestTablesWithSeveralOrigins(t *testing.T) {
	origin := func(name string) *kargoapi.FreightOrigin {
		return &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: name}
	}
	request := func(name string) kargoapi.FreightRequest {
		return kargoapi.FreightRequest{Origin: *origin(name), Sources: kargoapi.FreightSources{Direct: true}}
	}
	st := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", CreationTimestamp: ago(time.Hour)},
		Spec:       kargoapi.StageSpec{RequestedFreight: []kargoapi.FreightRequest{request("api"), request("web"), request("config")}},
		Status: kargoapi.StageStatus{
			Phase: kargoapi.StagePhaseSteady,
			CurrentFreightByOrigin: []kargoapi.SimpleFreight{
				{ID: "1111111111111111111111111111111111111111", Alias: "brave-eagle", Origin: origin("api")},
				{ID: "2222222222222222222222222222222222222222", Alias: "calm-fox", Origin: origin("web")},
			},
		},
	}
	require.Equal(t, ""+
		"NAME   CURRENT FREIGHT                         HEALTH    PHASE    AGE\n"+
		"test   api=brave-eagle,web=calm-fox,config=-   Unknown   Steady   60m\n",
		string(render(t, stageType, asListed(t, stageType, []client.Object{st}), "", false)))

	fr := func(name, alias, from string) client.Object {
		return &kargoapi.Freight{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: ago(time.Minute)}, Alias: alias, Origin: origin(from)}
	}
	require.Equal(t, ""+
		"NAME                                       ALIAS         ORIGIN   AGE\n"+
		"1111111111111111111111111111111111111111   brave-eagle   api      60s\n"+
		"2222222222222222222222222222222222222222   calm-fox      web      60s\n",
		string(render(t, freightType, asListed(t, freightType, []client.Object{
			fr("1111111111111111111111111111111111111111", "brave-eagle", "api"),
			fr("2222222222222222222222222222222222222222", "calm-fox", "web"),
		}), "", false)))
}

// A Stage's columns are explained where a user looks: the help of kargo
// get stages says what Unknown health and the NotApplicable phase mean.
func TestStageColumnsAreExplained(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := execute(t.Context(), []string{"get", "stages", "--help"}, strings.NewReader(""), &stdout, &stderr, defaultGlobals())
	require.Equal(t, ExitOK, code, stderr.String())
	require.Contains(t, stdout.String(), "Unknown when nothing\n                   reports one (no Freight yet, or no Application to update)")
	require.Contains(t, stdout.String(), "NotApplicable: no Freight yet")
}
