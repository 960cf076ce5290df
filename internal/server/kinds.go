package server

import (
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/freight"
)

// kind is one kind of kargo object the API serves.
type kind struct {
	// segment names the kind in URLs: /projects/{project}/{segment}.
	segment string
	// resource is the Kubernetes resource, for SubjectAccessReviews.
	resource string
	// name is the Kind; lists are "<name>List".
	name       string
	namespaced bool
	newObject  func() client.Object
	newList    func() client.ObjectList
	// order returns the sort key of an object; lists are newest first by
	// it, then by name.
	order func(client.Object) sortKey
}

func (k *kind) gvk() schema.GroupVersionKind {
	return kargoapi.GroupVersion.WithKind(k.name)
}

// sortKey orders the objects of a list: descending by primary, then by
// secondary (both Unix nanoseconds, zero for kinds listed by name), then
// ascending by name. It is a total order over the objects of one list,
// which continue tokens rely on.
type sortKey struct {
	primary, secondary int64
	name               string
}

// before says whether a sorts before b.
func (a sortKey) before(b sortKey) bool {
	if a.primary != b.primary {
		return a.primary > b.primary
	}
	if a.secondary != b.secondary {
		return a.secondary > b.secondary
	}
	return a.name < b.name
}

func byName(obj client.Object) sortKey { return sortKey{name: obj.GetName()} }

func newestCreated(obj client.Object) sortKey {
	return sortKey{primary: obj.GetCreationTimestamp().UnixNano(), name: obj.GetName()}
}

// newestDiscovered orders Freight by when it was discovered, which has
// nanoseconds where creationTimestamp has whole seconds.
func newestDiscovered(obj client.Object) sortKey {
	f, ok := obj.(*kargoapi.Freight)
	if !ok {
		return newestCreated(obj)
	}
	return sortKey{
		primary:   unixNano(freight.DiscoveredAt(f)),
		secondary: obj.GetCreationTimestamp().UnixNano(),
		name:      obj.GetName(),
	}
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

var (
	projectKind = &kind{
		segment: "projects", resource: "projects", name: "Project",
		newObject: func() client.Object { return &kargoapi.Project{} },
		newList:   func() client.ObjectList { return &kargoapi.ProjectList{} },
		order:     byName,
	}
	warehouseKind = &kind{
		segment: "warehouses", resource: "warehouses", name: "Warehouse", namespaced: true,
		newObject: func() client.Object { return &kargoapi.Warehouse{} },
		newList:   func() client.ObjectList { return &kargoapi.WarehouseList{} },
		order:     byName,
	}
	stageKind = &kind{
		segment: "stages", resource: "stages", name: "Stage", namespaced: true,
		newObject: func() client.Object { return &kargoapi.Stage{} },
		newList:   func() client.ObjectList { return &kargoapi.StageList{} },
		order:     byName,
	}
	freightKind = &kind{
		segment: "freight", resource: "freights", name: "Freight", namespaced: true,
		newObject: func() client.Object { return &kargoapi.Freight{} },
		newList:   func() client.ObjectList { return &kargoapi.FreightList{} },
		order:     newestDiscovered,
	}
	promotionKind = &kind{
		segment: "promotions", resource: "promotions", name: "Promotion", namespaced: true,
		newObject: func() client.Object { return &kargoapi.Promotion{} },
		newList:   func() client.ObjectList { return &kargoapi.PromotionList{} },
		order:     newestCreated,
	}
	policyKind = &kind{
		segment: "promotionpolicies", resource: "promotionpolicies", name: "PromotionPolicy", namespaced: true,
		newObject: func() client.Object { return &kargoapi.PromotionPolicy{} },
		newList:   func() client.ObjectList { return &kargoapi.PromotionPolicyList{} },
		order:     byName,
	}
	approvalPolicyKind = &kind{
		segment: "approvalpolicies", resource: "approvalpolicies", name: "ApprovalPolicy", namespaced: true,
		newObject: func() client.Object { return &kargoapi.ApprovalPolicy{} },
		newList:   func() client.ObjectList { return &kargoapi.ApprovalPolicyList{} },
		order:     byName,
	}

	windowKind = &kind{
		segment: "promotionwindows", resource: "promotionwindows", name: "PromotionWindow", namespaced: true,
		newObject: func() client.Object { return &kargoapi.PromotionWindow{} },
		newList:   func() client.ObjectList { return &kargoapi.PromotionWindowList{} },
		order:     byName,
	}

	auditKind = &kind{
		segment: "audit", resource: "auditrecords", name: "AuditRecord", namespaced: true,
		newObject: func() client.Object { return &kargoapi.AuditRecord{} },
		newList:   func() client.ObjectList { return &kargoapi.AuditRecordList{} },
		order:     newestRecorded,
	}

	// allKinds are the kinds the server caches.
	allKinds = []*kind{projectKind, warehouseKind, stageKind, freightKind, promotionKind, policyKind, windowKind, approvalPolicyKind, auditKind}
)

// projectKinds maps the {kind} of /projects/{project}/{kind} to its kind.
var projectKinds = func() map[string]*kind {
	m := map[string]*kind{}
	for _, k := range allKinds {
		if k.namespaced {
			m[k.segment] = k
		}
	}
	return m
}()

// projectKindSegments lists the {kind} values, for messages and the
// OpenAPI document.
func projectKindSegments() []string {
	s := make([]string, 0, len(projectKinds))
	for seg := range projectKinds {
		s = append(s, seg)
	}
	sort.Strings(s)
	return s
}

// isFreightName says whether s has the form of a Freight name (a SHA-1
// fingerprint) rather than of an alias.
func isFreightName(s string) bool {
	if len(s) != 40 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}
