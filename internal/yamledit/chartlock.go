package yamledit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"
)

// helmDependency is a dependency as Helm reads it from Chart.yaml and
// Chart.lock, with the JSON names and order of Helm's chart.Dependency: the
// lock's digest is the SHA-256 of their JSON encoding, so these must not
// change.
type helmDependency struct {
	Name         string   `json:"name"`
	Version      string   `json:"version,omitempty"`
	Repository   string   `json:"repository"`
	Condition    string   `json:"condition,omitempty"`
	Tags         []string `json:"tags,omitempty"`
	Enabled      bool     `json:"enabled,omitempty"`
	ImportValues []any    `json:"import-values,omitempty"`
	Alias        string   `json:"alias,omitempty"`
}

type helmDependencies struct {
	Dependencies []*helmDependency `json:"dependencies"`
	Digest       string            `json:"digest"`
}

// ChartLockDigest returns the digest Helm expects in the Chart.lock of a
// chart whose Chart.yaml is chartYAML and whose lock lists lockYAML's
// dependencies: "sha256:" and the hex SHA-256 of the JSON array
// [Chart.yaml's dependencies, the lock's dependencies], as Helm's
// resolver.HashReq computes it. `helm dependency build` refuses a lock
// whose digest differs ("the lock file (Chart.lock) is out of sync"). It
// agrees with Helm for dependencies whose repository is a URL; Helm
// resolves "@name" and "alias:name" repositories through the local
// repository configuration first, which only that machine knows.
func ChartLockDigest(chartYAML, lockYAML []byte) (string, error) {
	var chart, lock helmDependencies
	if err := yaml.Unmarshal(chartYAML, &chart); err != nil {
		return "", fmt.Errorf("read Chart.yaml: %w", err)
	}
	if err := yaml.Unmarshal(lockYAML, &lock); err != nil {
		return "", fmt.Errorf("read Chart.lock: %w", err)
	}
	data, err := json.Marshal([2][]*helmDependency{chart.Dependencies, lock.Dependencies})
	if err != nil {
		return "", fmt.Errorf("encode dependencies: %w", err)
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// ChartLockUpdate is what UpdateChartLock did.
type ChartLockUpdate struct {
	// Lock is the new Chart.lock (the old one when nothing changed).
	Lock []byte
	// Locked says whether the lock lists the dependency; when it does not,
	// Lock is unchanged.
	Locked bool
	// DigestKept says the lock's digest was left as it was because it did
	// not match the old Chart.yaml either (it was out of date already, or
	// a dependency's repository is a name only Helm's local configuration
	// resolves), so kargo cannot tell what Helm would compute.
	DigestKept bool
}

// UpdateChartLock makes a Chart.lock agree with a change of one
// dependency's version in Chart.yaml (oldChart before, newChart after):
// the version of every lock entry with that name and repository becomes
// version, and the digest becomes the one Helm computes for newChart and
// the new lock, if the old digest was the one Helm computes for oldChart
// and the old lock (see ChartLockDigest). Only those bytes change; the
// generated time stays, so applying the same change twice gives the same
// file.
func UpdateChartLock(lockYAML, oldChart, newChart []byte, repository, name, version string) (ChartLockUpdate, error) {
	var lock helmDependencies
	if err := yaml.Unmarshal(lockYAML, &lock); err != nil {
		return ChartLockUpdate{}, fmt.Errorf("read Chart.lock: %w", err)
	}
	oldDigest, err := ChartLockDigest(oldChart, lockYAML)
	if err != nil {
		return ChartLockUpdate{}, err
	}
	out := lockYAML
	locked := false
	for i, d := range lock.Dependencies {
		if d == nil || d.Name != name || !sameRepository(d.Repository, repository) {
			continue
		}
		locked = true
		if out, err = SetValue(out, fmt.Sprintf("dependencies.%d.version", i), version); err != nil {
			return ChartLockUpdate{}, fmt.Errorf("Chart.lock: %w", err)
		}
	}
	if !locked {
		return ChartLockUpdate{Lock: lockYAML}, nil
	}
	if oldDigest != lock.Digest {
		return ChartLockUpdate{Lock: out, Locked: true, DigestKept: true}, nil
	}
	digest, err := ChartLockDigest(newChart, out)
	if err != nil {
		return ChartLockUpdate{}, err
	}
	if out, err = SetValue(out, "digest", digest); err != nil {
		return ChartLockUpdate{}, fmt.Errorf("Chart.lock: %w", err)
	}
	return ChartLockUpdate{Lock: out, Locked: true}, nil
}
