package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Stage is one instance of an application named for its purpose, such as
// test, uat or prod. It says where its Freight comes from (subscriptions)
// and how Freight is moved into it (promotion mechanisms).
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=kargo
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Current Freight",type=string,JSONPath=`.status.currentFreight.alias`
// +kubebuilder:printcolumn:name="Health",type=string,JSONPath=`.status.health.status`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Held By",type=string,JSONPath=`.status.hold.by`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Stage struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says where the Stage's Freight comes from and how it is promoted.
	// A Stage without subscriptions receives no Freight until it has some.
	//
	// +optional
	Spec StageSpec `json:"spec,omitempty"`
	// Status is the observed state of the Stage.
	//
	// +optional
	Status StageStatus `json:"status,omitempty"`
}

// StageSpec says where a Stage's Freight comes from and how it is promoted.
//
// +kubebuilder:validation:XValidation:rule="!has(self.promotionMechanisms) || !has(self.promotionTemplate)",message="a Stage promotes with promotionMechanisms or with promotionTemplate steps, not both: write the mechanisms as steps (git-clone, kustomize-set-image, git-commit, git-push, argocd-update)"
// +kubebuilder:validation:XValidation:rule="!has(self.subscriptions) || size(self.?requestedFreight.orValue([])) == 0",message="a Stage names where its Freight comes from with subscriptions or with requestedFreight, not both"
// +kubebuilder:validation:XValidation:rule="!has(self.subscriptions) || !has(self.subscriptions.repos) || !has(self.subscriptions.repos.git) || !has(self.promotionMechanisms) || !has(self.promotionMechanisms.gitRepoUpdates) || self.promotionMechanisms.gitRepoUpdates.all(u, self.subscriptions.repos.git.all(g, g.repoURL != u.repoURL || !has(g.branch) || g.branch != u.writeBranch))",message="a gitRepoUpdates writeBranch may not be the branch the Stage subscribes to in the same repository: the Stage would promote its own commits in a loop; write to a Stage-specific branch such as stages/test"
type StageSpec struct {
	// Subscriptions say where the Stage's Freight comes from, as one
	// Freight at a time from one source: a Warehouse, its own repositories
	// or upstream Stages. Use requestedFreight instead for a Stage that
	// holds Freight from several Warehouses.
	//
	// +optional
	Subscriptions *Subscriptions `json:"subscriptions,omitempty"`
	// RequestedFreight lists the origins whose Freight the Stage holds, one
	// Freight of each at a time, and where each may come from: directly
	// from its Warehouse, or through upstream Stages. A Promotion moves one
	// Freight and leaves the Stage's Freight of the other origins as they
	// are. It replaces subscriptions (a Stage has one or the other).
	//
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(r, self.exists_one(o, o.origin.kind == r.origin.kind && o.origin.name == r.origin.name))",message="each origin may be requested once: a Stage holds one Freight per origin"
	// +optional
	RequestedFreight []FreightRequest `json:"requestedFreight,omitempty"`
	// PromotionMechanisms say how Freight is moved into the Stage. Git
	// updates are applied first, then Argo CD updates.
	//
	// +optional
	PromotionMechanisms *PromotionMechanisms `json:"promotionMechanisms,omitempty"`
	// PromotionTemplate is the Stage's promotion process as steps, the
	// general form of promotionMechanisms (a Stage sets one or the other).
	//
	// +optional
	PromotionTemplate *PromotionTemplate `json:"promotionTemplate,omitempty"`
	// Vars are variables for the expressions of the Stage's promotion
	// process, read as vars.NAME.
	//
	// +optional
	// +kubebuilder:validation:MaxItems=50
	Vars []ExpressionVariable `json:"vars,omitempty"`
	// Verification is run after each promotion, once the Stage is healthy;
	// Freight is verified in the Stage only when every check passes.
	//
	// +optional
	Verification *Verification `json:"verification,omitempty"`
	// Approval, when set, requires approvals of a Freight for the Stage
	// before it is promoted here (see ApprovalRequirement); a Promotion
	// waits until they are given. Changing it needs the approve verb on
	// the Stage besides promote.
	//
	// +optional
	Approval *ApprovalRequirement `json:"approval,omitempty"`
	// QueuedAutoPromotions is RunAll (the default: every auto-promotion
	// runs, in order) or ReplaceWithNewest (an auto-promotion that has not
	// started is aborted when a newer one of the same origin is queued).
	//
	// +optional
	QueuedAutoPromotions QueuedAutoPromotions `json:"queuedAutoPromotions,omitempty"`
}

// Subscriptions say where a Stage's Freight comes from: its own repository
// subscriptions, a Warehouse, or upstream Stages. Exactly one is set.
//
// +kubebuilder:validation:XValidation:rule="(has(self.repos) ? 1 : 0) + (has(self.warehouse) ? 1 : 0) + (size(self.?upstreamStages.orValue([])) > 0 ? 1 : 0) == 1",message="subscriptions must name exactly one of repos, warehouse or upstreamStages"
type Subscriptions struct {
	// Repos are repositories the Stage watches itself.
	//
	// +optional
	Repos *RepoSubscriptions `json:"repos,omitempty"`
	// Warehouse is the name of a Warehouse, in the same project, whose
	// Freight the Stage may receive.
	//
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')`,message="warehouse must be the name of a Warehouse of the project: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
	// +optional
	Warehouse string `json:"warehouse,omitempty"`
	// UpstreamStages are Stages whose verified Freight this Stage may
	// receive.
	//
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	// +optional
	UpstreamStages []StageSubscription `json:"upstreamStages,omitempty"`
}

// StageSubscription names an upstream Stage.
type StageSubscription struct {
	// Name is the upstream Stage's name, in the same project.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')`,message="name must be the name of a Stage of the project: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
	Name string `json:"name"`
	// RequiredSoakTime is how long Freight must have been verified in the
	// upstream Stage before it becomes available here.
	//
	// +optional
	RequiredSoakTime *metav1.Duration `json:"requiredSoakTime,omitempty"`
}

// FreightRequest is one origin whose Freight a Stage holds, and where that
// Freight may come from.
type FreightRequest struct {
	// Origin is the Warehouse, in the Stage's project, whose Freight is
	// requested.
	//
	// +kubebuilder:validation:XValidation:rule="self.kind == 'Warehouse'",message="only Warehouses are requested as origins"
	Origin FreightOrigin `json:"origin"`
	// Sources say where the origin's Freight may come from.
	Sources FreightSources `json:"sources"`
}

// AvailabilityStrategy says in how many of its upstream Stages Freight must
// be verified to become available downstream.
//
// +kubebuilder:validation:Enum=OneOf;All
type AvailabilityStrategy string

const (
	// AvailabilityStrategyOneOf makes Freight available once it is
	// verified (and has soaked) in any one of the upstream Stages. It is
	// the default.
	AvailabilityStrategyOneOf AvailabilityStrategy = "OneOf"
	// AvailabilityStrategyAll makes Freight available only once it is
	// verified (and has soaked) in every upstream Stage.
	AvailabilityStrategyAll AvailabilityStrategy = "All"
)

// FreightSources say where a requested origin's Freight may come from.
//
// +kubebuilder:validation:XValidation:rule="(has(self.direct) && self.direct) || size(self.?stages.orValue([])) > 0",message="sources need direct: true or at least one upstream Stage in stages"
type FreightSources struct {
	// Direct makes every Freight the origin produces available to the
	// Stage as soon as it exists.
	//
	// +optional
	Direct bool `json:"direct,omitempty"`
	// Stages are upstream Stages, in the same project, whose verified
	// Freight of the origin becomes available to the Stage.
	//
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	// +listType=set
	// +optional
	Stages []string `json:"stages,omitempty"`
	// RequiredSoakTime is how long Freight must have been verified in an
	// upstream Stage before it becomes available through it.
	//
	// +optional
	RequiredSoakTime *metav1.Duration `json:"requiredSoakTime,omitempty"`
	// AvailabilityStrategy is OneOf (the default: verified in any one of
	// stages) or All (verified in every one of them).
	//
	// +optional
	AvailabilityStrategy AvailabilityStrategy `json:"availabilityStrategy,omitempty"`
}

// PromotionMechanisms say how Freight is moved into a Stage.
type PromotionMechanisms struct {
	// GitRepoUpdates commit changes to GitOps repositories.
	//
	// +kubebuilder:validation:MaxItems=16
	// +optional
	GitRepoUpdates []GitRepoUpdate `json:"gitRepoUpdates,omitempty"`
	// ArgoCDAppUpdates change Argo CD Applications and make them refresh and
	// sync.
	//
	// +kubebuilder:validation:MaxItems=16
	// +optional
	ArgoCDAppUpdates []ArgoCDAppUpdate `json:"argoCDAppUpdates,omitempty"`
}

// GitRepoUpdate commits the changes a promotion needs to one Git repository.
//
// +kubebuilder:validation:XValidation:rule="has(self.kustomize) || has(self.helm) || has(self.readBranch)",message="a gitRepoUpdate needs kustomize or helm changes, or a readBranch whose content is copied to writeBranch"
type GitRepoUpdate struct {
	// RepoURL is the GitOps repository.
	RepoURL GitRepoURL `json:"repoURL"`
	// ReadBranch is the branch whose content the changes are applied to.
	// Empty means the commit of this repository in the Freight, if any, or
	// else the repository's default branch.
	//
	// +optional
	ReadBranch BranchName `json:"readBranch,omitempty"`
	// WriteBranch is the branch the commit is pushed to. It is created when
	// missing.
	WriteBranch BranchName `json:"writeBranch"`
	// InsecureSkipTLSVerify disables verification of the server's TLS
	// certificate.
	//
	// +optional
	InsecureSkipTLSVerify bool `json:"insecureSkipTLSVerify,omitempty"`
	// Kustomize sets images in kustomization files, as `kustomize edit set
	// image` does.
	//
	// +optional
	Kustomize *KustomizePromotionMechanism `json:"kustomize,omitempty"`
	// Helm sets image values in values files and chart versions in Chart.yaml
	// files.
	//
	// +optional
	Helm *HelmPromotionMechanism `json:"helm,omitempty"`
}

// KustomizePromotionMechanism sets images in kustomization files.
type KustomizePromotionMechanism struct {
	// Images lists the images to set and where.
	//
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	Images []KustomizeImageUpdate `json:"images"`
}

// KustomizeImageUpdate sets one image in the kustomization file of one
// directory.
type KustomizeImageUpdate struct {
	// Image is the image repository, as it appears in the Freight.
	Image ImageRepoURL `json:"image"`
	// Path is the directory holding the kustomization file.
	Path RepoPath `json:"path"`
	// UseDigest pins the image by digest instead of tag.
	//
	// +optional
	UseDigest bool `json:"useDigest,omitempty"`
}

// HelmPromotionMechanism sets image values and chart dependency versions.
//
// +kubebuilder:validation:XValidation:rule="size(self.?images.orValue([])) + size(self.?charts.orValue([])) > 0",message="helm needs at least one entry in images or charts"
type HelmPromotionMechanism struct {
	// Images lists values-file keys to set from images in the Freight.
	//
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Images []HelmImageUpdate `json:"images,omitempty"`
	// Charts lists chart dependencies whose versions are set from charts in
	// the Freight.
	//
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Charts []HelmChartDependencyUpdate `json:"charts,omitempty"`
}

// ImageUpdateValue says what part of an image is written.
//
// +kubebuilder:validation:Enum=Image;Tag;ImageAndTag;Digest;ImageAndDigest
type ImageUpdateValue string

const (
	// ImageUpdateValueImage writes the repository alone.
	ImageUpdateValueImage ImageUpdateValue = "Image"
	// ImageUpdateValueTag writes the tag alone.
	ImageUpdateValueTag ImageUpdateValue = "Tag"
	// ImageUpdateValueImageAndTag writes repository:tag.
	ImageUpdateValueImageAndTag ImageUpdateValue = "ImageAndTag"
	// ImageUpdateValueDigest writes the digest alone.
	ImageUpdateValueDigest ImageUpdateValue = "Digest"
	// ImageUpdateValueImageAndDigest writes repository@digest.
	ImageUpdateValueImageAndDigest ImageUpdateValue = "ImageAndDigest"
)

// HelmImageUpdate sets one key of a Helm values file from an image.
type HelmImageUpdate struct {
	// Image is the image repository, as it appears in the Freight.
	Image ImageRepoURL `json:"image"`
	// ValuesFilePath is the values file, relative to the repository root.
	ValuesFilePath RepoPath `json:"valuesFilePath"`
	// Key is the dotted path of the value to set, such as image.tag.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Key string `json:"key"`
	// Value says what is written: Image, Tag, ImageAndTag, Digest or
	// ImageAndDigest.
	Value ImageUpdateValue `json:"value"`
}

// HelmChartDependencyUpdate sets the version of one dependency in an
// umbrella chart's Chart.yaml.
type HelmChartDependencyUpdate struct {
	// Repository is the dependency's repository, as in Chart.yaml and in the
	// Freight.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Repository string `json:"repository"`
	// Name is the dependency's chart name.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// ChartPath is the directory holding Chart.yaml.
	ChartPath RepoPath `json:"chartPath"`
}

// ArgoCDAppUpdate changes one Argo CD Application and makes it refresh and
// sync.
type ArgoCDAppUpdate struct {
	// AppName is the Application's name.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	AppName string `json:"appName"`
	// AppNamespace is the Application's namespace. Empty means the namespace
	// Argo CD is configured to use (argocd by default).
	//
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')`,message="appNamespace must be a namespace's name, such as argocd: lowercase letters, digits and '-', starting and ending with a letter or digit"
	// +optional
	AppNamespace string `json:"appNamespace,omitempty"`
	// SourceUpdates change the Application's sources.
	//
	// +kubebuilder:validation:MaxItems=8
	// +optional
	SourceUpdates []ArgoCDSourceUpdate `json:"sourceUpdates,omitempty"`
}

// ArgoCDSourceUpdate changes the Application source whose repoURL (and chart,
// for chart sources) matches.
type ArgoCDSourceUpdate struct {
	// RepoURL selects the source to change.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule=`!self.matches('^(?i)[a-z][a-z0-9+.-]*://[^/?#]*:[^/?#]*@') && !self.matches('^(?i)(https?|oci)://[^/?#]*@')`,message="repoURL must not hold credentials (user:password@ or a token before @): anyone who may read the Stage would see them; Argo CD keeps repository credentials in its own Secrets"
	RepoURL string `json:"repoURL"`
	// Chart selects a chart source within a Helm repository.
	//
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Chart string `json:"chart,omitempty"`
	// UpdateTargetRevision points the source's targetRevision at the promoted
	// commit or chart version.
	//
	// +optional
	UpdateTargetRevision bool `json:"updateTargetRevision,omitempty"`
	// Kustomize sets image overrides in the source's kustomize section.
	//
	// +optional
	Kustomize *ArgoCDKustomize `json:"kustomize,omitempty"`
	// Helm sets parameters in the source's helm section.
	//
	// +optional
	Helm *ArgoCDHelm `json:"helm,omitempty"`
}

// ArgoCDKustomize sets image overrides in an Application source.
type ArgoCDKustomize struct {
	// Images lists the images to override.
	//
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Images []ArgoCDKustomizeImageUpdate `json:"images"`
}

// ArgoCDKustomizeImageUpdate overrides one image in an Application source.
type ArgoCDKustomizeImageUpdate struct {
	// Image is the image repository, as it appears in the Freight.
	Image ImageRepoURL `json:"image"`
	// UseDigest pins the image by digest instead of tag.
	//
	// +optional
	UseDigest bool `json:"useDigest,omitempty"`
}

// ArgoCDHelm sets Helm parameters in an Application source.
type ArgoCDHelm struct {
	// Images lists the parameters to set from images.
	//
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Images []ArgoCDHelmImageUpdate `json:"images"`
}

// ArgoCDHelmImageUpdate sets one Helm parameter from an image.
type ArgoCDHelmImageUpdate struct {
	// Image is the image repository, as it appears in the Freight.
	Image ImageRepoURL `json:"image"`
	// Key is the parameter's name, such as image.tag.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Key string `json:"key"`
	// Value says what is written: Image, Tag, ImageAndTag, Digest or
	// ImageAndDigest.
	Value ImageUpdateValue `json:"value"`
}

// StagePhase is what a Stage is doing.
//
// +kubebuilder:validation:Enum=NotApplicable;Steady;Promoting;Verifying;Failed
type StagePhase string

const (
	// StagePhaseNotApplicable means the Stage has no Freight yet.
	StagePhaseNotApplicable StagePhase = "NotApplicable"
	// StagePhaseSteady means the Stage holds its current Freight and is not
	// changing.
	StagePhaseSteady StagePhase = "Steady"
	// StagePhasePromoting means a Promotion into the Stage is running.
	StagePhasePromoting StagePhase = "Promoting"
	// StagePhaseVerifying means the current Freight is being verified.
	StagePhaseVerifying StagePhase = "Verifying"
	// StagePhaseFailed means the last promotion or verification failed.
	StagePhaseFailed StagePhase = "Failed"
)

// HealthState is the aggregated health of the Applications a Stage touches.
//
// +kubebuilder:validation:Enum=Healthy;Unhealthy;Progressing;Unknown
type HealthState string

const (
	// HealthStateHealthy means every Application is synced to the promoted
	// revision and healthy.
	HealthStateHealthy HealthState = "Healthy"
	// HealthStateUnhealthy means at least one Application is unhealthy.
	HealthStateUnhealthy HealthState = "Unhealthy"
	// HealthStateProgressing means a sync is running.
	HealthStateProgressing HealthState = "Progressing"
	// HealthStateUnknown means health could not be determined, for example
	// because an Application is missing.
	HealthStateUnknown HealthState = "Unknown"
)

// Health is the aggregated health of a Stage.
type Health struct {
	// Status is Healthy, Unhealthy, Progressing or Unknown.
	Status HealthState `json:"status"`
	// Issues explain a status other than Healthy.
	//
	// +optional
	Issues []string `json:"issues,omitempty"`
	// Applications is each Argo CD Application the Stage updates, as Argo
	// CD reports it, in the order the Stage names them. Only the Stage's
	// own status.health carries it; the copies in its Freight references
	// keep the summary.
	//
	// +optional
	Applications []ApplicationHealth `json:"applications,omitempty"`
}

// ApplicationHealth is what kargo read of one Argo CD Application. An
// Application that does not let the Stage change it (the
// kargo.akuity.io/authorized-stage annotation) is Unknown, and nothing Argo
// CD reports of it is copied.
type ApplicationHealth struct {
	// Namespace of the Application.
	Namespace string `json:"namespace"`
	// Name of the Application.
	Name string `json:"name"`
	// Status is kargo's reading of it: Healthy, Unhealthy, Progressing or
	// Unknown.
	Status HealthState `json:"status"`
	// Message says why Status is not Healthy.
	//
	// +optional
	Message string `json:"message,omitempty"`
	// HealthStatus is Argo CD's own health of it (Healthy, Progressing,
	// Degraded, Suspended, Missing, Unknown).
	//
	// +optional
	HealthStatus string `json:"healthStatus,omitempty"`
	// SyncStatus is Argo CD's sync status of it (Synced, OutOfSync).
	//
	// +optional
	SyncStatus string `json:"syncStatus,omitempty"`
	// Revisions are the revisions it is synced to, one per source.
	//
	// +optional
	Revisions []string `json:"revisions,omitempty"`
}

// StageStatus is the observed state of a Stage.
//
// Three writers share it, each owning its fields (every write is a merge
// patch of the fields it changed; claiming the Stage for a Promotion and the
// Stage controller's writes also carry the resourceVersion, so a conflict is
// retried rather than lost):
//   - the Promotion controller (internal/controller/promotion): currentFreight,
//     currentFreightByOrigin, history (new entries), currentPromotion while a Promotion runs,
//     lastPromotion, and phase Promoting, then Steady or Failed;
//   - the Stage controller (internal/controller/stage): availableFreight,
//     conditions Ready/Reconciling/Stalled, observedGeneration,
//     lastHandledRefresh, aliases in history, phase NotApplicable, and
//     currentPromotion when it releases one whose Promotion was deleted;
//   - kargo's API server: hold (kargo hold stage / kargo release stage);
//   - verification, run by the Stage controller (internal/verification):
//     health, the Healthy and Verified conditions, verification,
//     verificationHistory, lastHandledReverify, lastHandledAbort, and phase
//     Verifying, then Steady or Failed when verification ends;
//   - a Promotion's set-metadata step: the keys it sets in metadata.
type StageStatus struct {
	// Phase is what the Stage is doing.
	//
	// +optional
	Phase StagePhase `json:"phase,omitempty"`
	// AvailableFreight is the stack of Freight the Stage may receive, newest
	// first: the newest ten of each requested origin (ten in all for a
	// Stage with subscriptions). Older Freight may be available too; a
	// promotion's check looks at all of them.
	//
	// +optional
	AvailableFreight []SimpleFreight `json:"availableFreight,omitempty"`
	// CurrentFreight is the Freight most recently promoted into the
	// Stage. A Stage that requests several origins holds one Freight of
	// each: see currentFreightByOrigin.
	//
	// +optional
	CurrentFreight *SimpleFreight `json:"currentFreight,omitempty"`
	// CurrentFreightByOrigin is the Freight the Stage holds now, one per
	// origin, ordered by origin. A Stage with subscriptions holds one
	// Freight at a time, whatever its origin, so it has one entry.
	//
	// +optional
	CurrentFreightByOrigin []SimpleFreight `json:"currentFreightByOrigin,omitempty"`
	// History lists the Freight promoted into the Stage, newest first, one
	// entry per Promotion (each with its origin). It keeps up to the
	// controller's history limit of entries per origin.
	//
	// +optional
	History []SimpleFreight `json:"history,omitempty"`
	// Health is the aggregated health of the Stage's Applications.
	//
	// +optional
	Health *Health `json:"health,omitempty"`
	// CurrentPromotion is the Promotion running now, if any.
	//
	// +optional
	CurrentPromotion *PromotionReference `json:"currentPromotion,omitempty"`
	// LastPromotion is the most recent Promotion to end.
	//
	// +optional
	LastPromotion *PromotionReference `json:"lastPromotion,omitempty"`
	// Conditions are the Stage's Ready, Reconciling, Stalled and Healthy
	// conditions.
	//
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the generation the controller last acted on.
	//
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// LastHandledRefresh is the value of the kargo.akuity.io/refresh
	// annotation the controller last acted on.
	//
	// +optional
	LastHandledRefresh string `json:"lastHandledRefresh,omitempty"`
	// Verification is the verification of the current Freight: running, or
	// the last one to end.
	//
	// +optional
	Verification *VerificationInfo `json:"verification,omitempty"`
	// VerificationHistory lists earlier verifications, newest first
	// (bounded).
	//
	// +optional
	VerificationHistory []VerificationInfo `json:"verificationHistory,omitempty"`
	// Metadata holds the key/value pairs promotions' set-metadata steps
	// wrote about the Stage (at most 64 KiB). kargo's own decisions never
	// read it; step expressions may, with stageMetadata(name).
	//
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Metadata *StepConfig `json:"metadata,omitempty"`
	// LastHandledReverify is the value of the kargo.akuity.io/reverify
	// annotation the controller last acted on.
	//
	// +optional
	LastHandledReverify string `json:"lastHandledReverify,omitempty"`
	// LastHandledAbort is the value of the
	// kargo.akuity.io/abort-verification annotation the controller last
	// acted on.
	//
	// +optional
	LastHandledAbort string `json:"lastHandledAbort,omitempty"`
	// Hold, while set, keeps every Promotion into the Stage that has not
	// started from starting (they wait, in order, until it is released).
	// Only kargo's API server writes it, for a caller with the hold (or, to
	// lift it, release) verb on the Stage; no controller touches it.
	//
	// +optional
	Hold *Hold `json:"hold,omitempty"`
}

// SimpleFreight is a Freight as a Stage records it in its status.
type SimpleFreight struct {
	// ID is the Freight's name, its fingerprint.
	ID string `json:"id"`
	// Alias is the Freight's human-friendly alias.
	//
	// +optional
	Alias string `json:"alias,omitempty"`
	// Origin is the Warehouse (or repository-subscribed Stage) that
	// produced the Freight.
	//
	// +optional
	Origin *FreightOrigin `json:"origin,omitempty"`
	// FirstSeen is when the Freight was first discovered.
	//
	// +optional
	FirstSeen *metav1.Time `json:"firstSeen,omitempty"`
	// Commits are the Git commits the Freight references.
	//
	// +optional
	Commits []GitCommit `json:"commits,omitempty"`
	// Images are the container images the Freight references.
	//
	// +optional
	Images []Image `json:"images,omitempty"`
	// Charts are the Helm charts the Freight references.
	//
	// +optional
	Charts []Chart `json:"charts,omitempty"`
	// Health is the Stage's health while it held this Freight.
	//
	// +optional
	Health *Health `json:"health,omitempty"`
}

// PromotionReference names a Promotion and the Freight it moves.
type PromotionReference struct {
	// Name is the Promotion's name.
	Name string `json:"name"`
	// UID is the Promotion's UID, which its commits carry in their
	// Kargo-Promotion trailer: should the Promotion be deleted while it
	// runs, the controller looks for them to learn what it did.
	//
	// +optional
	UID types.UID `json:"uid,omitempty"`
	// Freight is the Freight the Promotion moves.
	//
	// +optional
	Freight *SimpleFreight `json:"freight,omitempty"`
	// Phase is the Promotion's phase when it was recorded.
	//
	// +optional
	Phase PromotionPhase `json:"phase,omitempty"`
}

// StageList is a list of Stages.
//
// +kubebuilder:object:root=true
type StageList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Stage `json:"items"`
}
