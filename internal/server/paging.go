package server

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
)

const (
	// defaultLimit is the page size when a list names none.
	defaultLimit = 500
	// maxLimit is the largest page; larger limits are lowered to it.
	maxLimit = 5000
)

// continueToken is what a continue token encodes. It is opaque to
// clients; it is not signed, since a forged one can only start a page
// elsewhere in a list its holder may read anyway.
type continueToken struct {
	// Server is the instance that issued the token: snapshot IDs mean
	// nothing to another one.
	Server string `json:"sv"`
	// List is the kind and namespace the token pages through.
	List string `json:"l"`
	// Snapshot and Offset say where the next page starts in the snapshot
	// the listing began with.
	Snapshot uint64 `json:"s"`
	Offset   int    `json:"o"`
	// Primary, Secondary and Name are the sort key of the last object
	// served, to continue after it when the snapshot is gone.
	Primary   int64  `json:"p,omitempty"`
	Secondary int64  `json:"q,omitempty"`
	Name      string `json:"n"`
}

func (t continueToken) encode() string {
	raw, _ := json.Marshal(t) // a struct of strings and numbers always encodes
	return base64.RawURLEncoding.EncodeToString(raw)
}

func decodeContinue(s string) (continueToken, error) {
	var t continueToken
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return t, badRequest("the continue token is not one this server issued; start the listing again without it")
	}
	if err := json.Unmarshal(raw, &t); err != nil || t.Offset < 0 {
		return t, badRequest("the continue token is not one this server issued; start the listing again without it")
	}
	return t, nil
}

func (t continueToken) key() sortKey {
	return sortKey{primary: t.Primary, secondary: t.Secondary, name: t.Name}
}

// listID names a list in continue tokens.
func listID(k *kind, namespace string) string { return k.segment + "/" + namespace }

// parseLimit reads the limit query parameter: defaultLimit when absent or
// zero, at most maxLimit.
func parseLimit(s string) (int, error) {
	if s == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badRequest("limit must be a whole number of objects per page, such as 500 (at most %d)", maxLimit)
	}
	switch {
	case n == 0:
		return defaultLimit, nil
	case n > maxLimit:
		return maxLimit, nil
	}
	return n, nil
}

// page is one page cut from a snapshot.
type page struct {
	entries []*entry
	total   int
	next    string // the continue token, empty on the last page
}

// cut returns the page of snap that starts at offset, with at most limit
// entries.
func cut(snap *snapshot, list, server string, offset, limit int) page {
	offset = min(offset, len(snap.entries))
	end := min(offset+limit, len(snap.entries))
	p := page{entries: snap.entries[offset:end], total: len(snap.entries)}
	if end < len(snap.entries) {
		last := snap.entries[end-1].key
		snap.retained.Store(true)
		p.next = continueToken{
			Server: server, List: list, Snapshot: snap.id, Offset: end,
			Primary: last.primary, Secondary: last.secondary, Name: last.name,
		}.encode()
	}
	return p
}
