package freight

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation"
)

// MaxAliasAttempts is how many adjective-animal candidates AliasCandidate
// offers before it adds a suffix taken from the Freight's name.
const MaxAliasAttempts = 32

// AliasCandidate returns the attempt-th alias to try for the Freight named
// name. Candidates are derived from the name, so the same Freight gets the
// same alias in every run and tests are reproducible; a caller tries
// attempt 0, 1, 2, ... until it finds one not taken in the project. After
// MaxAliasAttempts tries, candidates carry a suffix from the name, which
// makes them unique among Freight.
func AliasCandidate(name string, attempt int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", name, attempt)))
	adj := adjectives[binary.BigEndian.Uint64(sum[0:8])%uint64(len(adjectives))]
	animal := animals[binary.BigEndian.Uint64(sum[8:16])%uint64(len(animals))]
	if attempt < MaxAliasAttempts {
		return adj + "-" + animal
	}
	suffix := name
	if len(suffix) > 8 {
		suffix = suffix[:8]
	}
	return fmt.Sprintf("%s-%s-%s", adj, animal, suffix)
}

// CheckAlias returns nil when alias can be a Freight's alias, which is also
// a label value and a DNS label, and otherwise an error that says what an
// alias is made of.
func CheckAlias(alias string) error {
	if len(validation.IsDNS1123Label(alias)) == 0 {
		return nil
	}
	return fmt.Errorf("alias %q is not valid: an alias is at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit, such as frozen-tauntaun", alias)
}
