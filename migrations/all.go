package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sync"

	"golang.org/x/sync/errgroup"
)

// TenantResult is the outcome of migrating one tenant schema.
type TenantResult struct {
	Alias     string
	Namespace string
	Applied   int   // migrations applied by this run
	Version   int64 // version the schema is at afterwards
	Err       error // nil when the schema is current
}

// String renders the one line `tenantgraph migrate` prints per tenant.
func (r TenantResult) String() string {
	switch {
	case r.Err != nil:
		return fmt.Sprintf("%s (%s): failed: %v", r.Alias, r.Namespace, r.Err)
	case r.Applied == 0:
		return fmt.Sprintf("%s (%s): already current at version %d", r.Alias, r.Namespace, r.Version)
	default:
		return fmt.Sprintf("%s (%s): applied %d, now at version %d", r.Alias, r.Namespace, r.Applied, r.Version)
	}
}

// TenantOptions tunes MigrateTenants.
type TenantOptions struct {
	// FS holds the tenant migrations; nil means TenantFS.
	FS fs.FS
	// Parallel bounds how many tenants migrate at once; zero or less means 4.
	Parallel int
	// Report, when set, is called once per tenant as it finishes, from the
	// goroutine that migrated it; calls are serialised.
	Report func(TenantResult)
}

// MigrateTenants brings every tenant schema to the latest version of
// opts.FS. Tenants whose recorded migration version is already the latest
// are found by one query and not touched, so a run with nothing pending
// costs one round trip whatever the number of tenants. A tenant that fails
// does not stop the others; the results of all tenants attempted are
// returned, and err reports how many failed.
func MigrateTenants(ctx context.Context, db *sql.DB, dsn string, opts TenantOptions) ([]TenantResult, error) {
	fsys := opts.FS
	if fsys == nil {
		fsys = TenantFS
	}
	latest, err := Latest(fsys)
	if err != nil {
		return nil, fmt.Errorf("tenant migrations: %w", err)
	}
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = 4
	}

	// Countries still provisioning are left to the provisioning run, which
	// migrates them itself.
	rows, err := db.QueryContext(ctx, `
		SELECT alias, schema_name
		FROM administration.countries
		WHERE ready AND migration_version < $1
		ORDER BY alias`, latest)
	if err != nil {
		return nil, fmt.Errorf("list pending tenants: %w", err)
	}
	var pending []TenantResult
	for rows.Next() {
		var r TenantResult
		if err := rows.Scan(&r.Alias, &r.Namespace); err != nil {
			rows.Close()
			return nil, err
		}
		pending = append(pending, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list pending tenants: %w", err)
	}

	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for i := range pending {
		g.Go(func() error {
			r := &pending[i]
			r.Applied, r.Version, r.Err = MigrateTenant(gctx, dsn, r.Namespace, fsys)
			if r.Err == nil {
				r.Err = RecordTenantVersion(gctx, db, r.Namespace, r.Version)
			}
			if opts.Report != nil {
				mu.Lock()
				opts.Report(*r)
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()

	failed := 0
	for _, r := range pending {
		if r.Err != nil {
			failed++
		}
	}
	if failed > 0 {
		return pending, fmt.Errorf("%d of %d tenants failed to migrate", failed, len(pending))
	}
	return pending, nil
}

// RecordTenantVersion stores the migration version a tenant schema is at,
// which lets the next MigrateTenants skip it without opening it.
func RecordTenantVersion(ctx context.Context, db *sql.DB, namespace string, version int64) error {
	_, err := db.ExecContext(ctx, `
		UPDATE administration.countries
		SET migration_version = $2, updated_at = now()
		WHERE schema_name = $1`, namespace, version)
	if err != nil {
		return fmt.Errorf("record migration version of %s: %w", namespace, err)
	}
	return nil
}
