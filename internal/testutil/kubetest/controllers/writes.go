package controllers

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// Write is one kind of write request: its verb and what it writes, such as
// PATCH promotions/status.
type Write struct {
	Verb string
	// Resource is the resource written, with its subresource after a
	// slash (stages/status).
	Resource string
}

func (w Write) String() string { return w.Verb + " " + w.Resource }

// WriteCount is how many write requests of each kind were sent.
type WriteCount map[Write]int

// Total is the number of writes of every kind.
func (c WriteCount) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Sub is what c counts beyond before.
func (c WriteCount) Sub(before WriteCount) WriteCount {
	out := WriteCount{}
	for k, v := range c {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// String lists the kinds in a stable order, for failure messages and
// benchmark logs.
func (c WriteCount) String() string {
	keys := make([]Write, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, c[k]))
	}
	return strings.Join(parts, ", ")
}

// writeCounter counts, by namespace, the write requests that pass through
// the transports it wraps.
type writeCounter struct {
	mu     sync.Mutex
	counts map[string]WriteCount
}

// writes counts the writes the controllers Run started send to the API
// server: their rest.Config's transport is wrapped by it.
var writes = &writeCounter{counts: map[string]WriteCount{}}

// Writes returns how many write requests (POST, PUT, PATCH, DELETE) the
// controllers Run started have sent to the API server for objects of
// namespace ns (events included) since they started. Tests of different
// projects do not see each other's writes; take the difference of two
// counts (WriteCount.Sub) around what is measured.
func Writes(ns string) WriteCount {
	writes.mu.Lock()
	defer writes.mu.Unlock()
	out := WriteCount{}
	for k, v := range writes.counts[ns] {
		out[k] = v
	}
	return out
}

func (c *writeCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		switch req.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			if ns, res, ok := namespacedResource(req.URL.Path); ok {
				c.mu.Lock()
				if c.counts[ns] == nil {
					c.counts[ns] = WriteCount{}
				}
				c.counts[ns][Write{Verb: req.Method, Resource: res}]++
				c.mu.Unlock()
			}
		}
		return rt.RoundTrip(req)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// namespacedResource reads the namespace and the resource (with its
// subresource) of an API path: /api/v1/namespaces/NS/RESOURCE[/NAME[/SUB]]
// or /apis/GROUP/VERSION/namespaces/NS/RESOURCE[/NAME[/SUB]].
func namespacedResource(path string) (ns, resource string, ok bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	i := -1
	for j, p := range parts {
		if p == "namespaces" {
			i = j
			break
		}
	}
	if i < 0 || len(parts) < i+3 {
		return "", "", false
	}
	ns, resource = parts[i+1], parts[i+2]
	if len(parts) >= i+5 {
		resource += "/" + parts[i+4]
	}
	return ns, resource, true
}
