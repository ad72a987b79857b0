package schema

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/jmoiron/sqlx"

	"tenantgraph/tenancy"
)

// Registry keeps one current schema per tenant. Each is built lazily on the
// tenant's first request, rebuilt when the tenant's version moves past it,
// and published behind an atomic pointer: a request takes the pointer once
// and runs wholly on that schema, and a published schema is never changed.
// Schemas of tenants not used for a while are dropped when the registry
// holds more than its limit, and rebuilt on demand.
type Registry struct {
	db   *sqlx.DB
	opts *Options
	max  int

	mu      sync.Mutex
	entries map[int64]*entry

	// shapes finds the schema already built for a catalog of the same
	// shape, so tenants that look alike share one. Weak pointers let a
	// shape go once no tenant's schema uses it.
	shapesMu sync.Mutex
	shapes   map[[32]byte]weak.Pointer[shape]

	// OnBuild, when set, is called after each build with its duration, its
	// error, and whether it replaced an older schema; set it before first
	// use.
	OnBuild func(tenant string, d time.Duration, err error, swapped bool)
}

type entry struct {
	build  sync.Mutex // one build at a time per tenant
	cur    atomic.Pointer[Built]
	want   atomic.Int64 // newest version known to exist
	used   atomic.Int64 // unix nanoseconds of the last Get
	failed atomic.Int64 // unix nanoseconds of the last failed build
}

// NewRegistry returns an empty registry that keeps at most maxSchemas built
// schemas (zero means 2000).
func NewRegistry(db *sqlx.DB, opts *Options, maxSchemas int) *Registry {
	if opts == nil {
		opts = &Options{}
	}
	if maxSchemas <= 0 {
		maxSchemas = 2000
	}
	return &Registry{db: db, opts: opts, max: maxSchemas, entries: map[int64]*entry{},
		shapes: map[[32]byte]weak.Pointer[shape]{}}
}

// Options returns the options schemas are built with.
func (r *Registry) Options() *Options { return r.opts }

func (r *Registry) entry(id int64) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[id]
	if e == nil {
		e = &entry{}
		r.entries[id] = e
		if len(r.entries) > r.max {
			r.evictLocked()
		}
	}
	return e
}

// evictLocked drops the least recently used tenth of the entries.
func (r *Registry) evictLocked() {
	type aged struct {
		id   int64
		used int64
	}
	all := make([]aged, 0, len(r.entries))
	for id, e := range r.entries {
		all = append(all, aged{id, e.used.Load()})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].used < all[j].used })
	for _, a := range all[:len(all)/10+1] {
		delete(r.entries, a.id)
	}
}

// Len is how many tenants have an entry.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

// Observe records that version v of tenant id exists, so its next Get
// rebuilds if its schema is older. It is how notifications and periodic
// checks reach the registry.
func (r *Registry) Observe(id, v int64) {
	r.mu.Lock()
	e := r.entries[id]
	r.mu.Unlock()
	if e == nil {
		return // never built here; the first Get builds the newest
	}
	for {
		old := e.want.Load()
		if v <= old || e.want.CompareAndSwap(old, v) {
			return
		}
	}
}

// Forget drops a tenant's schema, e.g. after the tenant was dropped.
func (r *Registry) Forget(id int64) {
	r.mu.Lock()
	delete(r.entries, id)
	r.mu.Unlock()
}

// Current returns the schema version the registry serves for tenant id,
// and false if none is built.
func (r *Registry) Current(id int64) (int64, bool) {
	r.mu.Lock()
	e := r.entries[id]
	r.mu.Unlock()
	if e == nil {
		return 0, false
	}
	if b := e.cur.Load(); b != nil {
		return b.Version, true
	}
	return 0, false
}

// retryFailedAfter spaces out rebuild attempts of a tenant whose build
// fails while an older schema keeps serving.
const retryFailedAfter = time.Second

// Get returns the tenant's current schema, building it when there is none
// or when it is older than t.SchemaVersion or any version observed. When a
// rebuild fails the previous schema keeps serving.
func (r *Registry) Get(ctx context.Context, t *tenancy.Tenant) (*Built, error) {
	e := r.entry(t.ID)
	e.used.Store(time.Now().UnixNano())
	want := max(e.want.Load(), t.SchemaVersion)
	if b := e.cur.Load(); b != nil && b.Version >= want {
		return b, nil
	}
	if b := e.cur.Load(); b != nil && time.Since(time.Unix(0, e.failed.Load())) < retryFailedAfter {
		return b, nil
	}
	b, err := r.rebuild(ctx, e, t, want)
	if err != nil && b != nil {
		// The previous schema keeps serving; rebuild already logged why.
		return b, nil
	}
	return b, err
}

// Rebuild builds the tenant's schema now and publishes it, unless one at
// least as new is already in place. It returns once the new schema serves,
// or an error when it could not be built (the previous one, if any, keeps
// serving).
func (r *Registry) Rebuild(ctx context.Context, t *tenancy.Tenant) (*Built, error) {
	e := r.entry(t.ID)
	b, err := r.rebuild(ctx, e, t, t.SchemaVersion)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// rebuild builds and publishes the tenant's schema. When the build fails
// it returns the error together with the schema still serving, if any.
func (r *Registry) rebuild(ctx context.Context, e *entry, t *tenancy.Tenant, want int64) (*Built, error) {
	e.build.Lock()
	defer e.build.Unlock()
	// Another request may have built it while this one waited.
	if b := e.cur.Load(); b != nil && b.Version >= want && want > 0 {
		return b, nil
	}
	start := time.Now()
	b, err := r.build(ctx, t)
	if err != nil {
		if r.OnBuild != nil {
			r.OnBuild(t.Alias, time.Since(start), err, false)
		}
		e.failed.Store(time.Now().UnixNano())
		if prev := e.cur.Load(); prev != nil {
			r.opts.logger().Warn("schema rebuild failed; serving the previous one",
				"tenant", t.Alias, "version", prev.Version, "err", err)
			return prev, err
		}
		return nil, err
	}
	prev := e.cur.Load()
	if prev == nil || b.Version >= prev.Version {
		e.cur.Store(b)
	}
	if r.OnBuild != nil {
		r.OnBuild(t.Alias, time.Since(start), nil, prev != nil)
	}
	r.opts.logger().Info("schema built", "tenant", t.Alias, "version", b.Version,
		"tables", len(b.tables), "omitted", len(b.Omitted), "duration", time.Since(start))
	for _, o := range b.Omitted {
		r.opts.logger().Warn("left out of the schema", "tenant", t.Alias, "what", o)
	}
	return e.cur.Load(), nil
}

// build reads the tenant's catalog in one query and builds its schema, or
// reuses the shape of another tenant whose catalog is the same.
func (r *Registry) build(ctx context.Context, t *tenancy.Tenant) (*Built, error) {
	cat, err := tenancy.ReadCatalog(ctx, r.db, t.Namespace)
	if err != nil {
		return nil, err
	}
	sh, err := r.shape(cat)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.Alias, err)
	}
	b := sh.forTenant(t, cat.Version, r.opts)
	b.registry = r
	return b, nil
}

// shape returns the shared shape for cat's tables, building it if no live
// schema has it.
func (r *Registry) shape(cat *tenancy.Catalog) (*shape, error) {
	key, err := fingerprint(cat.Tables)
	if err != nil {
		return nil, err
	}
	r.shapesMu.Lock()
	if sh := r.shapes[key].Value(); sh != nil {
		r.shapesMu.Unlock()
		return sh, nil
	}
	r.shapesMu.Unlock()

	sh, err := buildShape(cat.Tables, r.opts)
	if err != nil {
		return nil, err
	}
	r.shapesMu.Lock()
	defer r.shapesMu.Unlock()
	if prev := r.shapes[key].Value(); prev != nil {
		return prev, nil // built meanwhile by another tenant of this shape
	}
	if len(r.shapes) >= 2*r.max {
		for k, p := range r.shapes {
			if p.Value() == nil {
				delete(r.shapes, k)
			}
		}
	}
	r.shapes[key] = weak.Make(sh)
	return sh, nil
}

// Shapes is how many distinct shapes are alive.
func (r *Registry) Shapes() int {
	r.shapesMu.Lock()
	defer r.shapesMu.Unlock()
	n := 0
	for _, p := range r.shapes {
		if p.Value() != nil {
			n++
		}
	}
	return n
}

// fingerprint identifies a catalog's shape: everything the schema is built
// from (tables, columns, types, defaults, extras), nothing tenant-specific.
func fingerprint(tables []tenancy.Table) ([32]byte, error) {
	type col struct {
		tenancy.Column
		Extra *tenancy.Extra
	}
	type tbl struct {
		Name    string
		Columns []col
	}
	out := make([]tbl, len(tables))
	for i, t := range tables {
		out[i].Name = t.Name
		for _, c := range t.Columns {
			var e *tenancy.Extra
			if c.Extra != nil {
				ec := *c.Extra
				ec.ID = 0 // ids differ between tenants and never reach the schema
				e = &ec
			}
			out[i].Columns = append(out[i].Columns, col{c, e})
		}
	}
	data, err := json.Marshal(out)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(data), nil
}
