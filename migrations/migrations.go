// Package migrations owns the SQL that shapes the database: the
// administration schema and the baseline of every tenant schema, and the
// goose runs that apply them. Each tenant schema keeps its own goose version
// table inside itself, so tenants can be migrated, retried and inspected one
// by one.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net/url"
	"strings"

	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed admin/*.sql tenant/*.sql
var embedded embed.FS

// AdminFS holds the migrations of the administration schema.
var AdminFS = mustSub("admin")

// TenantFS holds the migrations applied to every tenant schema.
var TenantFS = mustSub("tenant")

// AdminSchema is the PostgreSQL schema that holds users, countries,
// memberships, tokens and sessions.
const AdminSchema = "administration"

// versionTable is the unqualified name of goose's version table; every
// migrated schema keeps one.
const versionTable = "goose_db_version"

func mustSub(dir string) fs.FS {
	sub, err := fs.Sub(embedded, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// MigrateAdmin applies the administration migrations. It is safe to run from
// several processes at once: a session advisory lock serialises them.
func MigrateAdmin(ctx context.Context, db *sql.DB) (applied int, err error) {
	// The version table must live in the administration schema, which the
	// first migration creates; goose creates its table before running it.
	// NOTE: two sessions running CREATE SCHEMA IF NOT EXISTS at once can
	// both miss the schema, and the loser fails with a unique violation on
	// pg_namespace; by then the winner has committed it, so that is success.
	var pqErr *pq.Error
	_, err = db.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+AdminSchema)
	if err != nil && !(errors.As(err, &pqErr) && pqErr.Code == "23505") {
		return 0, fmt.Errorf("create administration schema: %w", err)
	}
	p, err := newProvider(db, AdminFS, AdminSchema)
	if err != nil {
		return 0, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrate administration: %w", err)
	}
	return len(res), nil
}

// Latest returns the highest version in fsys, the version a current schema
// is at.
func Latest(fsys fs.FS) (int64, error) {
	var latest int64
	entries, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return 0, err
	}
	for _, name := range entries {
		v, err := goose.NumericComponent(name)
		if err != nil {
			return 0, fmt.Errorf("migration %s: %w", name, err)
		}
		latest = max(latest, v)
	}
	if latest == 0 {
		return 0, errors.New("no migrations")
	}
	return latest, nil
}

// MigrateTenant applies fsys to the tenant schema namespace, which must
// exist. dsn is the server's connection string: goose takes a connection of
// its own, so the tenant's search_path has to travel in the connection
// string rather than be set on a pooled connection. It returns the number of
// migrations applied and the version the schema is now at.
func MigrateTenant(ctx context.Context, dsn, namespace string, fsys fs.FS) (applied int, version int64, err error) {
	tdsn, err := WithSearchPath(dsn, namespace)
	if err != nil {
		return 0, 0, err
	}
	db, err := sql.Open("postgres", tdsn)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	p, err := newProvider(db, fsys, namespace)
	if err != nil {
		return 0, 0, err
	}
	res, upErr := p.Up(ctx)
	applied = len(res)
	// On failure goose returns no results; the ones applied before the
	// failing migration are in its PartialError.
	var partial *goose.PartialError
	if errors.As(upErr, &partial) {
		applied = len(partial.Applied)
	}
	version, err = p.GetDBVersion(ctx)
	if upErr != nil {
		return applied, version, upErr
	}
	return applied, version, err
}

// newProvider builds a goose provider whose version table lives in
// namespace and whose advisory lock is particular to namespace, so two
// processes never migrate one schema at once while different schemas
// proceed in parallel.
func newProvider(db *sql.DB, fsys fs.FS, namespace string) (*goose.Provider, error) {
	h := fnv.New64a()
	h.Write([]byte("tenantgraph migrate " + namespace))
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64()>>1)),
		lock.WithLockTimeout(1, 120),
	)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithTableName(namespace+"."+versionTable),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
}

// WithSearchPath returns dsn with the run-time parameter search_path set to
// namespace alone. It accepts both URL and key=value connection strings.
func WithSearchPath(dsn, namespace string) (string, error) {
	return WithParam(dsn, "search_path", pq.QuoteIdentifier(namespace))
}

// WithParam returns dsn with one connection parameter set, unless dsn sets
// it already. It accepts both URL and key=value connection strings.
func WithParam(dsn, key, value string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse database url: %w", err)
		}
		q := u.Query()
		if q.Has(key) && key != "search_path" {
			return dsn, nil
		}
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	if strings.Contains(dsn, key+"=") && key != "search_path" {
		return dsn, nil
	}
	quoted := strings.ReplaceAll(strings.ReplaceAll(value, `\`, `\\`), `'`, `\'`)
	return dsn + " " + key + "='" + quoted + "'", nil
}
