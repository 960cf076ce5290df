package helmrepo

// Parses reports how many index documents the client has parsed, so tests
// can tell a cache hit from a re-parse.
func (c *Client) Parses() int64 { return c.parses.Load() }

// BigIndex is an index.yaml of 50 charts with versionsPerChart versions
// each.
func BigIndex(versionsPerChart int) []byte { return bigIndex(versionsPerChart) }
