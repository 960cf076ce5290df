package credentials

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func secret(name string, pattern bool, url, user string) corev1.Secret {
	s := corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kargo-demo", Labels: map[string]string{TypeLabelKey: "git"}},
		Data:       map[string][]byte{UsernameKey: []byte(user), PasswordKey: []byte("pw-" + user)},
	}
	if pattern {
		s.Labels[URLPatternLabelKey] = "true"
		s.Data[RepoURLPatternKey] = []byte(url)
	} else {
		s.Data[RepoURLKey] = []byte(url)
	}
	return s
}

func TestMatch(t *testing.T) {
	secrets := []corev1.Secret{
		secret("b-pattern", true, `https://github\.com/example/.*`, "pattern-b"),
		secret("a-pattern", true, `https://github\.com/.*`, "pattern-a"),
		secret("exact", false, "https://github.com/example/kargo-demo.git", "exact"),
	}
	cases := []struct{ url, want string }{
		{"https://github.com/example/kargo-demo.git", "exact"},
		{"https://github.com/example/kargo-demo", "exact"},
		{"https://github.com/example/kargo-demo/", "exact"},
		{"https://github.com/example/other.git", "pattern-a"},
		{"https://gitlab.com/example/other.git", ""},
		{"https://github.com.evil.example/x", ""},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			got, err := Match(append([]corev1.Secret(nil), secrets...), tc.url)
			require.NoError(t, err)
			if tc.want == "" {
				require.Nil(t, got)
				return
			}
			require.Equal(t, tc.want, got.Username)
			require.Equal(t, "pw-"+tc.want, got.Password)
		})
	}
	_, err := Match([]corev1.Secret{secret("bad", true, "(", "x")}, "https://x")
	require.ErrorContains(t, err, "kargo-demo/bad: repoURLPattern is not a regular expression")
}

func TestCredentialsNeverPrintThePassword(t *testing.T) {
	c := &Credentials{Username: "kargo", Password: "hunter2"}
	for _, format := range []string{"%v", "%+v", "%s", "%#v"} {
		require.NotContains(t, fmt.Sprintf(format, c), "hunter2", format)
	}
	require.Equal(t, "anonymous", (*Credentials)(nil).String())
}
