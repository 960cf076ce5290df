package server

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// snapshotRetention is how long a snapshot that handed out a continue
// token is kept after a newer one replaced it, so that the later pages of
// a listing come from the same list.
const snapshotRetention = 10 * time.Minute

// idleAfter is how long a list's snapshots are kept without a read: the
// JSON of a 10,000-Freight project is some megabytes, not worth keeping for
// a project nobody looks at.
const idleAfter = 30 * time.Minute

// maxRetained bounds the retained snapshots of one list, whatever the rate
// of change: a listing that outlives them continues by sort key instead.
const maxRetained = 8

// entry is one object of a snapshot with its JSON, encoded once per
// resourceVersion and shared by every snapshot that holds that version.
type entry struct {
	obj client.Object // the cache's own object: never modified
	key sortKey
	raw []byte
}

// snapshot is one sorted list of the objects of one kind in one namespace.
// Its entries never change once built.
type snapshot struct {
	id uint64
	// generation is the generation of the list it was built at.
	generation uint64
	entries    []*entry
	// retained is set once a continue token names the snapshot.
	retained atomic.Bool
	// replaced is when a newer snapshot took its place.
	replaced time.Time
}

// after returns the index of the first entry that sorts after key.
func (s *snapshot) after(key sortKey) int {
	return sort.Search(len(s.entries), func(i int) bool { return key.before(s.entries[i].key) })
}

// lists keeps the sorted snapshots of every kind and namespace the server
// has listed. Informer events bump a list's generation; a read after a
// bump builds a new snapshot, reusing the entries of objects that did not
// change.
type lists struct {
	reader client.Reader // the informer cache
	now    func() time.Time
	nextID atomic.Uint64

	mu    sync.Mutex
	byKey map[listKey]*list
}

type listKey struct {
	kind      *kind
	namespace string
}

// list is the state of one kind in one namespace.
type list struct {
	build sync.Mutex // one build at a time; readers of current never wait for it

	mu         sync.Mutex
	generation uint64
	current    *snapshot
	retained   []*snapshot
	lastRead   time.Time
}

func newLists(reader client.Reader) *lists {
	return &lists{reader: reader, now: time.Now, byKey: map[listKey]*list{}}
}

func (ls *lists) list(k *kind, namespace string) *list {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	key := listKey{kind: k, namespace: namespace}
	l, ok := ls.byKey[key]
	if !ok {
		l = &list{}
		ls.byKey[key] = l
	}
	return l
}

// changed records that an object of kind k in namespace changed. The
// informer updates its store before it calls handlers, so a snapshot built
// after this call sees the change.
func (ls *lists) changed(k *kind, namespace string) {
	l := ls.list(k, namespace)
	l.mu.Lock()
	l.generation++
	l.mu.Unlock()
}

// snapshot returns the current snapshot of kind k in namespace, building
// it when the list changed since the last one.
func (ls *lists) snapshot(ctx context.Context, k *kind, namespace string) (*snapshot, error) {
	l := ls.list(k, namespace)
	l.mu.Lock()
	cur, gen := l.current, l.generation
	l.lastRead = ls.now()
	l.mu.Unlock()
	if cur != nil && cur.generation == gen {
		return cur, nil
	}

	l.build.Lock()
	defer l.build.Unlock()
	l.mu.Lock()
	cur, gen = l.current, l.generation
	l.mu.Unlock()
	if cur != nil && cur.generation == gen {
		return cur, nil // built while this call waited
	}
	next, err := ls.buildSnapshot(ctx, k, namespace, cur, gen)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur != nil {
		cur.replaced = ls.now()
		if cur.retained.Load() {
			l.retained = append(l.retained, cur)
		}
	}
	l.current = next
	l.pruneLocked(ls.now())
	return next, nil
}

// retainedSnapshot returns the snapshot with id, if it is current or
// still retained.
func (ls *lists) retainedSnapshot(k *kind, namespace string, id uint64) *snapshot {
	l := ls.list(k, namespace)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastRead = ls.now()
	l.pruneLocked(ls.now())
	if l.current != nil && l.current.id == id {
		return l.current
	}
	for _, s := range l.retained {
		if s.id == id {
			return s
		}
	}
	return nil
}

// sweep drops the snapshots of lists nobody read for idleAfter; the next
// read builds them again.
func (ls *lists) sweep() {
	now := ls.now()
	ls.mu.Lock()
	all := make([]*list, 0, len(ls.byKey))
	for _, l := range ls.byKey {
		all = append(all, l)
	}
	ls.mu.Unlock()
	for _, l := range all {
		l.mu.Lock()
		if now.Sub(l.lastRead) >= idleAfter {
			l.current, l.retained = nil, nil
		}
		l.mu.Unlock()
	}
}

func (l *list) pruneLocked(now time.Time) {
	var kept []*snapshot
	for _, s := range l.retained {
		if now.Sub(s.replaced) < snapshotRetention {
			kept = append(kept, s)
		}
	}
	if len(kept) > maxRetained {
		kept = kept[len(kept)-maxRetained:]
	}
	l.retained = kept
}

func (ls *lists) buildSnapshot(ctx context.Context, k *kind, namespace string, prev *snapshot, gen uint64) (*snapshot, error) {
	objList := k.newList()
	opts := []client.ListOption{client.UnsafeDisableDeepCopy}
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	// Without deep copies the items share maps and slices with the cache's
	// objects; nothing here writes to them.
	if err := ls.reader.List(ctx, objList, opts...); err != nil {
		return nil, fmt.Errorf("list %s from the cache: %w", k.resource, err)
	}
	items, err := meta.ExtractList(objList)
	if err != nil {
		return nil, fmt.Errorf("read the %s list: %w", k.resource, err)
	}
	reuse := map[types.UID]*entry{}
	if prev != nil {
		for _, e := range prev.entries {
			reuse[e.obj.GetUID()] = e
		}
	}
	entries := make([]*entry, 0, len(items))
	var fresh []*entry
	for _, item := range items {
		obj, ok := item.(client.Object)
		if !ok {
			return nil, fmt.Errorf("the %s list holds a %T", k.resource, item)
		}
		if e, ok := reuse[obj.GetUID()]; ok && e.obj.GetResourceVersion() == obj.GetResourceVersion() {
			entries = append(entries, e)
			continue
		}
		e := &entry{obj: obj, key: k.order(obj)}
		entries = append(entries, e)
		fresh = append(fresh, e)
	}
	if err := encodeAll(k, fresh); err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].key.before(entries[j].key) })
	return &snapshot{id: ls.nextID.Add(1), generation: gen, entries: entries}, nil
}

// encodeAll encodes the entries' objects, in parallel when there are
// many: the first listing of a large project encodes every object.
func encodeAll(k *kind, entries []*entry) error {
	if len(entries) < 256 {
		for _, e := range entries {
			raw, err := encodeObject(e.obj, k)
			if err != nil {
				return err
			}
			e.raw = raw
		}
		return nil
	}
	var g errgroup.Group
	workers := runtime.GOMAXPROCS(0)
	chunk := (len(entries) + workers - 1) / workers
	for start := 0; start < len(entries); start += chunk {
		part := entries[start:min(start+chunk, len(entries))]
		g.Go(func() error {
			for _, e := range part {
				raw, err := encodeObject(e.obj, k)
				if err != nil {
					return err
				}
				e.raw = raw
			}
			return nil
		})
	}
	return g.Wait()
}

// shallowCopy returns a copy of obj that shares its maps and slices, so
// that its TypeMeta and managedFields can be set for encoding without
// touching the cache's object.
func shallowCopy(obj client.Object) client.Object {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer {
		return obj
	}
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	out, ok := cp.Interface().(client.Object)
	if !ok {
		return obj
	}
	return out
}

// encodeObject returns obj as JSON with its apiVersion and kind, and
// without managedFields.
func encodeObject(obj client.Object, k *kind) ([]byte, error) {
	cp := shallowCopy(obj)
	cp.GetObjectKind().SetGroupVersionKind(k.gvk())
	cp.SetManagedFields(nil)
	raw, err := json.Marshal(cp)
	if err != nil {
		return nil, fmt.Errorf("encode %s %s: %w", k.name, obj.GetName(), err)
	}
	return raw, nil
}
