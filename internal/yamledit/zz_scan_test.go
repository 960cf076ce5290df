package yamledit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func readCorpus(t *testing.T, dir string) [][]string {
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	var out [][]string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")[1:]
		var vals []string
		for _, l := range lines {
			l = strings.TrimSuffix(strings.TrimPrefix(l, "string("), ")")
			if strings.HasPrefix(l, "bool(") {
				vals = append(vals, strings.TrimSuffix(strings.TrimPrefix(l, "bool("), ")"))
				continue
			}
			s, err := strconv.Unquote(l)
			if err != nil {
				s = l
			}
			vals = append(vals, s)
		}
		out = append(out, vals)
	}
	return out
}

func TestZZScan(t *testing.T) {
	dir := os.Getenv("CORPUS")
	counts := map[string]int{}
	for _, v := range readCorpus(t, dir) {
		if len(v) < 3 {
			continue
		}
		var err error
		if len(v) == 4 {
			img := KustomizeImage{Name: v[1], NewTag: v[2]}
			if v[3] == "true" {
				img = KustomizeImage{Name: v[1], Digest: v[2]}
			}
			_, err = SetKustomizeImage([]byte(v[0]), img)
		} else {
			_, err = SetValue([]byte(v[0]), v[1], v[2])
			if leaves := scalarPaths(v[0]); len(leaves) > 0 {
				p := leaves[len(v[1])%len(leaves)]
				_, err2 := SetValue([]byte(v[0]), p, v[2])
				if err2 != nil {
					fmt.Printf("DERIVED %s\n  doc=%q path=%q value=%q\n", err2, v[0], p, v[2])
				} else {
					counts["derived ok"]++
				}
			}
		}
		key := "ok"
		for _, e := range []error{ErrKeyNotFound, ErrNotScalar, ErrUnsupported, ErrInvalidYAML, ErrMultipleDocuments, ErrVerificationFailed} {
			if errors.Is(err, e) {
				key = e.Error()
			}
		}
		if err != nil && key == "ok" {
			key = "other"
		}
		counts[key]++
		if errors.Is(err, ErrVerificationFailed) || (errors.Is(err, ErrUnsupported) && strings.Contains(err.Error(), "cannot find")) {
			fmt.Printf("%s\n  doc=%q path=%q value=%q\n", err, v[0], v[1], v[2])
		}
	}
	fmt.Println(counts)
}
