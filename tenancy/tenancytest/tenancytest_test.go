package tenancytest_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"tenantgraph/migrations"
	"tenantgraph/tenancy"
	"tenantgraph/tenancy/tenancytest"
)

func TestDSN(t *testing.T) {
	// Not parallel: it changes the environment.
	t.Run("CreatesDatabase", func(t *testing.T) {
		base := tenancytest.DSN(t)
		u, err := url.Parse(base)
		if err != nil {
			t.Skipf("test database URL is not a URL: %v", err)
		}
		name := fmt.Sprintf("tenantgraph_test_dsn_%d", rand.Uint64())
		u.Path = "/" + name
		t.Setenv("TEST_DATABASE_URL", u.String())
		t.Cleanup(func() { dropDatabase(t, base, name) })

		dsn := tenancytest.DSN(t)
		if dsn != u.String() {
			t.Errorf("DSN = %q, want TEST_DATABASE_URL %q", dsn, u.String())
		}
		if got := currentDatabase(t, dsn); got != name {
			t.Errorf("connected to %q, want %q", got, name)
		}
	})
}

func TestDB(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	if again := tenancytest.DB(t); again != db {
		t.Error("DB returned a second pool; want the process's one")
	}

	latest, err := migrations.Latest(migrations.AdminFS)
	if err != nil {
		t.Fatal(err)
	}
	var at int64
	if err := db.Get(&at, `SELECT max(version_id) FROM administration.goose_db_version WHERE is_applied`); err != nil {
		t.Fatalf("administration not migrated: %v", err)
	}
	if at != latest {
		t.Errorf("administration at version %d, want %d", at, latest)
	}
}

func TestNewTenant(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	store := tenancy.NewStore(db, tenancytest.DSN(t))
	ctx := context.Background()

	var mu sync.Mutex
	var made []*tenancy.Tenant
	t.Run("group", func(t *testing.T) {
		for range 8 {
			t.Run("Parallel", func(t *testing.T) {
				t.Parallel()
				tn := tenancytest.NewTenant(t, db)
				got, err := store.ByAlias(ctx, tn.Alias)
				if err != nil {
					t.Fatalf("new tenant not found: %v", err)
				}
				if !strings.EqualFold(got.Name, "Test "+tn.Alias) || len(tn.Alias) < 2 || len(tn.Alias) > 10 {
					t.Errorf("tenant %+v: want alias of 2 to 10 characters and name \"Test <alias>\"", got)
				}
				mu.Lock()
				made = append(made, tn)
				mu.Unlock()
			})
		}
	})

	seen := map[string]bool{}
	for _, tn := range made {
		if seen[tn.Alias] {
			t.Errorf("alias %s handed out twice", tn.Alias)
		}
		seen[tn.Alias] = true
		if _, err := store.ByAlias(ctx, tn.Alias); err == nil {
			t.Errorf("tenant %s still there after its test ended", tn.Alias)
		}
		var exists bool
		if err := db.Get(&exists, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, tn.Namespace); err != nil {
			t.Fatal(err)
		}
		if exists {
			t.Errorf("schema %s still there after its test ended", tn.Namespace)
		}
	}
	if len(made) != 8 {
		t.Errorf("%d tenants made, want 8", len(made))
	}
}

func TestNewDatabase(t *testing.T) {
	t.Parallel()
	base := tenancytest.DSN(t)

	var mu sync.Mutex
	var names []string
	t.Run("group", func(t *testing.T) {
		for range 2 {
			t.Run("Empty", func(t *testing.T) {
				t.Parallel()
				dsn := tenancytest.NewDatabase(t)
				name := currentDatabase(t, dsn)
				if name == currentDatabase(t, base) {
					t.Fatalf("NewDatabase returned the test database %s", name)
				}
				db := open(t, dsn)
				var n int
				if err := db.Get(&n, `SELECT count(*) FROM pg_namespace WHERE nspname = 'administration'`); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Error("new database has an administration schema; want it empty")
				}
				// Left open on purpose: the cleanup must drop it anyway.
				mu.Lock()
				names = append(names, name)
				mu.Unlock()
			})
		}
	})

	if len(names) != 2 || names[0] == names[1] {
		t.Fatalf("databases %v, want two different ones", names)
	}
	db := open(t, base)
	for _, name := range names {
		var exists bool
		if err := db.Get(&exists, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name); err != nil {
			t.Fatal(err)
		}
		if exists {
			t.Errorf("database %s still there after its test ended", name)
		}
	}
}

func currentDatabase(tb testing.TB, dsn string) string {
	tb.Helper()
	db := open(tb, dsn)
	defer db.Close()
	var name string
	if err := db.Get(&name, `SELECT current_database()`); err != nil {
		tb.Fatal(err)
	}
	return name
}

func open(tb testing.TB, dsn string) *sqlx.DB {
	tb.Helper()
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func dropDatabase(tb testing.TB, dsn, name string) {
	tb.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP DATABASE IF EXISTS "` + name + `" WITH (FORCE)`); err != nil {
		tb.Errorf("drop database %s: %v", name, err)
	}
}
