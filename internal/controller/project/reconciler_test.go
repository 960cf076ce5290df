package project

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/scheme"
)

const projectName = "kargo-demo"

// Writes as the harness records them.
const (
	createNamespace    = "create *v1.Namespace"
	patchProjectStatus = "patch status *v1alpha1.Project"
)

// harness runs the Reconciler against a fake API server and records every
// write and event.
type harness struct {
	r      *Reconciler
	c      client.Client
	events *events.FakeRecorder
	// writes lists every write in order, as "<verb> <type>".
	writes []string
	// createErr and statusPatchErr, when set, fail those calls.
	createErr      error
	statusPatchErr error
}

func newHarness(t *testing.T, objs ...client.Object) *harness {
	t.Helper()
	s, err := scheme.New()
	require.NoError(t, err)
	h := &harness{events: events.NewFakeRecorder(10)}
	record := func(verb string, obj any) { h.writes = append(h.writes, fmt.Sprintf("%s %T", verb, obj)) }
	h.c = fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithStatusSubresource(&kargoapi.Project{}).
		WithInterceptorFuncs(interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				record("create", obj)
				if h.createErr != nil {
					return h.createErr
				}
				return c.Create(ctx, obj, opts...)
			},
			Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
				record("update", obj)
				return c.Update(ctx, obj, opts...)
			},
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
				record("patch", obj)
				return c.Patch(ctx, obj, patch, opts...)
			},
			Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
				record("delete", obj)
				return c.Delete(ctx, obj, opts...)
			},
			SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
				record("update "+sub, obj)
				return c.SubResource(sub).Update(ctx, obj, opts...)
			},
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
				record("patch "+sub, obj)
				if h.statusPatchErr != nil {
					return h.statusPatchErr
				}
				return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
			},
		}).Build()
	h.r = &Reconciler{Client: h.c, Recorder: h.events}
	return h
}

func (h *harness) reconcile(t *testing.T) (ctrl.Result, error) {
	t.Helper()
	return h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: projectName}})
}

func (h *harness) project(t *testing.T) *kargoapi.Project {
	t.Helper()
	p := &kargoapi.Project{}
	require.NoError(t, h.c.Get(context.Background(), types.NamespacedName{Name: projectName}, p))
	return p
}

// namespace returns the project's namespace, or nil when there is none.
func (h *harness) namespace(t *testing.T) *corev1.Namespace {
	t.Helper()
	ns := &corev1.Namespace{}
	err := h.c.Get(context.Background(), types.NamespacedName{Name: projectName}, ns)
	if apierrors.IsNotFound(err) {
		return nil
	}
	require.NoError(t, err)
	return ns
}

// nextEvent returns the next recorded event, or "" when there is none.
func (h *harness) nextEvent() string {
	select {
	case e := <-h.events.Events:
		return e
	default:
		return ""
	}
}

func newProject() *kargoapi.Project {
	return &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: projectName, UID: "project-uid", Generation: 2}}
}

func newNS(labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: projectName, Labels: labels}}
}

func terminatingNS() *corev1.Namespace {
	ns := newNS(map[string]string{kargoapi.ProjectLabelKey: kargoapi.LabelTrueValue})
	ns.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	// The fake client, like the API server, keeps an object being deleted
	// only while a finalizer holds it.
	ns.Finalizers = []string{"example.com/hold"}
	return ns
}

var projectLabel = map[string]string{kargoapi.ProjectLabelKey: kargoapi.LabelTrueValue}

const notAProjectMessage = `namespace "kargo-demo" exists and is not a Kargo project; label it kargo.akuity.io/project=true to adopt it into this Project, or delete the Project and choose another name`

func TestReconcile(t *testing.T) {
	cases := []struct {
		name string
		// ns is the namespace that exists before the pass; nil for none.
		ns          *corev1.Namespace
		wantWrites  []string
		wantRequeue time.Duration
		wantPhase   kargoapi.ProjectPhase
		wantReady   metav1.ConditionStatus
		wantReason  string
		wantMessage string
		// wantStalled and wantReconciling are the kstatus conditions that
		// must be present and true; absent otherwise.
		wantStalled     bool
		wantReconciling bool
		wantObserved    int64
		wantEvent       string
		// checkNS asserts on the namespace after the pass.
		checkNS func(t *testing.T, ns *corev1.Namespace)
	}{
		{
			name:        "missing namespace is created, owned by the Project",
			wantWrites:  []string{createNamespace, patchProjectStatus},
			wantPhase:   kargoapi.ProjectPhaseReady,
			wantReady:   metav1.ConditionTrue,
			wantReason:  kargoapi.ReasonNamespaceReady,
			wantMessage: `namespace "kargo-demo" is ready`,
			// The Project's generation, not a constant.
			wantObserved: 2,
			wantEvent:    `Normal NamespaceReady created namespace "kargo-demo"`,
			checkNS: func(t *testing.T, ns *corev1.Namespace) {
				require.NotNil(t, ns)
				require.Equal(t, projectLabel, ns.Labels)
				require.Equal(t, []metav1.OwnerReference{{
					APIVersion:         "kargo.akuity.io/v1alpha1",
					Kind:               "Project",
					Name:               projectName,
					UID:                "project-uid",
					Controller:         new(false),
					BlockOwnerDeletion: new(false),
				}}, ns.OwnerReferences)
			},
		},
		{
			name:         "labelled namespace is adopted as it is",
			ns:           newNS(map[string]string{kargoapi.ProjectLabelKey: kargoapi.LabelTrueValue, "team": "a"}),
			wantWrites:   []string{patchProjectStatus},
			wantPhase:    kargoapi.ProjectPhaseReady,
			wantReady:    metav1.ConditionTrue,
			wantReason:   kargoapi.ReasonNamespaceReady,
			wantMessage:  `namespace "kargo-demo" is ready`,
			wantObserved: 2,
			wantEvent:    `Normal NamespaceReady namespace "kargo-demo" is ready`,
			checkNS: func(t *testing.T, ns *corev1.Namespace) {
				require.Empty(t, ns.OwnerReferences, "an adopted namespace must outlive the Project")
				require.Equal(t, map[string]string{kargoapi.ProjectLabelKey: kargoapi.LabelTrueValue, "team": "a"}, ns.Labels)
			},
		},
		{
			name:         "unlabelled namespace is left alone",
			ns:           newNS(map[string]string{"team": "a"}),
			wantWrites:   []string{patchProjectStatus},
			wantPhase:    kargoapi.ProjectPhaseInitializationFailed,
			wantReady:    metav1.ConditionFalse,
			wantReason:   kargoapi.ReasonNamespaceNotAProject,
			wantMessage:  notAProjectMessage,
			wantStalled:  true,
			wantObserved: 2,
			wantEvent:    "Warning NamespaceNotAProject " + notAProjectMessage,
			checkNS: func(t *testing.T, ns *corev1.Namespace) {
				require.Equal(t, map[string]string{"team": "a"}, ns.Labels)
				require.Empty(t, ns.OwnerReferences)
			},
		},
		{
			name:         "namespace labelled other than true is left alone",
			ns:           newNS(map[string]string{kargoapi.ProjectLabelKey: "false"}),
			wantWrites:   []string{patchProjectStatus},
			wantPhase:    kargoapi.ProjectPhaseInitializationFailed,
			wantReady:    metav1.ConditionFalse,
			wantReason:   kargoapi.ReasonNamespaceNotAProject,
			wantMessage:  notAProjectMessage,
			wantStalled:  true,
			wantObserved: 2,
			wantEvent:    "Warning NamespaceNotAProject " + notAProjectMessage,
			checkNS: func(t *testing.T, ns *corev1.Namespace) {
				require.Equal(t, map[string]string{kargoapi.ProjectLabelKey: "false"}, ns.Labels)
			},
		},
		{
			name:            "terminating namespace is waited for",
			ns:              terminatingNS(),
			wantWrites:      []string{patchProjectStatus},
			wantRequeue:     5 * time.Second,
			wantPhase:       kargoapi.ProjectPhaseInitializing,
			wantReady:       metav1.ConditionFalse,
			wantReason:      kargoapi.ReasonNamespaceTerminating,
			wantMessage:     `namespace "kargo-demo" is being deleted; it will be created again for this Project once it is gone`,
			wantReconciling: true,
			wantObserved:    0,
			wantEvent:       `Warning NamespaceTerminating namespace "kargo-demo" is being deleted; it will be created again for this Project once it is gone`,
			checkNS: func(t *testing.T, ns *corev1.Namespace) {
				require.NotNil(t, ns.DeletionTimestamp)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := []client.Object{newProject()}
			if tc.ns != nil {
				objs = append(objs, tc.ns)
			}
			h := newHarness(t, objs...)
			var nsBefore *corev1.Namespace
			if tc.ns != nil {
				nsBefore = h.namespace(t)
			}

			res, err := h.reconcile(t)
			require.NoError(t, err)
			require.Equal(t, ctrl.Result{RequeueAfter: tc.wantRequeue}, res)
			require.Equal(t, tc.wantWrites, h.writes)

			p := h.project(t)
			require.Equal(t, tc.wantPhase, p.Status.Phase)
			require.Equal(t, tc.wantObserved, p.Status.ObservedGeneration)
			ready := meta.FindStatusCondition(p.Status.Conditions, kargoapi.ConditionReady)
			require.NotNil(t, ready)
			require.Equal(t, tc.wantReady, ready.Status)
			require.Equal(t, tc.wantReason, ready.Reason)
			require.Equal(t, tc.wantMessage, ready.Message)
			require.EqualValues(t, 2, ready.ObservedGeneration)
			require.Equal(t, tc.wantStalled, meta.IsStatusConditionTrue(p.Status.Conditions, kargoapi.ConditionStalled))
			require.Equal(t, tc.wantReconciling, meta.IsStatusConditionTrue(p.Status.Conditions, kargoapi.ConditionReconciling))
			require.Equal(t, tc.wantEvent, h.nextEvent())

			ns := h.namespace(t)
			tc.checkNS(t, ns)
			if nsBefore != nil {
				require.Equal(t, nsBefore.ResourceVersion, ns.ResourceVersion, "an existing namespace is never written")
			}

			// The same state again: an idle Project makes no writes and
			// records no events.
			writes := len(h.writes)
			res, err = h.reconcile(t)
			require.NoError(t, err)
			require.Equal(t, ctrl.Result{RequeueAfter: tc.wantRequeue}, res)
			require.Len(t, h.writes, writes, "second pass wrote: %v", h.writes[writes:])
			require.Empty(t, h.nextEvent())
		})
	}
}

func TestNothingToDo(t *testing.T) {
	deleting := newProject()
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	deleting.Finalizers = []string{"example.com/hold"}
	cases := []struct {
		name string
		objs []client.Object
	}{
		{name: "Project not found"},
		{name: "Project being deleted", objs: []client.Object{deleting}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objs...)
			res, err := h.reconcile(t)
			require.NoError(t, err)
			require.Zero(t, res)
			require.Empty(t, h.writes)
			require.Nil(t, h.namespace(t), "no namespace for a Project that is gone or going")
			require.Empty(t, h.nextEvent())
		})
	}
}

func TestLabellingAForeignNamespaceAdoptsIt(t *testing.T) {
	h := newHarness(t, newProject(), newNS(nil))
	_, err := h.reconcile(t)
	require.NoError(t, err)
	require.Equal(t, kargoapi.ProjectPhaseInitializationFailed, h.project(t).Status.Phase)
	require.Contains(t, h.nextEvent(), "Warning NamespaceNotAProject")

	// What the user is told to do.
	ns := h.namespace(t)
	ns.Labels = projectLabel
	require.NoError(t, h.c.Update(context.Background(), ns))
	ns = h.namespace(t)

	_, err = h.reconcile(t)
	require.NoError(t, err)
	p := h.project(t)
	require.Equal(t, kargoapi.ProjectPhaseReady, p.Status.Phase)
	require.True(t, meta.IsStatusConditionTrue(p.Status.Conditions, kargoapi.ConditionReady))
	require.Nil(t, meta.FindStatusCondition(p.Status.Conditions, kargoapi.ConditionStalled), "Stalled is present only while true")
	require.Equal(t, `Normal NamespaceReady namespace "kargo-demo" is ready`, h.nextEvent())
	require.Equal(t, ns.ResourceVersion, h.namespace(t).ResourceVersion, "adoption writes nothing to the namespace")
}

func TestNamespaceIsRecreatedOnceTerminated(t *testing.T) {
	h := newHarness(t, newProject(), terminatingNS())
	res, err := h.reconcile(t)
	require.NoError(t, err)
	require.Equal(t, 5*time.Second, res.RequeueAfter)
	require.Contains(t, h.nextEvent(), "Warning NamespaceTerminating")

	// The last finalizer goes and the namespace with it.
	ns := h.namespace(t)
	ns.Finalizers = nil
	require.NoError(t, h.c.Update(context.Background(), ns))
	require.Nil(t, h.namespace(t))

	res, err = h.reconcile(t)
	require.NoError(t, err)
	require.Zero(t, res)
	ns = h.namespace(t)
	require.NotNil(t, ns)
	require.Equal(t, projectLabel, ns.Labels)
	p := h.project(t)
	require.Equal(t, kargoapi.ProjectPhaseReady, p.Status.Phase)
	require.Nil(t, meta.FindStatusCondition(p.Status.Conditions, kargoapi.ConditionReconciling), "Reconciling is present only while true")
	require.Equal(t, `Normal NamespaceReady created namespace "kargo-demo"`, h.nextEvent())
}

func TestFailures(t *testing.T) {
	gr := schema.GroupResource{Resource: "namespaces"}
	cases := []struct {
		name           string
		createErr      error
		statusPatchErr error
		wantErr        string
		wantRequeue    time.Duration
		wantWrites     []string
	}{
		{
			name:       "namespace creation fails",
			createErr:  apierrors.NewForbidden(gr, projectName, errors.New("no")),
			wantErr:    "create namespace kargo-demo: ",
			wantWrites: []string{createNamespace},
		},
		{
			// The cache had not seen a namespace that exists.
			name:        "namespace appears meanwhile",
			createErr:   apierrors.NewAlreadyExists(gr, projectName),
			wantRequeue: 5 * time.Second,
			wantWrites:  []string{createNamespace},
		},
		{
			name:           "status patch fails",
			statusPatchErr: apierrors.NewInternalError(errors.New("etcd down")),
			wantErr:        "patch status of Project kargo-demo: ",
			wantWrites:     []string{createNamespace, patchProjectStatus},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, newProject())
			h.createErr, h.statusPatchErr = tc.createErr, tc.statusPatchErr
			res, err := h.reconcile(t)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.wantRequeue, res.RequeueAfter)
			require.Equal(t, tc.wantWrites, h.writes)
			require.Empty(t, h.project(t).Status.Conditions, "no status was written")
			require.Empty(t, h.nextEvent(), "no event for a status that was not written")
		})
	}
}

func TestProjectOfNamespace(t *testing.T) {
	got := projectOfNamespace(context.Background(), newNS(nil))
	require.Equal(t, []ctrl.Request{{NamespacedName: types.NamespacedName{Name: projectName}}}, got)
}

func TestReadyTransition(t *testing.T) {
	ready := func(s metav1.ConditionStatus, reason, msg string) []metav1.Condition {
		return []metav1.Condition{{Type: kargoapi.ConditionReady, Status: s, Reason: reason, Message: msg}}
	}
	cases := []struct {
		name     string
		old, now []metav1.Condition
		want     bool
	}{
		{name: "first condition", now: ready(metav1.ConditionTrue, "A", "m"), want: true},
		{name: "status changes", old: ready(metav1.ConditionFalse, "A", "m"), now: ready(metav1.ConditionTrue, "A", "m"), want: true},
		{name: "reason changes", old: ready(metav1.ConditionFalse, "A", "m"), now: ready(metav1.ConditionFalse, "B", "m"), want: true},
		{name: "message alone changes", old: ready(metav1.ConditionFalse, "A", "m"), now: ready(metav1.ConditionFalse, "A", "n")},
		{name: "no Ready condition", old: ready(metav1.ConditionTrue, "A", "m")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, got := readyTransition(tc.old, tc.now)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestWorksWithoutRecorder(t *testing.T) {
	h := newHarness(t, newProject())
	h.r.Recorder = nil
	_, err := h.reconcile(t)
	require.NoError(t, err)
	require.Equal(t, kargoapi.ProjectPhaseReady, h.project(t).Status.Phase)
}
