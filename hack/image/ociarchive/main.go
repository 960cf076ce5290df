// Command ociarchive writes a container image as an OCI image-layout tar
// archive (what `ctr images import` and `podman load` read) from root
// filesystem directories, one layer each, without a container engine.
//
//	go run ./hack/image/ociarchive --name localhost/kargo:dev --out kargo.tar \
//	  --layer base/ --layer app/ --user 65532:65532 --entrypoint /usr/local/bin/kargo
//
// The archive depends only on its inputs: entries are sorted, every time is
// the Unix epoch (or --epoch), owners are numeric, layers are compressed with
// a fixed gzip level and no header fields, so building twice from the same
// files gives the same manifest digest, which it prints.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// owner is a path prefix inside a layer whose entries get a non-root owner,
// as "home/kargo=65532:65532".
type owner struct {
	prefix   string
	uid, gid int
}

func main() {
	var (
		layers, env, labels, owners stringList
		name, out, user, entrypoint string
		epoch                       int64
	)
	flag.StringVar(&name, "name", "", "image name, such as localhost/kargo:dev")
	flag.StringVar(&out, "out", "", "archive to write")
	flag.Var(&layers, "layer", "directory whose contents make one layer (repeatable, bottom first)")
	flag.Var(&env, "env", "KEY=VALUE of the image's environment (repeatable)")
	flag.Var(&labels, "label", "KEY=VALUE label (repeatable)")
	flag.Var(&owners, "owner", "PATH=UID:GID: entries at and below PATH get this owner (repeatable); others are 0:0")
	flag.StringVar(&user, "user", "", "user the image runs as, such as 65532:65532")
	flag.StringVar(&entrypoint, "entrypoint", "", "the image's entrypoint")
	flag.Int64Var(&epoch, "epoch", 0, "time of every file and of the image, in seconds since 1970")
	flag.IntVar(&gzipLevel, "gzip-level", gzip.BestCompression, "gzip level of the layers (1 fastest, 9 smallest); the digest depends on it")
	flag.Parse()
	if name == "" || out == "" || len(layers) == 0 {
		fmt.Fprintln(os.Stderr, "usage: ociarchive --name NAME --out FILE --layer DIR [--layer DIR...]")
		os.Exit(2)
	}
	var own []owner
	for _, o := range owners {
		if err := parseOwner(o, &own); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	digest, err := build(buildOptions{
		name: name, out: out, layers: layers, env: env, labels: labels, owners: own,
		user: user, entrypoint: entrypoint, epoch: time.Unix(epoch, 0).UTC(),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ociarchive:", err)
		os.Exit(1)
	}
	fmt.Println(digest)
}

func parseOwner(s string, into *[]owner) error {
	path, ids, ok := strings.Cut(s, "=")
	u, g, ok2 := strings.Cut(ids, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if !ok || !ok2 || err1 != nil || err2 != nil {
		return fmt.Errorf("--owner %q is not PATH=UID:GID", s)
	}
	*into = append(*into, owner{prefix: strings.Trim(path, "/"), uid: uid, gid: gid})
	return nil
}

type buildOptions struct {
	name, out, user, entrypoint string
	layers, env, labels         []string
	owners                      []owner
	epoch                       time.Time
}

// blob is one content-addressed file of the layout.
type blob struct {
	mediaType string
	digest    string
	data      []byte
}

func newBlob(mediaType string, data []byte) blob {
	sum := sha256.Sum256(data)
	return blob{mediaType: mediaType, digest: "sha256:" + hex.EncodeToString(sum[:]), data: data}
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int               `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func (b blob) descriptor() descriptor {
	return descriptor{MediaType: b.mediaType, Digest: b.digest, Size: len(b.data)}
}

func build(o buildOptions) (string, error) {
	var layerBlobs []blob
	var diffIDs []string
	for _, dir := range o.layers {
		raw, err := layerTar(dir, o.owners, o.epoch)
		if err != nil {
			return "", fmt.Errorf("make a layer of %s: %w", dir, err)
		}
		sum := sha256.Sum256(raw)
		diffIDs = append(diffIDs, "sha256:"+hex.EncodeToString(sum[:]))
		gz, err := compress(raw)
		if err != nil {
			return "", err
		}
		layerBlobs = append(layerBlobs, newBlob("application/vnd.oci.image.layer.v1.tar+gzip", gz))
	}
	labels := map[string]string{}
	for _, l := range o.labels {
		k, v, _ := strings.Cut(l, "=")
		labels[k] = v
	}
	cfg := map[string]any{
		"created":      o.epoch.Format(time.RFC3339),
		"architecture": "amd64",
		"os":           "linux",
		"config": map[string]any{
			"User":       o.user,
			"Env":        o.env,
			"Entrypoint": nonEmpty(o.entrypoint),
			"Labels":     labels,
			"WorkingDir": "/",
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	cfgBlob := newBlob("application/vnd.oci.image.config.v1+json", cfgJSON)
	var layerDescs []descriptor
	for _, l := range layerBlobs {
		layerDescs = append(layerDescs, l.descriptor())
	}
	manifestJSON, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        cfgBlob.descriptor(),
		"layers":        layerDescs,
	})
	if err != nil {
		return "", err
	}
	manifest := newBlob("application/vnd.oci.image.manifest.v1+json", manifestJSON)
	md := manifest.descriptor()
	tag := o.name[strings.LastIndex(o.name, ":")+1:]
	md.Annotations = map[string]string{
		"io.containerd.image.name":          o.name,
		"org.opencontainers.image.ref.name": tag,
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests":     []descriptor{md},
	})
	if err != nil {
		return "", err
	}

	f, err := os.Create(o.out)
	if err != nil {
		return "", err
	}
	tw := tar.NewWriter(f)
	write := func(name string, data []byte) error {
		return writeEntry(tw, &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: o.epoch, Format: tar.FormatPAX}, bytes.NewReader(data))
	}
	dirs := []string{"blobs/", "blobs/sha256/"}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: o.epoch, Format: tar.FormatPAX}); err != nil {
			return "", err
		}
	}
	all := append([]blob{cfgBlob, manifest}, layerBlobs...)
	sort.Slice(all, func(i, j int) bool { return all[i].digest < all[j].digest })
	for i, b := range all {
		if i > 0 && all[i-1].digest == b.digest {
			continue // two identical layers are one blob
		}
		if err := write("blobs/sha256/"+strings.TrimPrefix(b.digest, "sha256:"), b.data); err != nil {
			return "", err
		}
	}
	if err := write("index.json", index); err != nil {
		return "", err
	}
	if err := write("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return "", err
	}
	if err := errors.Join(tw.Close(), f.Close()); err != nil {
		return "", err
	}
	return manifest.digest, nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// gzipLevel is the layers' gzip level (--gzip-level).
var gzipLevel = gzip.BestCompression

func compress(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzipLevel)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// layerTar is the tar of dir's contents: sorted, owned by root (or by the
// matching --owner), every time set to epoch, hard links kept as links.
func layerTar(dir string, owners []owner, epoch time.Time) ([]byte, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	type inode struct{ dev, ino uint64 }
	seen := map[inode]string{}
	for _, p := range paths {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil, err
		}
		rel = filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		h := &tar.Header{Name: rel, Mode: int64(fi.Mode().Perm()), ModTime: epoch, Format: tar.FormatPAX}
		if fi.Mode()&fs.ModeSetuid != 0 || fi.Mode()&fs.ModeSetgid != 0 {
			return nil, fmt.Errorf("%s is setuid or setgid; the image has none", rel)
		}
		if fi.Mode()&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		for _, o := range owners {
			if rel == o.prefix || strings.HasPrefix(rel, o.prefix+"/") {
				h.Uid, h.Gid = o.uid, o.gid
			}
		}
		var body io.Reader
		switch {
		case fi.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, rel+"/"
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return nil, err
			}
			h.Typeflag, h.Linkname = tar.TypeSymlink, target
		case fi.Mode().IsRegular():
			st := fi.Sys().(*syscall.Stat_t)
			key := inode{uint64(st.Dev), st.Ino}
			if first, ok := seen[key]; ok && st.Nlink > 1 {
				h.Typeflag, h.Linkname = tar.TypeLink, first
				break
			}
			seen[key] = rel
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			h.Typeflag, h.Size, body = tar.TypeReg, int64(len(data)), bytes.NewReader(data)
		default:
			return nil, fmt.Errorf("%s is neither a file, a directory nor a symbolic link", rel)
		}
		if err := writeEntry(tw, h, body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeEntry(tw *tar.Writer, h *tar.Header, body io.Reader) error {
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("write %s: %w", h.Name, err)
	}
	if body != nil {
		if _, err := io.Copy(tw, body); err != nil {
			return fmt.Errorf("write %s: %w", h.Name, err)
		}
	}
	return nil
}
