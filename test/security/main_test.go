// Package security attacks kargo as the users who should not get what they
// ask for, against a real kube-apiserver with the RBAC authorizer, kargo's
// webhooks and controllers running with their shipped roles, and users who
// authenticate with their own tokens (static tokens and TokenRequest
// ServiceAccount tokens).
//
// Each attack is one subtest whose name says the attack; it asserts that the
// attack is refused or harmless, and that nothing it aimed at was written.
// The files are grouped by the path an attacker takes:
//
//	egress_test.go      controller-made connections to loopback, private and metadata addresses
//	secrets_test.go     Secrets read with the controller's rights
//	promote_test.go     the promote verb bypassed through auto-promotion, Stage specs and Freight
//	apiserver_test.go   kargo's API server: ServiceAccount tokens, long-lived watches, answers
//	recovery_test.go    a deleted running Promotion, Freight without an alias
//	analysis_test.go    AnalysisRuns run by Argo Rollouts for a Stage: promote, other projects' templates
//	local_test.go       kargo local: etcd, the admin API on a public address
//	creds_test.go       git over SSH (policy, host keys, keys to other hosts), webhook receivers
//	identity_test.go    single sign-on claims, API tokens and grants worth more than their maker
//	origins_test.go     Stages that request several origins: origins not requested, forged origins, other projects
//	repourl_test.go     spellings of another host, scheme or port that would get a credential Secret
//	mayi_test.go        the API's "may I" answers: only ever about the caller, never remembered
//	projects_test.go    whether a project exists, asked of the API server by someone without rights there
//	steps_test.go       promotion steps: only who may promote changes them (Stage or PromotionTask); a Promotion runs its Stage's
//	mechanismsteps_test.go the steps of promotionMechanisms named in a template, a PromotionTask or a Promotion
//	forge_test.go       pull requests: forge APIs on refused addresses, tokens sent to other hosts
//	gckeep_test.go      who may lower a Project's garbage collection keep counts; in-use objects at the lowest
//	audit_test.go       the audit trail: records written, changed or deleted by anyone but the API server, forged actors, names leaked
//	notification_test.go notification subscriptions: Secrets sent where their author chooses, forged queues, refused addresses
//	approvals_test.go   approval policies and abort: self-approval, forged approvers and aborters, ServiceAccounts, expired approvals, policies taken away
//	holds_test.go       holds, freezes and windows: lifted by editing or deleting the Stage, forged setters, overrides without the verb
//	commits_test.go     the commits a Promotion made, read by the API server: who may see them, which repositories, whose credentials
package security

import (
	"testing"

	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

var env *kubetest.Env

func TestMain(m *testing.M) {
	// Argo CD's Application CRD and a real Argo Rollouts first, so that the
	// controllers find their kinds when they start.
	kubetest.Main(m, &env, kubetest.WithArgoCDCRDs, kubetest.WithArgoRollouts, controllers.Run)
}
