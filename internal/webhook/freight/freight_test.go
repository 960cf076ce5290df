package freight

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

const controllerUser = "system:serviceaccount:kargo:kargo-controller"

var admitted = time.Date(2026, 11, 21, 12, 0, 0, 123456789, time.UTC)

// handle runs a Mutator that knows the controller's name on the request
// and returns its answer.
func handle(t *testing.T, op admissionv1.Operation, user string, f, old *kargoapi.Freight) admission.Response {
	t.Helper()
	s, err := scheme.New()
	require.NoError(t, err)
	m := &Mutator{Decode: admission.NewDecoder(s), Controller: controllerUser, Now: func() time.Time { return admitted }}
	encode := func(f *kargoapi.Freight) runtime.RawExtension {
		b, err := json.Marshal(f)
		require.NoError(t, err)
		return runtime.RawExtension{Raw: b}
	}
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: op, UserInfo: authenticationv1.UserInfo{Username: user}, Object: encode(f),
	}}
	if old != nil {
		req.OldObject = encode(old)
	}
	resp := m.Handle(context.Background(), req)
	require.True(t, resp.Allowed, "%+v", resp.Result)
	return resp
}

// patched returns the value the response's patch sets at path.
func patched(resp admission.Response, path string) (any, bool) {
	for _, op := range resp.Patches {
		if op.Path == path && op.Operation != "remove" {
			return op.Value, true
		}
	}
	return nil, false
}

func TestRecord(t *testing.T) {
	f := objects.Freight("kargo-demo", objects.FreightName("f5f87aa23c9e97f43eb83dd63768ee41f5ba3766"), objects.Image("nginx", "1.25.0"))
	f.CreatedBy = &kargoapi.FreightCreator{Username: controllerUser, Controller: true}
	f.Annotations = map[string]string{kargoapi.DiscoveredAtAnnotationKey: "2999-01-01T00:00:00Z"}
	Record(f, "carol", false, admitted)
	require.Equal(t, &kargoapi.FreightCreator{Username: "carol"}, f.CreatedBy)
	require.Equal(t, "2026-11-21T12:00:00.123456789Z", f.Annotations[kargoapi.DiscoveredAtAnnotationKey])
}

func TestMutatorRecordsWhoCreatedFreight(t *testing.T) {
	resp := handle(t, admissionv1.Create, controllerUser, objects.Freight("kargo-demo", objects.FreightName("f5f87aa23c9e97f43eb83dd63768ee41f5ba3766"), objects.Image("nginx", "1.25.0")), nil)
	by, ok := patched(resp, "/createdBy")
	require.True(t, ok, "%+v", resp.Patches)
	require.Equal(t, map[string]any{"username": controllerUser, "controller": true}, by)
	require.Empty(t, resp.Warnings)

	// carol claims to be the controller, and that her Freight is from the
	// far future.
	forged := objects.Freight("kargo-demo", objects.FreightName("f5f87aa23c9e97f43eb83dd63768ee41f5ba3766"), objects.Image("nginx", "1.25.0"))
	forged.CreatedBy = &kargoapi.FreightCreator{Username: controllerUser, Controller: true}
	forged.Annotations = map[string]string{kargoapi.DiscoveredAtAnnotationKey: "2999-01-01T00:00:00Z"}
	resp = handle(t, admissionv1.Create, "carol", forged, nil)
	username, _ := patched(resp, "/createdBy/username")
	require.Equal(t, "carol", username)
	_, stillController := patched(resp, "/createdBy/controller")
	require.False(t, stillController)
	removed := false
	for _, op := range resp.Patches {
		removed = removed || (op.Path == "/createdBy/controller" && op.Operation == "remove")
	}
	require.True(t, removed, "%+v", resp.Patches)
	at, _ := patched(resp, "/metadata/annotations/kargo.akuity.io~1discovered-at")
	require.Equal(t, "2026-11-21T12:00:00.123456789Z", at)
	require.Len(t, resp.Warnings, 1)
	require.Contains(t, resp.Warnings[0], `createdBy was set to "carol"`)
}

func TestKeepRecord(t *testing.T) {
	old := objects.Freight("kargo-demo", objects.FreightName("f5f87aa23c9e97f43eb83dd63768ee41f5ba3766"), objects.Image("nginx", "1.25.0"))
	old.CreatedBy = &kargoapi.FreightCreator{Username: "carol"}
	old.Annotations = map[string]string{kargoapi.DiscoveredAtAnnotationKey: "2026-11-21T11:00:00Z"}
	legacy := objects.Freight("kargo-demo", objects.FreightName("f5f87aa23c9e97f43eb83dd63768ee41f5ba3766"), objects.Image("nginx", "1.25.0")) // created before kargo recorded creators

	cases := []struct {
		name     string
		old      *kargoapi.Freight
		change   func(f *kargoapi.Freight)
		warnings int
	}{
		{"an alias change keeps the record, without a warning", old, func(f *kargoapi.Freight) { f.Alias = "new-alias" }, 0},
		{"createdBy cannot be changed", old, func(f *kargoapi.Freight) {
			f.CreatedBy = &kargoapi.FreightCreator{Username: controllerUser, Controller: true}
		}, 1},
		{"createdBy cannot be removed", old, func(f *kargoapi.Freight) { f.CreatedBy = nil }, 1},
		{"discovered-at cannot be moved", old, func(f *kargoapi.Freight) {
			f.Annotations[kargoapi.DiscoveredAtAnnotationKey] = "2999-01-01T00:00:00Z"
		}, 1},
		{"discovered-at cannot be removed", old, func(f *kargoapi.Freight) { f.Annotations = nil }, 1},
		{"Freight without a record cannot be given one", legacy, func(f *kargoapi.Freight) {
			f.CreatedBy = &kargoapi.FreightCreator{Username: controllerUser, Controller: true}
			f.Annotations = map[string]string{kargoapi.DiscoveredAtAnnotationKey: "2999-01-01T00:00:00Z"}
		}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.old.DeepCopy()
			tc.change(f)
			warnings := KeepRecord(f, tc.old)
			require.Equal(t, tc.old.CreatedBy, f.CreatedBy)
			require.Equal(t, tc.old.Annotations, nil2empty(f.Annotations, tc.old.Annotations))
			require.Len(t, warnings, tc.warnings)
			require.Empty(t, recordChanges(f, tc.old), "the validator accepts what KeepRecord leaves")
		})
	}

	// The mutating webhook applies it to every update, and says so.
	f := old.DeepCopy()
	f.CreatedBy = &kargoapi.FreightCreator{Username: controllerUser, Controller: true}
	resp := handle(t, admissionv1.Update, "carol", f, old)
	require.Len(t, resp.Warnings, 1)
	require.Contains(t, resp.Warnings[0], "createdBy was kept as it was")
}

// nil2empty returns got, or nil when got is empty and want is nil: an
// emptied annotation map and no map are the same.
func nil2empty(got, want map[string]string) map[string]string {
	if len(got) == 0 && want == nil {
		return nil
	}
	return got
}
