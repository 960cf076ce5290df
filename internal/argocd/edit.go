package argocd

import (
	"fmt"
	"strings"
)

// The functions here edit one source of an Application's JSON document in
// place. They touch only the keys they are about, so that everything else
// in the source (fields kargo's slim types do not know, such as
// kustomize.namePrefix or helm.valuesObject) stays as it was when the
// edited document is turned into a merge patch.

// setKustomizeImage sets entry as the override for image in the source's
// kustomize.images, replacing the override for the same image or else
// appending one.
func setKustomizeImage(src map[string]any, image, entry string) error {
	k, err := childObject(src, "kustomize")
	if err != nil {
		return err
	}
	images, err := childList(k, "images")
	if err != nil {
		return fmt.Errorf("kustomize: %w", err)
	}
	for i, e := range images {
		if s, ok := e.(string); ok && kustomizeImageName(s) == image {
			images[i] = entry
			return nil
		}
	}
	k["images"] = append(images, entry)
	return nil
}

// kustomizeImageName returns the image an Argo CD kustomize override
// applies to. Overrides are written "name=new:tag", "name=new@digest",
// "name:tag" or "name@digest"; a registry host may carry a port
// ("localhost:5000/app:1.0"), so only a colon after the last slash starts a
// tag.
func kustomizeImageName(entry string) string {
	if i := strings.IndexByte(entry, '='); i >= 0 {
		return entry[:i]
	}
	name := entry
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name = name[:i]
	}
	return name
}

// setHelmParameter sets the Helm parameter name to value in the source's
// helm.parameters, replacing the value of an existing parameter (and keeping
// its other keys) or else appending one. forceString is always set: image
// values are strings, and without it Helm's --set reads a tag such as 1.10
// as the number 1.1.
func setHelmParameter(src map[string]any, name, value string) error {
	h, err := childObject(src, "helm")
	if err != nil {
		return err
	}
	params, err := childList(h, "parameters")
	if err != nil {
		return fmt.Errorf("helm: %w", err)
	}
	for _, p := range params {
		if m, ok := p.(map[string]any); ok && m["name"] == name {
			m["value"] = value
			m["forceString"] = true
			return nil
		}
	}
	h["parameters"] = append(params, map[string]any{"name": name, "value": value, "forceString": true})
	return nil
}

// childObject returns m[key], creating it when absent.
func childObject(m map[string]any, key string) (map[string]any, error) {
	switch v := m[key].(type) {
	case map[string]any:
		return v, nil
	case nil:
		c := map[string]any{}
		m[key] = c
		return c, nil
	default:
		return nil, fmt.Errorf("%s is a %T, not an object", key, v)
	}
}

// childList returns m[key], or nil when absent.
func childList(m map[string]any, key string) ([]any, error) {
	switch v := m[key].(type) {
	case []any:
		return v, nil
	case nil:
		return nil, nil
	default:
		return nil, fmt.Errorf("%s is a %T, not a list", key, v)
	}
}
