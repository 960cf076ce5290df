package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/audit"
)

// auditType is the table of the audit trail. It is not one of
// resourceTypes: records are listed with filters of their own and are never
// named, created or applied.
var auditType = &resourceType{
	api: apiclient.Audit, kind: "AuditRecord",
	newObject: func() client.Object { return &kargoapi.AuditRecord{} },
	columns:   []string{"ACTION", "TARGET", "STAGE", "USER", "RESULT", "AGE"},
	row: func(o client.Object, now time.Time) []string {
		r := o.(*kargoapi.AuditRecord)
		target := r.Target.Kind
		if r.Target.Name != "" {
			target += "/" + r.Target.Name
		}
		result := string(r.Outcome.Result)
		if r.Outcome.Result != kargoapi.AuditResultSucceeded {
			result += fmt.Sprintf(" (%d)", r.Outcome.Code)
		}
		return []string{r.Action, target, r.Target.Stage, r.Actor.Username, result, duration.HumanDuration(now.Sub(r.Time.Time))}
	},
}

type auditOptions struct {
	stage, since string
}

// newGetAuditCommand is `kargo get audit`: the project's audit trail.
func newGetAuditCommand(g *globals, o *getOptions) *cobra.Command {
	a := &auditOptions{}
	cmd := &cobra.Command{
		Use:     "audit",
		Aliases: []string{"auditrecords", "auditrecord"},
		Short:   "List the project's audit trail: who did what through kargo, when, and how it ended",
		Long: `List the actions taken through kargo's API server in a project, newest first:
promotions, approvals, aliases, refreshes, verifications, and objects created,
applied or deleted. Each record says who (user and groups), when, what and how
it ended (Succeeded, Failed, or Refused for a caller without the right who holds
a role in the project). Reading it takes a role in the project (kargo-viewer is
enough); nobody can change or delete a record.

-o jsonl exports the records as JSON lines, one record a line.`,
		Example: `  kargo get audit --project kargo-demo
  kargo get audit --project kargo-demo --stage prod --since 24h
  kargo get audit --project kargo-demo --since 2025-01-31T09:00:00Z -o jsonl > audit.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGetAudit(cmd, g, o, a)
		},
	}
	cmd.Flags().StringVar(&a.stage, "stage", "", "only the records about this Stage")
	cmd.Flags().StringVar(&a.since, "since", "", "only the records of actions at or after this: a duration back from now (90m, 24h, 7d) or an RFC 3339 time")
	return cmd
}

func runGetAudit(cmd *cobra.Command, g *globals, o *getOptions, a *auditOptions) error {
	jsonl := o.output == "jsonl"
	format := outputFormat{}
	if !jsonl {
		var err error
		if format, err = parseOutput(o.output); err != nil {
			return err
		}
	}
	if o.watch {
		return usageError{fmt.Errorf("the audit trail cannot be watched; list it again, with --since")}
	}
	if _, err := audit.ParseSince(a.since, time.Now()); err != nil {
		return usageError{err}
	}
	c, cfg, err := g.connect()
	if err != nil {
		return err
	}
	proj, err := project(o.project, cfg)
	if err != nil {
		return err
	}
	items, err := c.ListAll(cmd.Context(), apiclient.Audit, proj, apiclient.ListOptions{Stage: a.stage, Since: a.since})
	if err != nil {
		return apiError(err, "list the audit trail", projectType, proj, proj)
	}
	objs, err := decodeObjects(auditType, items)
	if err != nil {
		return err
	}
	if jsonl {
		// One record a line, each whole (apiVersion and kind included) so
		// that a line means something on its own.
		var buf bytes.Buffer
		for _, o := range objs {
			line, err := json.Marshal(o.raw)
			if err != nil {
				return fmt.Errorf("encode an audit record: %w", err)
			}
			buf.Write(line)
			buf.WriteByte('\n')
		}
		_, err := cmd.OutOrStdout().Write(buf.Bytes())
		return err
	}
	if len(objs) == 0 && format.name == "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "No audit records found in project %s.\n", proj)
		return nil
	}
	p := &printer{w: cmd.OutOrStdout(), rt: auditType, format: format, now: g.now}
	return p.printList(objs, false)
}
