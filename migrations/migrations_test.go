package migrations_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"tenantgraph/migrations"
	"tenantgraph/tenancy/tenancytest"
)

func TestMigrateAdmin(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		db := openDB(t, tenancytest.NewDatabase(t))
		want := countFiles(t, migrations.AdminFS)

		n, err := migrations.MigrateAdmin(ctx, db.DB)
		if err != nil {
			t.Fatalf("MigrateAdmin: %v", err)
		}
		if n != want {
			t.Errorf("first run applied %d, want %d", n, want)
		}
		n, err = migrations.MigrateAdmin(ctx, db.DB)
		if err != nil || n != 0 {
			t.Errorf("second run = %d, %v; want 0, nil", n, err)
		}

		// The version table lives in the administration schema, not public.
		if !exists(t, db, "administration.goose_db_version") || exists(t, db, "public.goose_db_version") {
			t.Error("goose_db_version is not (only) in administration")
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		// Replicas booting together, or the test processes of several
		// packages, migrate one fresh database at once. To make the runs
		// meet every time, a transaction of the test creates the schema
		// first and commits only once every run waits on its row.
		ctx := context.Background()
		dsn := tenancytest.NewDatabase(t)
		want := countFiles(t, migrations.AdminFS)
		blocker, err := openDB(t, dsn).BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer blocker.Rollback()
		if _, err := blocker.Exec(`CREATE SCHEMA administration`); err != nil {
			t.Fatal(err)
		}

		const runs = 4
		var mu sync.Mutex
		total := 0
		var wg sync.WaitGroup
		for range runs {
			db := openDB(t, dsn) // a pool each, like separate processes
			wg.Go(func() {
				n, err := migrations.MigrateAdmin(ctx, db.DB)
				if err != nil {
					t.Errorf("MigrateAdmin: %v", err)
				}
				mu.Lock()
				total += n
				mu.Unlock()
			})
		}
		if err := waitForLockWaiters(openDB(t, dsn), runs); err != nil {
			blocker.Rollback()
			wg.Wait()
			t.Fatal(err)
		}
		if err := blocker.Commit(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if total != want {
			t.Errorf("runs applied %d migrations in all, want %d", total, want)
		}
	})
}

func TestMigrateTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := tenancytest.NewDatabase(t)
	db := openDB(t, dsn)
	for _, ns := range []string{"one_schema", "two_schema"} {
		if _, err := db.Exec(`CREATE SCHEMA ` + ns); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("OK", func(t *testing.T) {
		applied, version, err := migrations.MigrateTenant(ctx, dsn, "one_schema", migrations.TenantFS)
		if err != nil || applied != 1 || version != 1 {
			t.Fatalf("MigrateTenant = %d, %d, %v; want 1, 1, nil", applied, version, err)
		}
		// Everything landed in the tenant's schema, version table included.
		for _, rel := range []string{"brand", "extras", "toyota", "ford", "chevrolet", "goose_db_version"} {
			if !exists(t, db, "one_schema."+rel) {
				t.Errorf("one_schema.%s is missing", rel)
			}
			if exists(t, db, "public."+rel) || exists(t, db, "two_schema."+rel) {
				t.Errorf("%s created outside one_schema", rel)
			}
		}

		applied, version, err = migrations.MigrateTenant(ctx, dsn, "one_schema", migrations.TenantFS)
		if err != nil || applied != 0 || version != 1 {
			t.Errorf("second run = %d, %d, %v; want 0, 1, nil", applied, version, err)
		}
	})

	t.Run("ErrPartial", func(t *testing.T) {
		fsys := withTenantMigrations(t, map[string]string{
			"00002_ok.sql":     "CREATE TABLE two_ok (id int);",
			"00003_broken.sql": "SELECT 1/0;",
		})
		applied, version, err := migrations.MigrateTenant(ctx, dsn, "two_schema", fsys)
		if err == nil {
			t.Fatal("MigrateTenant succeeded; want 00003's error")
		}
		if applied != 2 || version != 2 {
			t.Errorf("MigrateTenant = %d, %d; want the 2 applied before the failure, at version 2", applied, version)
		}
		if pq.As(err, "22012") == nil { // division_by_zero
			t.Errorf("error %v does not wrap the PostgreSQL error", err)
		}
	})

	t.Run("ErrNoSchema", func(t *testing.T) {
		if _, _, err := migrations.MigrateTenant(ctx, dsn, "no_such_schema", migrations.TenantFS); err == nil {
			t.Error("MigrateTenant into a missing schema succeeded")
		}
		if exists(t, db, "public.brand") || exists(t, db, "public.goose_db_version") {
			t.Error("a failed run into a missing schema created tables in public")
		}
	})
}

func TestLatest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fsys fs.FS
		want int64
		ok   bool
	}{
		{"tenant", migrations.TenantFS, 1, true},
		{"admin", migrations.AdminFS, 1, true},
		{"gaps", fstest.MapFS{"00001_a.sql": {}, "00007_b.sql": {}, "00003_c.sql": {}, "README.md": {}}, 7, true},
		{"timestamps", fstest.MapFS{"20240101120000_a.sql": {}, "00002_b.sql": {}}, 20240101120000, true},
		{"empty", fstest.MapFS{}, 0, false},
		{"bad name", fstest.MapFS{"first.sql": {}}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := migrations.Latest(tt.fsys)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("Latest = %d, %v; want %d, ok %v", got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestWithSearchPath(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		tests := []struct {
			dsn, ns, want string
		}{
			{"postgres://u@h:5432/db?sslmode=disable", "mexico_mx_schema",
				`postgres://u@h:5432/db?search_path=%22mexico_mx_schema%22&sslmode=disable`},
			{"postgresql://u:p%40ss@h/db", "a_b_schema",
				`postgresql://u:p%40ss@h/db?search_path=%22a_b_schema%22`},
			// An existing search_path is replaced, not added to.
			{"postgres://h/db?search_path=public", "x_schema",
				`postgres://h/db?search_path=%22x_schema%22`},
			{"host=h dbname=db sslmode=disable", "mexico_mx_schema",
				`host=h dbname=db sslmode=disable search_path='"mexico_mx_schema"'`},
		}
		for _, tt := range tests {
			got, err := migrations.WithSearchPath(tt.dsn, tt.ns)
			if err != nil || got != tt.want {
				t.Errorf("WithSearchPath(%q, %q) = %q, %v; want %q", tt.dsn, tt.ns, got, err, tt.want)
			}
		}
	})

	t.Run("Server", func(t *testing.T) {
		// What the server makes of it, for both forms and an awkward name.
		base := tenancytest.DSN(t)
		for _, dsn := range []string{base, keyValueDSN(t, base)} {
			for _, ns := range []string{"mexico_mx_schema", `we'ird "name" $user`} {
				withPath, err := migrations.WithSearchPath(dsn, ns)
				if err != nil {
					t.Fatal(err)
				}
				db := openDB(t, withPath)
				var got string
				if err := db.Get(&got, `SHOW search_path`); err != nil {
					t.Fatalf("connect with %q: %v", withPath, err)
				}
				if want := pq.QuoteIdentifier(ns); got != want {
					t.Errorf("search_path = %s, want %s (dsn %q)", got, want, redact(withPath))
				}
			}
		}
	})
}

func TestWithParam(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, dsn, key, value, want string
	}{
		{"url adds", "postgres://u@h/db?sslmode=disable", "binary_parameters", "yes",
			"postgres://u@h/db?binary_parameters=yes&sslmode=disable"},
		{"url keeps the caller's setting", "postgres://u@h/db?binary_parameters=no", "binary_parameters", "yes",
			"postgres://u@h/db?binary_parameters=no"},
		{"url replaces search_path", "postgres://u@h/db?search_path=public", "search_path", "x",
			"postgres://u@h/db?search_path=x"},
		{"key=value adds", "host=h dbname=db", "binary_parameters", "yes",
			"host=h dbname=db binary_parameters='yes'"},
		{"key=value keeps the caller's setting", "host=h binary_parameters=no", "binary_parameters", "yes",
			"host=h binary_parameters=no"},
		{"key=value escapes", "host=h", "application_name", `it's a \ test`,
			`host=h application_name='it\'s a \\ test'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := migrations.WithParam(tt.dsn, tt.key, tt.value)
			if err != nil || got != tt.want {
				t.Errorf("WithParam(%q, %q, %q) = %q, %v; want %q", tt.dsn, tt.key, tt.value, got, err, tt.want)
			}
		})
	}

	t.Run("Server", func(t *testing.T) {
		// The escaped value reaches the server intact.
		kv := keyValueDSN(t, tenancytest.DSN(t))
		const name = `it's a \ "test"`
		dsn, err := migrations.WithParam(kv, "application_name", name)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := openDB(t, dsn).Get(&got, `SHOW application_name`); err != nil {
			t.Fatal(err)
		}
		if got != name {
			t.Errorf("application_name = %q, want %q", got, name)
		}
	})
}

// withTenantMigrations returns the real tenant migrations plus extra, a map
// of file name to the SQL of its Up section.
func withTenantMigrations(tb testing.TB, extra map[string]string) fstest.MapFS {
	tb.Helper()
	fsys := fstest.MapFS{}
	err := fs.WalkDir(migrations.TenantFS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(migrations.TenantFS, path)
		fsys[path] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	for name, sql := range extra {
		fsys[name] = &fstest.MapFile{Data: []byte("-- +goose Up\n" + sql + "\n")}
	}
	return fsys
}

// waitForLockWaiters waits until n sessions of db's database wait on a
// lock.
func waitForLockWaiters(db *sqlx.DB, n int) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting int
		err := db.Get(&waiting, `
			SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`)
		if err != nil {
			return err
		}
		if waiting >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d sessions wait on a lock after 20s, want %d", waiting, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// keyValueDSN returns dsn as a key=value connection string.
func keyValueDSN(tb testing.TB, dsn string) string {
	tb.Helper()
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	quote := func(v string) string {
		return "'" + strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), `'`, `\'`) + "'"
	}
	kv := fmt.Sprintf("host=%s port=%d user=%s dbname=%s", quote(cfg.Host), cfg.Port, quote(cfg.User), quote(cfg.Database))
	if cfg.Password != "" {
		kv += " password=" + quote(cfg.Password)
	}
	if cfg.SSLMode != "" {
		kv += " sslmode=" + string(cfg.SSLMode)
	}
	return kv
}

func openDB(tb testing.TB, dsn string) *sqlx.DB {
	tb.Helper()
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	// The server is shared with every other test process.
	db.SetMaxOpenConns(4)
	tb.Cleanup(func() { db.Close() })
	return db
}

// exists reports whether the schema-qualified relation rel exists.
func exists(tb testing.TB, db *sqlx.DB, rel string) bool {
	tb.Helper()
	var ok bool
	if err := db.Get(&ok, `SELECT to_regclass($1) IS NOT NULL`, rel); err != nil {
		tb.Fatal(err)
	}
	return ok
}

func countFiles(tb testing.TB, fsys fs.FS) int {
	tb.Helper()
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		tb.Fatal(err)
	}
	return len(names)
}

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return strings.Split(dsn, "password=")[0]
}
