package v1alpha1

// RepoSubscriptions lists the repositories a Warehouse (or a Stage that
// subscribes to repositories directly) watches for new artifacts.
//
// +kubebuilder:validation:XValidation:rule="size(self.?git.orValue([])) + size(self.?images.orValue([])) + size(self.?charts.orValue([])) > 0",message="subscribe to at least one git, images or charts repository"
type RepoSubscriptions struct {
	// Git lists Git repositories to watch for new commits or tags.
	//
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Git []GitSubscription `json:"git,omitempty"`
	// Images lists container image repositories to watch for new tags.
	//
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Images []ImageSubscription `json:"images,omitempty"`
	// Charts lists Helm charts to watch for new versions.
	//
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Charts []ChartSubscription `json:"charts,omitempty"`
}

// SemverConstraint is a semantic version range such as "^1.24.0", "~1.2",
// ">=1.0.0 <2.0.0", "1.2 - 1.4" or "^1.0 || ^2.0". The schema accepts a subset
// of what github.com/Masterminds/semver/v3 parses, so that every constraint
// that reaches a controller can be evaluated.
//
// +kubebuilder:validation:MaxLength=256
// +kubebuilder:validation:XValidation:rule="size(self.split('||')) <= 32",message="semverConstraint may join at most 32 ranges with ||"
// +kubebuilder:validation:XValidation:rule=`self.matches('^ *((!=|>=|=>|<=|=<|~>|[=<>~^])? *v?([0-9]{1,18}|[xX*])([.]([0-9]{1,18}|[xX*]))?([.]([0-9]{1,18}|[xX*]))?(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)([.](0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?([+][0-9A-Za-z-]+([.][0-9A-Za-z-]+)*)?|v?([0-9]{1,18}|[xX*])([.]([0-9]{1,18}|[xX*]))?([.]([0-9]{1,18}|[xX*]))?(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)([.](0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?([+][0-9A-Za-z-]+([.][0-9A-Za-z-]+)*)? +- +v?([0-9]{1,18}|[xX*])([.]([0-9]{1,18}|[xX*]))?([.]([0-9]{1,18}|[xX*]))?(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)([.](0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?([+][0-9A-Za-z-]+([.][0-9A-Za-z-]+)*)?) *(( +(!=|>=|=>|<=|=<|~>|[=<>~^])? *v?([0-9]{1,18}|[xX*])([.]([0-9]{1,18}|[xX*]))?([.]([0-9]{1,18}|[xX*]))?(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)([.](0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?([+][0-9A-Za-z-]+([.][0-9A-Za-z-]+)*)?|, *((!=|>=|=>|<=|=<|~>|[=<>~^])? *v?([0-9]{1,18}|[xX*])([.]([0-9]{1,18}|[xX*]))?([.]([0-9]{1,18}|[xX*]))?(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)([.](0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?([+][0-9A-Za-z-]+([.][0-9A-Za-z-]+)*)?|v?([0-9]{1,18}|[xX*])([.]([0-9]{1,18}|[xX*]))?([.]([0-9]{1,18}|[xX*]))?(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)([.](0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?([+][0-9A-Za-z-]+([.][0-9A-Za-z-]+)*)? +- +v?([0-9]{1,18}|[xX*])([.]([0-9]{1,18}|[xX*]))?([.]([0-9]{1,18}|[xX*]))?(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)([.](0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?([+][0-9A-Za-z-]+([.][0-9A-Za-z-]+)*)?)) *)*( *[|][|]( +v?([0-9]{1,18}|[xX*])([.]([0-9]{1,18}|[xX*]))?([.]([0-9]{1,18}|[xX*]))?(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)([.](0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?([+][0-9A-Za-z-]+([.][0-9A-Za-z-]+)*)? +- +v?([0-9]{1,18}|[xX*])([.]([0-9]{1,18}|[xX*]))?([.]([0-9]{1,18}|[xX*]))?(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)([.](0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?([+][0-9A-Za-z-]+([.][0-9A-Za-z-]+)*)?| *(!=|>=|=>|<=|=<|~>|[=<>~^])? *v?([0-9]{1,18}|[xX*])([.]([0-9]{1,18}|[xX*]))?([.]([0-9]{1,18}|[xX*]))?(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)([.](0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?([+][0-9A-Za-z-]+([.][0-9A-Za-z-]+)*)?) *(( +(!=|>=|=>|<=|=<|~>|[=<>~^])? *v?([0-9]{1,18}|[xX*])([.]([0-9]{1,18}|[xX*]))?([.]([0-9]{1,18}|[xX*]))?(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)([.](0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?([+][0-9A-Za-z-]+([.][0-9A-Za-z-]+)*)?|, *((!=|>=|=>|<=|=<|~>|[=<>~^])? *v?([0-9]{1,18}|[xX*])([.]([0-9]{1,18}|[xX*]))?([.]([0-9]{1,18}|[xX*]))?(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)([.](0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?([+][0-9A-Za-z-]+([.][0-9A-Za-z-]+)*)?|v?([0-9]{1,18}|[xX*])([.]([0-9]{1,18}|[xX*]))?([.]([0-9]{1,18}|[xX*]))?(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)([.](0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?([+][0-9A-Za-z-]+([.][0-9A-Za-z-]+)*)? +- +v?([0-9]{1,18}|[xX*])([.]([0-9]{1,18}|[xX*]))?([.]([0-9]{1,18}|[xX*]))?(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)([.](0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?([+][0-9A-Za-z-]+([.][0-9A-Za-z-]+)*)?)) *)*)*$')`,message="semverConstraint must be a semantic version range such as ^1.24.0, ~1.2, >=1.0.0 <2.0.0 or 1.2 - 1.4"
type SemverConstraint string

// RepoURL is the address of a Git repository: https://, http://, ssh://,
// git://, file:// or the scp-like user@host:path form.
//
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=2048
// +kubebuilder:validation:XValidation:rule=`self.matches('^((https?|ssh|git|file)://[^ ]+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^ ]+)$')`,message="repoURL must be a Git URL such as https://github.com/example/repo.git or git@github.com:example/repo.git"
// +kubebuilder:validation:XValidation:rule=`!self.matches('^(?i)https?://[^/?#]*@') && !self.matches('^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@]*:[^/?#@]*@')`,message="repoURL must not hold credentials (user:password@ or a token before @): anyone who may read the object would see them; put them in a git credential Secret of the project (label kargo.akuity.io/cred-type: git) whose repoURL matches"
type GitRepoURL string

// ImageRepoURL is a container image repository without tag or digest, such as
// "nginx" or "ghcr.io/example/app".
//
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=255
// +kubebuilder:validation:XValidation:rule=`self.matches('^([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-]+[a-z0-9]+)*(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$')`,message="repoURL must be an image repository without tag or digest, such as nginx or ghcr.io/example/app"
type ImageRepoURL string

// ChartRepoURL is a Helm chart repository: an HTTP(S) repository that serves
// index.yaml, or an oci:// reference to a chart.
//
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=2048
// +kubebuilder:validation:XValidation:rule=`self.matches('^(https?|oci)://[^ ]+$')`,message="repoURL must start with https://, http:// (a repository serving index.yaml) or oci:// (a chart in an OCI registry)"
// +kubebuilder:validation:XValidation:rule=`!self.matches('^(?i)(https?|oci)://[^/?#]*@')`,message="repoURL must not hold credentials (user:password@ or a token before @): anyone who may read the object would see them; put them in a helm credential Secret of the project (label kargo.akuity.io/cred-type: helm) whose repoURL matches"
type ChartRepoURL string

// BranchName is a Git branch name.
//
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=255
// +kubebuilder:validation:XValidation:rule=`self.matches('^[A-Za-z0-9_]([A-Za-z0-9._/-]*[A-Za-z0-9_])?$') && !self.contains('..') && !self.contains('//')`,message="branch must be a valid Git branch name such as main or stages/test"
type BranchName string

// RepoPath is a path relative to the root of a repository. It may not be
// absolute or climb out of the repository with "..".
//
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=512
// +kubebuilder:validation:XValidation:rule=`!self.startsWith('/') && !self.matches('(^|/)[.][.](/|$)')`,message="path must be relative to the repository root and may not contain '..'"
type RepoPath string

// CommitSelectionStrategy chooses which commit of a Git repository is the
// newest one a subscription offers.
//
// +kubebuilder:validation:Enum=NewestFromBranch;SemVer;Lexical;NewestTag
type CommitSelectionStrategy string

const (
	// CommitSelectionNewestFromBranch selects the head of the branch.
	CommitSelectionNewestFromBranch CommitSelectionStrategy = "NewestFromBranch"
	// CommitSelectionSemVer selects the tag with the highest semantic version.
	CommitSelectionSemVer CommitSelectionStrategy = "SemVer"
	// CommitSelectionLexical selects the tag that sorts last.
	CommitSelectionLexical CommitSelectionStrategy = "Lexical"
	// CommitSelectionNewestTag selects the most recently created tag.
	CommitSelectionNewestTag CommitSelectionStrategy = "NewestTag"
)

// GitSubscription watches a Git repository for new commits on a branch or
// for new tags.
//
// +kubebuilder:validation:XValidation:rule="!has(self.branch) || self.commitSelectionStrategy == 'NewestFromBranch'",message="branch applies only to commitSelectionStrategy NewestFromBranch; tag strategies select among all tags"
// +kubebuilder:validation:XValidation:rule="!has(self.semverConstraint) || self.commitSelectionStrategy != 'NewestFromBranch'",message="semverConstraint applies to tags; set commitSelectionStrategy to SemVer, Lexical or NewestTag"
// +kubebuilder:validation:XValidation:rule="!(has(self.includePaths) || has(self.excludePaths)) || self.commitSelectionStrategy == 'NewestFromBranch'",message="includePaths and excludePaths filter the commits of a branch; they apply only to commitSelectionStrategy NewestFromBranch"
type GitSubscription struct {
	// RepoURL is the address of the repository.
	RepoURL GitRepoURL `json:"repoURL"`
	// CommitSelectionStrategy chooses the newest commit: the head of a branch
	// (NewestFromBranch, the default) or a tag (SemVer, Lexical, NewestTag).
	//
	// +kubebuilder:default=NewestFromBranch
	// +optional
	CommitSelectionStrategy CommitSelectionStrategy `json:"commitSelectionStrategy,omitempty"`
	// Branch is the branch to follow with NewestFromBranch. Empty means the
	// repository's default branch.
	//
	// +optional
	Branch BranchName `json:"branch,omitempty"`
	// SemverConstraint limits the tags considered to versions in this range.
	//
	// +optional
	SemverConstraint SemverConstraint `json:"semverConstraint,omitempty"`
	// AllowTags is a regular expression that a tag must match to be
	// considered.
	//
	// +kubebuilder:validation:MaxLength=512
	// +optional
	AllowTags string `json:"allowTags,omitempty"`
	// IgnoreTags lists tags that are never selected.
	//
	// +kubebuilder:validation:MaxItems=256
	// +optional
	IgnoreTags []string `json:"ignoreTags,omitempty"`
	// AllowTagsRegexes, as Kargo v1 writes it, are regular expressions of
	// which a tag must match at least one to be considered (with
	// allowTags, it must match that too).
	//
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=512
	// +optional
	AllowTagsRegexes []string `json:"allowTagsRegexes,omitempty"`
	// IgnoreTagsRegexes, as Kargo v1 writes it, are regular expressions: a
	// tag that matches any is never selected.
	//
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=512
	// +optional
	IgnoreTagsRegexes []string `json:"ignoreTagsRegexes,omitempty"`
	// ExpressionFilter is Kargo v1's filter of commits and tags by an
	// expression, which this kargo does not evaluate: a subscription that
	// sets it is refused rather than run without it.
	//
	// +kubebuilder:validation:XValidation:rule="false",message="expressionFilter is not supported: select tags with allowTags, allowTagsRegexes or ignoreTagsRegexes, and commits with includePaths or excludePaths"
	// +optional
	ExpressionFilter string `json:"expressionFilter,omitempty"`
	// IncludePaths, when set, limits new Freight to commits that touch at
	// least one matching path (a prefix, a glob, or "regex:" followed by a
	// regular expression).
	//
	// +kubebuilder:validation:MaxItems=64
	// +optional
	IncludePaths []string `json:"includePaths,omitempty"`
	// ExcludePaths ignores commits that touch only matching paths.
	//
	// +kubebuilder:validation:MaxItems=64
	// +optional
	ExcludePaths []string `json:"excludePaths,omitempty"`
	// StrictSemvers is accepted as Kargo v0.4–v0.6 wrote it. kargo always
	// reads only tags with major, minor and patch numbers as semantic
	// versions, so it may only be true.
	//
	// +kubebuilder:validation:XValidation:rule="self",message="strictSemvers: false is not supported: kargo only reads tags with major, minor and patch numbers (such as v1.2.3) as semantic versions; remove the field"
	// +optional
	StrictSemvers *bool `json:"strictSemvers,omitempty"`
	// DiscoveryLimit, when set, caps how many candidates this subscription
	// considers, instead of the Warehouse's discoveryLimit.
	//
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	DiscoveryLimit int32 `json:"discoveryLimit,omitempty"`
	// InsecureSkipTLSVerify disables verification of the server's TLS
	// certificate.
	//
	// +optional
	InsecureSkipTLSVerify bool `json:"insecureSkipTLSVerify,omitempty"`
}

// ImageSelectionStrategy chooses which tag of an image repository is the
// newest one a subscription offers.
//
// +kubebuilder:validation:Enum=SemVer;NewestBuild;Lexical;Digest
type ImageSelectionStrategy string

const (
	// ImageSelectionSemVer selects the tag with the highest semantic version.
	ImageSelectionSemVer ImageSelectionStrategy = "SemVer"
	// ImageSelectionNewestBuild selects the most recently built image.
	ImageSelectionNewestBuild ImageSelectionStrategy = "NewestBuild"
	// ImageSelectionLexical selects the tag that sorts last.
	ImageSelectionLexical ImageSelectionStrategy = "Lexical"
	// ImageSelectionDigest tracks the digest behind one mutable tag.
	ImageSelectionDigest ImageSelectionStrategy = "Digest"
)

// ImageSubscription watches a container image repository for new images.
//
// +kubebuilder:validation:XValidation:rule="self.imageSelectionStrategy != 'Digest' || has(self.tag) || has(self.constraint)",message="imageSelectionStrategy Digest needs tag (or constraint, as Kargo v1 names it): the mutable tag whose digest is tracked"
// +kubebuilder:validation:XValidation:rule="!has(self.constraint) || !(has(self.semverConstraint) || has(self.tag))",message="constraint is Kargo v1's name for semverConstraint and tag: set one of them"
// +kubebuilder:validation:XValidation:rule="!has(self.constraint) || self.imageSelectionStrategy in ['SemVer', 'Digest']",message="constraint applies to imageSelectionStrategy SemVer (a version range) and Digest (the tag to track)"
// +kubebuilder:validation:XValidation:rule="!has(self.tag) || self.imageSelectionStrategy == 'Digest'",message="tag applies only to imageSelectionStrategy Digest"
// +kubebuilder:validation:XValidation:rule="!has(self.semverConstraint) || self.imageSelectionStrategy != 'Digest'",message="semverConstraint does not apply to imageSelectionStrategy Digest"
type ImageSubscription struct {
	// RepoURL is the image repository, without tag or digest.
	RepoURL ImageRepoURL `json:"repoURL"`
	// ImageSelectionStrategy chooses the newest image: SemVer (the default),
	// NewestBuild, Lexical, or Digest (the digest behind tag).
	//
	// +kubebuilder:default=SemVer
	// +optional
	ImageSelectionStrategy ImageSelectionStrategy `json:"imageSelectionStrategy,omitempty"`
	// SemverConstraint limits the tags considered to versions in this range.
	//
	// +optional
	SemverConstraint SemverConstraint `json:"semverConstraint,omitempty"`
	// Constraint is Kargo v1's name for both semverConstraint (with
	// SemVer) and tag (with Digest); set it or those, not both.
	//
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Constraint string `json:"constraint,omitempty"`
	// Tag is the mutable tag whose digest the Digest strategy tracks.
	//
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[A-Za-z0-9_][A-Za-z0-9_.-]*$')`,message="tag must be an image tag such as latest or 1.27: letters, digits, '_', '.' and '-', not starting with '.' or '-'"
	// +optional
	Tag string `json:"tag,omitempty"`
	// AllowTags is a regular expression that a tag must match to be
	// considered.
	//
	// +kubebuilder:validation:MaxLength=512
	// +optional
	AllowTags string `json:"allowTags,omitempty"`
	// IgnoreTags lists tags that are never selected.
	//
	// +kubebuilder:validation:MaxItems=256
	// +optional
	IgnoreTags []string `json:"ignoreTags,omitempty"`
	// AllowTagsRegexes, as Kargo v1 writes it, are regular expressions of
	// which a tag must match at least one to be considered (with
	// allowTags, it must match that too).
	//
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=512
	// +optional
	AllowTagsRegexes []string `json:"allowTagsRegexes,omitempty"`
	// IgnoreTagsRegexes, as Kargo v1 writes it, are regular expressions: a
	// tag that matches any is never selected.
	//
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=512
	// +optional
	IgnoreTagsRegexes []string `json:"ignoreTagsRegexes,omitempty"`
	// CacheByTag is accepted as Kargo v1 writes it. kargo keeps what it
	// learned of a tag's image by the image's digest, whatever this says,
	// so a tag moved to another image is never served stale.
	//
	// +optional
	CacheByTag bool `json:"cacheByTag,omitempty"`
	// Platform selects one image of a multi-platform index, such as
	// linux/amd64 or linux/arm64/v8.
	//
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$')`,message="platform must look like os/arch or os/arch/variant, such as linux/amd64"
	// +optional
	Platform string `json:"platform,omitempty"`
	// GitRepoURL is the Git repository the image is built from, as Kargo
	// v0.4–v0.6 recorded it for display. kargo accepts it and does not use
	// it.
	//
	// +optional
	GitRepoURL GitRepoURL `json:"gitRepoURL,omitempty"`
	// StrictSemvers is accepted as Kargo v0.4–v0.6 wrote it; see
	// GitSubscription.StrictSemvers.
	//
	// +kubebuilder:validation:XValidation:rule="self",message="strictSemvers: false is not supported: kargo only reads tags with major, minor and patch numbers (such as 1.2.3) as semantic versions; remove the field"
	// +optional
	StrictSemvers *bool `json:"strictSemvers,omitempty"`
	// DiscoveryLimit, when set, caps how many candidates this subscription
	// considers, instead of the Warehouse's discoveryLimit.
	//
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	DiscoveryLimit int32 `json:"discoveryLimit,omitempty"`
	// InsecureSkipTLSVerify disables verification of the registry's TLS
	// certificate.
	//
	// +optional
	InsecureSkipTLSVerify bool `json:"insecureSkipTLSVerify,omitempty"`
}

// VersionRange is the range of versions the SemVer strategy considers:
// semverConstraint, or constraint as Kargo v1 names it.
func (s ImageSubscription) VersionRange() string {
	if s.Constraint != "" && s.ImageSelectionStrategy != ImageSelectionDigest {
		return s.Constraint
	}
	return string(s.SemverConstraint)
}

// DigestTag is the mutable tag the Digest strategy tracks: tag, or
// constraint as Kargo v1 names it.
func (s ImageSubscription) DigestTag() string {
	if s.Tag == "" && s.ImageSelectionStrategy == ImageSelectionDigest {
		return s.Constraint
	}
	return s.Tag
}

// ChartSubscription watches a Helm chart for new versions.
//
// +kubebuilder:validation:XValidation:rule="self.repoURL.startsWith('oci://') || has(self.name)",message="name is required for an HTTP(S) chart repository"
// +kubebuilder:validation:XValidation:rule="!self.repoURL.startsWith('oci://') || !has(self.name)",message="for an OCI chart, put the chart in repoURL (oci://registry/path/chart) and leave name empty"
type ChartSubscription struct {
	// RepoURL is the chart repository (https://...) or, for OCI, the chart
	// itself (oci://registry/path/chart).
	RepoURL ChartRepoURL `json:"repoURL"`
	// Name is the chart's name in an HTTP(S) repository.
	//
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[A-Za-z0-9][A-Za-z0-9._-]*$')`,message="name must be a chart's name such as nginx: letters, digits, '.', '_' and '-', starting with a letter or digit"
	// +optional
	Name string `json:"name,omitempty"`
	// SemverConstraint limits the versions considered to this range.
	//
	// +optional
	SemverConstraint SemverConstraint `json:"semverConstraint,omitempty"`
	// DiscoveryLimit, when set, caps how many versions this subscription
	// considers, instead of the Warehouse's discoveryLimit.
	//
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	DiscoveryLimit int32 `json:"discoveryLimit,omitempty"`
}
