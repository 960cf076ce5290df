package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of every type in this package.
var GroupVersion = schema.GroupVersion{Group: "kargo.akuity.io", Version: "v1alpha1"}

// SchemeBuilder collects the functions that register this package's types.
var SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

// AddToScheme registers this package's types with a scheme.
var AddToScheme = SchemeBuilder.AddToScheme

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&Project{}, &ProjectList{},
		&Warehouse{}, &WarehouseList{},
		&Freight{}, &FreightList{},
		&Stage{}, &StageList{},
		&Promotion{}, &PromotionList{},
		&PromotionPolicy{}, &PromotionPolicyList{},
		&PromotionTask{}, &PromotionTaskList{},
		&ClusterPromotionTask{}, &ClusterPromotionTaskList{},
		&AuditRecord{}, &AuditRecordList{},
		&NotificationSubscription{}, &NotificationSubscriptionList{},
		&PromotionWindow{}, &PromotionWindowList{},
		&ApprovalPolicy{}, &ApprovalPolicyList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
