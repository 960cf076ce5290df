// Package rbac embeds the ClusterRoles that every kargo installation
// provides, such as kargo-promoter.
package rbac

import (
	"embed"
	"fmt"
	"io/fs"
	"path"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

//go:embed *.yaml
var files embed.FS

// ClusterRoles returns the pre-defined ClusterRoles.
func ClusterRoles() ([]*rbacv1.ClusterRole, error) {
	names, err := fs.Glob(files, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list embedded roles: %w", err)
	}
	roles := make([]*rbacv1.ClusterRole, 0, len(names))
	for _, name := range names {
		raw, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read embedded role %s: %w", path.Base(name), err)
		}
		role := &rbacv1.ClusterRole{}
		if err := yaml.UnmarshalStrict(raw, role); err != nil {
			return nil, fmt.Errorf("parse embedded role %s: %w", path.Base(name), err)
		}
		roles = append(roles, role)
	}
	return roles, nil
}
