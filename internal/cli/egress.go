package cli

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/helmrepo"
)

// egressFlags are the flags of `kargo controller` and `kargo local` that
// say where the controllers may connect and how much one download may
// cost.
type egressFlags struct {
	rules        []egress.Rule
	allowPrivate bool
	maxHelmIndex string
}

func (o *egressFlags) register(f *pflag.FlagSet) {
	f.Var(&ruleList{&o.rules}, "allow-outbound",
		"addresses the controllers may connect to although the outbound address policy refuses them (loopback, private, link-local, metadata): comma-separated, repeatable; an address range (10.20.0.0/16), an address (10.0.0.5), an address and port (127.0.0.1:5000) or a host name with an optional port (git.corp.example:443)")
	f.BoolVar(&o.allowPrivate, "allow-private-outbound", false,
		"let the controllers connect to private addresses (10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10), for Git hosts and registries on the cluster's own network; loopback, link-local and metadata addresses stay refused")
	f.StringVar(&o.maxHelmIndex, "max-helm-index-size", resource.NewQuantity(helmrepo.DefaultMaxIndexBytes, resource.BinarySI).String(),
		"largest Helm repository index.yaml the controllers download (a larger one fails the Warehouse's discovery); the index is held in memory while it is read")
	// The policy used to apply to verification checks alone, and allowed
	// link-local and metadata addresses only; its ranges now go to the one
	// policy of every connection.
	f.Var(&cidrList{&o.rules}, "verification-allow-cidr", "address range the controllers may connect to")
	_ = f.MarkDeprecated("verification-allow-cidr", "use --allow-outbound, which applies to every connection the controllers make")
}

// policy is the outbound address policy the flags describe.
func (o *egressFlags) policy() *egress.Policy {
	return egress.New(egress.Options{Allow: o.rules, AllowPrivate: o.allowPrivate})
}

// maxHelmIndexBytes is --max-helm-index-size in bytes.
func (o *egressFlags) maxHelmIndexBytes() (int64, error) {
	q, err := resource.ParseQuantity(o.maxHelmIndex)
	if err != nil || q.Value() <= 0 {
		return 0, usageError{fmt.Errorf("--max-helm-index-size=%s is not a size such as 32Mi or 100M", o.maxHelmIndex)}
	}
	return q.Value(), nil
}

// ruleList is a repeatable flag of comma-separated egress rules.
type ruleList struct{ into *[]egress.Rule }

func (r *ruleList) String() string {
	if r.into == nil {
		return ""
	}
	out := make([]string, len(*r.into))
	for i, rule := range *r.into {
		out[i] = rule.String()
	}
	return strings.Join(out, ",")
}

func (r *ruleList) Set(v string) error {
	rules, err := egress.ParseRules(v)
	if err != nil {
		return err
	}
	*r.into = append(*r.into, rules...)
	return nil
}

func (r *ruleList) Type() string { return "rules" }

// cidrList is a repeatable flag of address ranges, kept for
// --verification-allow-cidr.
type cidrList struct{ into *[]egress.Rule }

func (c *cidrList) String() string { return "" }

func (c *cidrList) Set(v string) error {
	p, err := netip.ParsePrefix(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("%q is not an address range such as 169.254.10.0/24: %w", v, err)
	}
	*c.into = append(*c.into, egress.Rule{Prefix: p.Masked()})
	return nil
}

func (c *cidrList) Type() string { return "cidr" }
