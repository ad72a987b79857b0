// Package tenancytest provides helpers for tests that need PostgreSQL: the
// test database, a shared pool with the administration schema migrated, a
// throwaway tenant per test and a throwaway database per test.
//
// PostgreSQL must answer: a test that needs it fails when it does not
// (`make test` makes sure it runs). The server is found through
// TEST_DATABASE_URL, else DATABASE_URL, else DefaultDSN.
package tenancytest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"tenantgraph/migrations"
	"tenantgraph/tenancy"
)

// DefaultDSN is the test database used when neither TEST_DATABASE_URL nor
// DATABASE_URL is set.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/tenantgraph_test?sslmode=disable"

// MaxOpenConns bounds the pool DB returns. Every test process of the
// repository shares one server, whose max_connections is 100 by default.
const MaxOpenConns = 16

// connectTimeout bounds how long the helpers wait for PostgreSQL to answer.
const connectTimeout = 10 * time.Second

var (
	mu sync.Mutex
	// ensured holds the DSNs whose database is known to exist.
	ensured = map[string]bool{}
	// pools holds one migrated pool per DSN for the life of the process.
	pools = map[string]*sqlx.DB{}
)

// DSN returns the connection string of the test database, creating the
// database when it does not exist yet. It fails the test when PostgreSQL
// does not answer.
func DSN(tb testing.TB) string {
	tb.Helper()
	dsn := lookupDSN()

	mu.Lock()
	defer mu.Unlock()
	if ensured[dsn] {
		return dsn
	}
	if err := ensureDatabase(dsn); err != nil {
		if pq.As(err) == nil {
			tb.Fatalf("tenancytest: PostgreSQL does not answer at %s: %v\n"+
				"Start it (make test does) or point TEST_DATABASE_URL at one.", redact(dsn), err)
		}
		tb.Fatalf("tenancytest: test database %s: %v", redact(dsn), err)
	}
	ensured[dsn] = true
	return dsn
}

// DB returns a pool on the test database whose administration schema is
// migrated. The pool is shared by every test of the process and stays open;
// do not close it. It opens at most MaxOpenConns connections; a test that
// needs a pool of a given size opens its own on DSN.
func DB(tb testing.TB) *sqlx.DB {
	tb.Helper()
	dsn := DSN(tb)

	mu.Lock()
	defer mu.Unlock()
	if db := pools[dsn]; db != nil {
		return db
	}
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		tb.Fatalf("tenancytest: open %s: %v", redact(dsn), err)
	}
	db.SetMaxOpenConns(MaxOpenConns)
	db.SetMaxIdleConns(MaxOpenConns)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// MigrateAdmin holds an advisory lock, so test processes of other
	// packages migrating the same database at once wait for each other.
	if _, err := migrations.MigrateAdmin(ctx, db.DB); err != nil {
		db.Close()
		tb.Fatalf("tenancytest: migrate administration schema of %s: %v", redact(dsn), err)
	}
	pools[dsn] = db
	return db
}

// NewTenant creates a tenant with a random alias ("T" and 8 lowercase
// letters or digits) named "Test <alias>", and drops it when the test ends.
// The returned tenant is as stored, so its Alias is in upper case. It is
// safe to call from parallel tests.
func NewTenant(tb testing.TB, db *sqlx.DB) *tenancy.Tenant {
	tb.Helper()
	store := tenancy.NewStore(db, DSN(tb))
	alias := "T" + randomString(8)

	t, err := store.Create(context.Background(), tenancy.NewTenant{
		Name:  "Test " + alias,
		Alias: alias,
	})
	if err != nil {
		tb.Fatalf("tenancytest: create tenant %s: %v", alias, err)
	}
	tb.Cleanup(func() {
		// A test may have dropped its tenant itself.
		err := store.Drop(context.Background(), alias, alias)
		if err != nil && !errors.Is(err, tenancy.ErrNotFound) {
			tb.Errorf("tenancytest: drop tenant %s: %v", alias, err)
		}
	})
	return t
}

// NewDatabase creates an empty database with a random name on the test
// server and returns its connection string. The database is dropped when
// the test ends, even if connections to it are still open.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	dsn := DSN(tb)
	name := "tenantgraph_test_" + randomString(10)

	if err := withMaintenanceDB(dsn, func(ctx context.Context, db *sql.DB) error {
		return createDatabase(ctx, db, name)
	}); err != nil {
		tb.Fatalf("tenancytest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		var err error
		// A busy shared server may refuse a connection for a moment; a
		// database left behind would stay until someone drops it.
		for attempt := 0; attempt < 10; attempt++ {
			err = withMaintenanceDB(dsn, func(ctx context.Context, db *sql.DB) error {
				_, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+pq.QuoteIdentifier(name)+` WITH (FORCE)`)
				return err
			})
			if pq.As(err, "53300") == nil { // too_many_connections
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			tb.Errorf("tenancytest: drop database %s: %v", name, err)
		}
	})

	out, err := withDatabase(dsn, name)
	if err != nil {
		tb.Fatalf("tenancytest: %v", err)
	}
	return out
}

func lookupDSN() string {
	for _, key := range []string{"TEST_DATABASE_URL", "DATABASE_URL"} {
		if v := strings.TrimSpace(os.Getenv(key)); v != "" {
			return v
		}
	}
	return DefaultDSN
}

// ensureDatabase checks that dsn's database answers, creating it through
// the server's postgres database when it does not exist.
func ensureDatabase(dsn string) error {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()

	err = db.PingContext(ctx)
	if pq.As(err, "3D000") == nil { // 3D000: invalid_catalog_name
		return err
	}
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		return err
	}
	return withMaintenanceDB(dsn, func(ctx context.Context, db *sql.DB) error {
		return createDatabase(ctx, db, cfg.Database)
	})
}

// createDatabase creates name, tolerating another test process that
// created it first.
func createDatabase(ctx context.Context, db *sql.DB, name string) error {
	for attempt := 0; ; attempt++ {
		_, err := db.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(name))
		switch {
		case pq.As(err, "42P04", "23505") != nil:
			// duplicate_database, or a unique violation when another
			// process created it while this one was creating it too.
			return nil
		case pq.As(err, "55006") != nil && attempt < 20:
			// object_in_use: someone is connected to template1 for a moment.
			time.Sleep(100 * time.Millisecond)
			continue
		}
		return err
	}
}

// withMaintenanceDB runs fn on a short-lived connection to the postgres
// database of dsn's server.
func withMaintenanceDB(dsn string, fn func(context.Context, *sql.DB) error) error {
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		return err
	}
	cfg.Database = "postgres"
	connector, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	db.SetMaxOpenConns(1)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return fn(ctx, db)
}

// withDatabase returns dsn pointing at the database name instead.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse database url: %w", err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// In key=value strings the last setting of a key wins.
	return dsn + " dbname='" + name + "'", nil
}

// redact hides a password in dsn for error messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	fields := strings.Fields(dsn)
	for i, f := range fields {
		if strings.HasPrefix(f, "password=") {
			fields[i] = "password=xxxxx"
		}
	}
	return strings.Join(fields, " ")
}

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}
