package tenancy

import (
	"context"
	"strings"
	"sync"
)

// Directory finds tenants by alias without a query per request: it caches
// what the store returns and is kept current by SetVersion (change
// notifications) and Sync (periodic checks). Cached tenants are never
// changed in place; an update replaces the pointer.
type Directory struct {
	store *Store
	mu    sync.RWMutex
	byKey map[string]*Tenant // by lower-case alias
	keyOf map[int64]string   // tenant id -> key
}

// NewDirectory returns an empty directory over store.
func NewDirectory(store *Store) *Directory {
	return &Directory{store: store, byKey: map[string]*Tenant{}, keyOf: map[int64]string{}}
}

// Lookup returns the tenant with alias, in any letter case, or ErrNotFound.
func (d *Directory) Lookup(ctx context.Context, alias string) (*Tenant, error) {
	d.mu.RLock()
	t := d.byKey[strings.ToLower(alias)]
	d.mu.RUnlock()
	if t != nil {
		return t, nil
	}
	return d.Refresh(ctx, alias)
}

// Refresh reads the tenant with alias from the store and caches it; used
// on a cache miss and when a client says a newer version exists.
func (d *Directory) Refresh(ctx context.Context, alias string) (*Tenant, error) {
	t, err := d.store.ByAlias(ctx, alias)
	if err != nil {
		return nil, err
	}
	key := strings.ToLower(t.Alias)
	d.mu.Lock()
	defer d.mu.Unlock()
	if cur := d.byKey[key]; cur != nil && cur.ID == t.ID && cur.SchemaVersion >= t.SchemaVersion {
		return cur, nil
	}
	if old, ok := d.keyOf[t.ID]; ok && old != key {
		delete(d.byKey, old)
	}
	d.byKey[key] = t
	d.keyOf[t.ID] = key
	return t, nil
}

// Cached returns the cached tenant with id, or nil.
func (d *Directory) Cached(id int64) *Tenant {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.byKey[d.keyOf[id]]
}

// SetVersion records that tenant id is at version v, if that is newer than
// what is cached.
func (d *Directory) SetVersion(id, v int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setVersionLocked(id, v)
}

func (d *Directory) setVersionLocked(id, v int64) {
	key, ok := d.keyOf[id]
	if !ok {
		return
	}
	if t := d.byKey[key]; t != nil && t.SchemaVersion < v {
		nt := *t
		nt.SchemaVersion = v
		d.byKey[key] = &nt
	}
}

// Forget drops a tenant from the cache.
func (d *Directory) Forget(id int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.byKey, d.keyOf[id])
	delete(d.keyOf, id)
}

// Sync reads every tenant's version in one query, updates the cache, drops
// tenants that no longer exist, and returns the versions.
func (d *Directory) Sync(ctx context.Context) (map[int64]int64, error) {
	versions, err := d.store.Versions(ctx)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, key := range d.keyOf {
		v, ok := versions[id]
		if !ok {
			delete(d.byKey, key)
			delete(d.keyOf, id)
			continue
		}
		d.setVersionLocked(id, v)
	}
	return versions, nil
}
