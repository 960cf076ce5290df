// Package demo is the kargo-demo project that `kargo local --demo` sets up,
// so that a newcomer sees kargo move Freight without a cluster, Argo CD or
// a registry of their own: a GitOps repository and an nginx image
// repository on the demo's own loopback servers (internal/localsrc), a
// Warehouse on both, Stages test ← Warehouse, uat ← test and prod ← uat
// promoting into stages/<name> branches, the seed's PromotionPolicy
// auto-promoting into test, and the seed's rights for alice and bob.
//
// The manifests are in manifests/: pipeline.yaml (the Warehouse and
// Stages) and gitops.yaml (the repository's first commit); the seed pages'
// own manifests come unchanged from config/samples/seeds.
package demo

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"text/template"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/config/samples"
)

const (
	// Project is the demo's project.
	Project = "kargo-demo"
	// Warehouse is the demo's Warehouse.
	Warehouse = "kargo-demo"
	// ImageRepo is the demo registry's repository.
	ImageRepo = "nginx"
	// GitOpsRepo is the demo Git server's repository.
	GitOpsRepo = "kargo-demo-gitops"
)

// Stages are the demo pipeline's Stages, upstream first.
var Stages = []string{"test", "uat", "prod"}

// InitialTags are the image tags the demo registry starts with; the
// Warehouse picks the newest.
var InitialTags = []string{"1.24.0", "1.25.0", "1.26.0"}

// Users are the seed pages' users, who get credentials of their own.
var Users = []string{"alice", "bob"}

// seedFiles are the seed manifests applied unchanged: alice's and bob's
// rights, and auto-promotion into test.
var seedFiles = []string{
	"seeds/concepts-07-rolebinding-alice-promoter.yaml",
	"seeds/concepts-08-role-and-rolebinding-bob-uat-promoter.yaml",
	"seeds/concepts-09-promotionpolicy-test.yaml",
}

//go:embed manifests/*.yaml
var manifests embed.FS

// Sources say where the demo's artifacts are.
type Sources struct {
	// Image is the image repository, such as 127.0.0.1:7072/nginx.
	Image string
	// GitOps is the GitOps repository's URL.
	GitOps string
	// ArgoCDServer, when Argo CD runs, is the API server's URL as Argo CD
	// knows it: the Stages then update Applications that deploy there.
	ArgoCDServer string
}

type values struct {
	Sources
	Stages   []string
	FirstTag string
}

func render(name string, src Sources) ([]byte, error) {
	text, err := manifests.ReadFile("manifests/" + name)
	if err != nil {
		return nil, err
	}
	t, err := template.New(name).Funcs(template.FuncMap{"sub": func(i int) int { return i - 1 }}).Parse(string(text))
	if err != nil {
		return nil, fmt.Errorf("demo manifest %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, values{Sources: src, Stages: Stages, FirstTag: InitialTags[0]}); err != nil {
		return nil, fmt.Errorf("demo manifest %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// GitOpsFiles are the GitOps repository's first commit: path → content.
func GitOpsFiles(src Sources) (map[string]string, error) {
	raw, err := render("gitops.yaml", src)
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
	for {
		var f struct {
			Path    string `json:"path"`
			Content string `json:"content"`
		}
		if err := dec.Decode(&f); err != nil {
			if errors.Is(err, io.EOF) {
				return files, nil
			}
			return nil, fmt.Errorf("demo manifest gitops.yaml: %w", err)
		}
		if f.Path != "" {
			files[f.Path] = f.Content
		}
	}
}

// Objects are the demo's objects in the project, in the order they are
// created: the pipeline, then the seed manifests.
func Objects(src Sources) ([]*unstructured.Unstructured, error) {
	raw, err := render("pipeline.yaml", src)
	if err != nil {
		return nil, err
	}
	docs := [][]byte{raw}
	for _, f := range seedFiles {
		b, err := samples.Seeds.ReadFile(f)
		if err != nil {
			return nil, err
		}
		docs = append(docs, b)
	}
	var objs []*unstructured.Unstructured
	for _, doc := range docs {
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(doc), 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("demo manifests: %w", err)
			}
			if len(m) > 0 {
				objs = append(objs, &unstructured.Unstructured{Object: m})
			}
		}
	}
	return objs, nil
}

// Apply creates the demo project and whatever of its objects is missing.
// What exists is left as it is, so that a restart keeps the user's
// changes; deleting an object brings it back at the next start.
func Apply(ctx context.Context, c client.Client, src Sources) error {
	p := &kargoapi.Project{}
	p.Name = Project
	if err := c.Create(ctx, p); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create Project %s: %w", Project, err)
	}
	if err := waitReady(ctx, c, time.Minute); err != nil {
		return err
	}
	objs, err := Objects(src)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %s %s in %s: %w", o.GetKind(), o.GetName(), Project, err)
		}
	}
	return nil
}

// waitReady waits until the Project's namespace is there to create into.
func waitReady(ctx context.Context, c client.Client, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		p := &kargoapi.Project{}
		err := c.Get(ctx, client.ObjectKey{Name: Project}, p)
		if err == nil && p.Status.Phase == kargoapi.ProjectPhaseReady {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("phase %q", p.Status.Phase)
			}
			return fmt.Errorf("Project %s not ready after %s: %w", Project, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
