package yamledit

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func setTag(name, tag string) func([]byte) ([]byte, error) {
	return func(doc []byte) ([]byte, error) {
		return SetKustomizeImage(doc, KustomizeImage{Name: name, NewTag: tag})
	}
}

func setDigest(name, digest string) func([]byte) ([]byte, error) {
	return func(doc []byte) ([]byte, error) {
		return SetKustomizeImage(doc, KustomizeImage{Name: name, Digest: digest})
	}
}

func rename(name, newName, tag, digest string) func([]byte) ([]byte, error) {
	return func(doc []byte) ([]byte, error) {
		return SetKustomizeImage(doc, KustomizeImage{Name: name, NewName: newName, NewTag: tag, Digest: digest})
	}
}

const digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestSetKustomizeImageGolden(t *testing.T) {
	runGolden(t, "kustomize", []goldenCase{
		{name: "no-images-appends-section", input: "no-images.yaml", edit: setTag("nginx", "1.25.0")},
		{name: "no-images-digest", input: "no-images.yaml", edit: setDigest("nginx", digestA)},
		{name: "set-tag-keeps-new-name", input: "images.yaml", edit: setTag("nginx", "1.26.0")},
		{name: "same-tag", input: "images.yaml", edit: setTag("nginx", "1.25.0"), unchanged: true},
		{name: "tag-to-digest", input: "images.yaml", edit: setDigest("nginx", digestA)},
		{name: "digest-to-tag", input: "images.yaml", edit: setTag("redis", "7.2")},
		{name: "set-digest", input: "images.yaml", edit: setDigest("redis", digestA)},
		{name: "digest-on-dash-line-removed", input: "images.yaml", edit: setTag("app", "v2")},
		{name: "tag-and-digest-to-digest", input: "images.yaml", edit: setDigest("worker", digestA)},
		{name: "tag-and-digest-to-tag", input: "images.yaml", edit: setTag("worker", "v2")},
		{name: "new-entry-appended", input: "images.yaml", edit: setTag("postgres", "16")},
		{name: "indented-new-entry", input: "indented-images.yaml", edit: setTag("postgres", "16.1")},
		{name: "indented-set-tag", input: "indented-images.yaml", edit: setTag("redis", "7.2")},
		{name: "flow-images-set", input: "flow-images.yaml", edit: setTag("nginx", "1.1")},
		{name: "flow-images-digest-to-tag", input: "flow-images.yaml", edit: setTag("redis", "7.2")},
		{name: "flow-images-append", input: "flow-images.yaml", edit: setDigest("app", digestA)},
		{name: "flow-images-multiline-append", input: "flow-images-multiline.yaml", edit: setTag("app", "v1")},
		{name: "flow-entries-append", input: "flow-entries.yaml", edit: setTag("app", "v1")},
		{name: "flow-entries-tag-to-digest", input: "flow-entries.yaml", edit: setDigest("nginx", digestA)},
		{name: "empty-flow-images", input: "empty-flow-images.yaml", edit: setTag("nginx", "v1")},
		{name: "empty-images", input: "empty-images.yaml", edit: setTag("nginx", "v1")},
		{name: "crlf-no-final-newline-set", input: "crlf-no-final-newline.yaml", edit: setTag("nginx", "v2")},
		{name: "crlf-no-final-newline-append", input: "crlf-no-final-newline.yaml", edit: setTag("redis", "v2")},
		{name: "crlf-no-images", input: "crlf-no-images.yaml", edit: setTag("nginx", "v1")},
		{name: "empty-file", input: "empty.yaml", edit: setTag("nginx", "v1")},
		{name: "comment-only", input: "comment-only.yaml", edit: setTag("nginx", "v1")},
		{name: "last-line-removed", input: "last-line.yaml", edit: setTag("app", "v2")},
		{name: "rename-replaces-new-name", input: "images.yaml", edit: rename("nginx", "mirror.example/nginx", "1.26.0", "")},
		{name: "rename-adds-new-name", input: "images.yaml", edit: rename("redis", "mirror.example/redis", "7.2", "")},
		{name: "rename-with-digest", input: "images.yaml", edit: rename("app", "mirror.example/app", "", digestA)},
		{name: "rename-new-entry", input: "images.yaml", edit: rename("postgres", "mirror.example/postgres", "16", "")},
		{name: "rename-no-images", input: "no-images.yaml", edit: rename("nginx", "mirror.example/nginx", "1.25.0", "")},
		{name: "flow-images-rename", input: "flow-images.yaml", edit: rename("nginx", "mirror.example/nginx", "1.1", "")},
		{name: "flow-entries-rename-append", input: "flow-entries.yaml", edit: rename("app", "mirror.example/app", "v1", "")},
		{name: "crlf-rename", input: "crlf-no-final-newline.yaml", edit: rename("nginx", "mirror.example/nginx", "v2", "")},
	})
}

func TestSetKustomizeImageErrors(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		img     KustomizeImage
		wantErr error
		wantMsg string
	}{
		{name: "no name", doc: "images: []\n", img: KustomizeImage{NewTag: "v1"}, wantMsg: "the name is empty"},
		{name: "neither tag nor digest", doc: "images: []\n", img: KustomizeImage{Name: "a"}, wantMsg: "set either a tag or a digest"},
		{name: "both tag and digest", doc: "images: []\n", img: KustomizeImage{Name: "a", NewTag: "v1", Digest: digestA}, wantMsg: "not both"},
		{name: "top level is a list", doc: "- a\n", img: KustomizeImage{Name: "a", NewTag: "v1"}, wantErr: ErrUnsupported, wantMsg: "not a block mapping"},
		{name: "images is a mapping", doc: "images:\n  a: b\n", img: KustomizeImage{Name: "a", NewTag: "v1"}, wantErr: ErrUnsupported, wantMsg: "images is not a list"},
		{name: "images is an alias", doc: "x: &i []\nimages: *i\n", img: KustomizeImage{Name: "a", NewTag: "v1"}, wantErr: ErrUnsupported, wantMsg: "edit the anchored list at x instead"},
		{name: "multiple documents", doc: "a: 1\n---\nb: 2\n", img: KustomizeImage{Name: "a", NewTag: "v1"}, wantErr: ErrMultipleDocuments},
		{name: "invalid YAML", doc: "images: [\n", img: KustomizeImage{Name: "a", NewTag: "v1"}, wantErr: ErrInvalidYAML},
		// Found by FuzzSetKustomizeImage: an images section appended after
		// these would not become a top-level key.
		{name: "explicit null key", doc: "?", img: KustomizeImage{Name: "a", NewTag: "v1"}, wantErr: ErrUnsupported, wantMsg: "not plain keys"},
		{name: "explicit key on the next line", doc: "?\n 0", img: KustomizeImage{Name: "a", NewTag: "v1"}, wantErr: ErrUnsupported, wantMsg: "not plain keys"},
		{name: "document end marker", doc: "resources: []\n...\n# end\n", img: KustomizeImage{Name: "a", NewTag: "v1"}, wantErr: ErrUnsupported, wantMsg: "document end marker"},
		{name: "newTag is a block scalar", doc: "images:\n- name: a\n  newTag: |\n    v1\n", img: KustomizeImage{Name: "a", NewTag: "v2"}, wantErr: ErrUnsupported, wantMsg: "block scalar"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := SetKustomizeImage([]byte(tc.doc), tc.img)
			require.Error(t, err)
			require.Nil(t, out)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			}
			require.Contains(t, err.Error(), tc.wantMsg)
		})
	}
}

// TestSetKustomizeImageFuzzFindings pins inputs on which FuzzSetKustomizeImage
// caught the verification step refusing an edit that was spliced wrongly.
func TestSetKustomizeImageFuzzFindings(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		img     KustomizeImage
		want    string
		wantErr error
	}{
		{
			name: "flow list ending with an empty value",
			doc:  "images: [0: ]", img: KustomizeImage{Name: "a", Digest: "sha256:00"},
			want: `images: [0: , {name: a, digest: "sha256:00"} ]`,
		},
		{
			name: "flow list ending with a plain scalar ending in a colon",
			doc:  "images: [0:]", img: KustomizeImage{Name: "a", NewTag: "v1"},
			want: "images: [0:, {name: a, newTag: v1}]",
		},
		{
			name: "flow entry without braces",
			doc:  "images: [name: nginx]", img: KustomizeImage{Name: "nginx", NewTag: "v1"}, wantErr: ErrUnsupported,
		},
		{
			name: "block scalar at the end without a final newline",
			doc:  "0: >\n 0", img: KustomizeImage{Name: "a", NewTag: "v1"}, wantErr: ErrUnsupported,
		},
		{
			name: "block scalar at the end with a final newline",
			doc:  "0: >\n 0\n", img: KustomizeImage{Name: "a", NewTag: "v1"},
			want: "0: >\n 0\nimages:\n- name: a\n  newTag: v1\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := SetKustomizeImage([]byte(tc.doc), tc.img)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, string(out))
		})
	}
}
