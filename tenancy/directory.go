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
	store   *Store
	mu      sync.RWMutex
	byAlias map[string]*Tenant
}

// NewDirectory returns an empty directory over store.
func NewDirectory(store *Store) *Directory {
	return &Directory{store: store, byAlias: map[string]*Tenant{}}
}

// Lookup returns the tenant with alias, in any letter case, or ErrNotFound.
func (d *Directory) Lookup(ctx context.Context, alias string) (*Tenant, error) {
	key := strings.ToLower(alias)
	d.mu.RLock()
	t := d.byAlias[key]
	d.mu.RUnlock()
	if t != nil {
		return t, nil
	}
	t, err := d.store.ByAlias(ctx, alias)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if cur := d.byAlias[key]; cur != nil && cur.SchemaVersion >= t.SchemaVersion {
		t = cur
	} else {
		d.byAlias[key] = t
	}
	d.mu.Unlock()
	return t, nil
}

// SetVersion records that tenant id is at version v, if that is newer than
// what is cached.
func (d *Directory) SetVersion(id, v int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, t := range d.byAlias {
		if t.ID == id && t.SchemaVersion < v {
			nt := *t
			nt.SchemaVersion = v
			d.byAlias[k] = &nt
		}
	}
}

// Forget drops a tenant from the cache.
func (d *Directory) Forget(id int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, t := range d.byAlias {
		if t.ID == id {
			delete(d.byAlias, k)
		}
	}
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
	for k, t := range d.byAlias {
		v, ok := versions[t.ID]
		switch {
		case !ok:
			delete(d.byAlias, k)
		case v > t.SchemaVersion:
			nt := *t
			nt.SchemaVersion = v
			d.byAlias[k] = &nt
		}
	}
	return versions, nil
}
