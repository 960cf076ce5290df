package httpcheck

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// ResolveHeaders turns a check's headers into names and values, reading
// values from Secrets in namespace. Each Secret is read once however many
// headers use it. Errors name the header, Secret and key, never a value.
func ResolveHeaders(ctx context.Context, r client.Reader, namespace string, hs []kargoapi.HTTPHeader) (map[string]string, error) {
	out := make(map[string]string, len(hs))
	secrets := map[string]*corev1.Secret{}
	for _, h := range hs {
		var value string
		switch {
		case h.Value != nil && h.ValueFrom != nil:
			return nil, fmt.Errorf("header %s has both value and valueFrom; keep one", h.Name)
		case h.Value != nil:
			value = *h.Value
		case h.ValueFrom != nil:
			ref := h.ValueFrom
			s, ok := secrets[ref.Name]
			if !ok {
				s = &corev1.Secret{}
				if err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, s); err != nil {
					return nil, fmt.Errorf("header %s: get Secret %s/%s: %w", h.Name, namespace, ref.Name, err)
				}
				secrets[ref.Name] = s
			}
			b, ok := s.Data[ref.Key]
			if !ok {
				return nil, fmt.Errorf("header %s: Secret %s/%s has no key %q", h.Name, namespace, ref.Name, ref.Key)
			}
			// HTTP drops the whitespace around a header value anyway, and a
			// Secret made with kubectl --from-file usually ends in a
			// newline that would otherwise make the value invalid.
			value = strings.TrimSpace(string(b))
			if strings.ContainsAny(value, "\r\n\x00") {
				return nil, fmt.Errorf("header %s: key %q of Secret %s/%s holds a line break or NUL, which a header value cannot", h.Name, ref.Key, namespace, ref.Name)
			}
		default:
			return nil, fmt.Errorf("header %s has neither value nor valueFrom; set one", h.Name)
		}
		out[h.Name] = value
	}
	return out, nil
}
