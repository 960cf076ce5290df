package admit_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/webhook/admit"
)

func raw(t *testing.T, obj any) runtime.RawExtension {
	t.Helper()
	b, err := json.Marshal(obj)
	require.NoError(t, err)
	return runtime.RawExtension{Raw: b}
}

func TestDecode(t *testing.T) {
	sch, err := scheme.New()
	require.NoError(t, err)
	d := admission.NewDecoder(sch)
	stage := func(name, branch string) *kargoapi.Stage {
		return &kargoapi.Stage{
			TypeMeta:   metav1.TypeMeta{APIVersion: kargoapi.GroupVersion.String(), Kind: "Stage"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kargo-demo"},
			Spec: kargoapi.StageSpec{PromotionMechanisms: &kargoapi.PromotionMechanisms{
				GitRepoUpdates: []kargoapi.GitRepoUpdate{{RepoURL: "https://git.example.com/a.git", WriteBranch: kargoapi.BranchName(branch)}},
			}},
		}
	}
	newer, older := stage("test", "stages/test"), stage("test", "main")

	t.Run("an update decodes both objects", func(t *testing.T) {
		req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			Operation: admissionv1.Update, Object: raw(t, newer), OldObject: raw(t, older),
		}}
		got, old := &kargoapi.Stage{}, &kargoapi.Stage{}
		changed, refusal := admit.Decode(d, req, "Stage", got, old)
		require.Nil(t, refusal)
		require.True(t, changed)
		require.Equal(t, "stages/test", string(got.Spec.PromotionMechanisms.GitRepoUpdates[0].WriteBranch))
		require.Equal(t, "main", string(old.Spec.PromotionMechanisms.GitRepoUpdates[0].WriteBranch))
	})
	t.Run("a creation leaves the old object alone", func(t *testing.T) {
		req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: admissionv1.Create, Object: raw(t, newer)}}
		got, old := &kargoapi.Stage{}, &kargoapi.Stage{}
		changed, refusal := admit.Decode(d, req, "Stage", got, old)
		require.Nil(t, refusal)
		require.False(t, changed)
		require.Empty(t, old.Name)
		require.Equal(t, "test", got.Name)
	})
	t.Run("an undecodable object is a bad request naming the kind", func(t *testing.T) {
		req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			Operation: admissionv1.Update, Object: raw(t, newer), OldObject: runtime.RawExtension{Raw: []byte(`{"spec": 7}`)},
		}}
		_, refusal := admit.Decode(d, req, "Stage", &kargoapi.Stage{}, &kargoapi.Stage{})
		require.NotNil(t, refusal)
		require.False(t, refusal.Allowed)
		require.EqualValues(t, http.StatusBadRequest, refusal.Result.Code)
		require.Contains(t, refusal.Result.Message, "decode the Stage being changed")
	})
}
