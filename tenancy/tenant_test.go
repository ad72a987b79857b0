package tenancy_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"tenantgraph/migrations"
	"tenantgraph/tenancy"
	"tenantgraph/tenancy/tenancytest"
)

func TestStore_Create(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		store := tenancy.NewStore(db, tenancytest.DSN(t))
		alias := newAlias()
		cleanupTenant(t, db, alias)

		got, err := store.Create(ctx, tenancy.NewTenant{
			Name:     "  Test Land " + alias + " ",
			Alias:    alias,
			AreaCode: " 52",
		})
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		wantNS := "test_land_" + strings.ToLower(alias) + "_" + strings.ToLower(alias) + "_schema"
		if got.Namespace != wantNS {
			t.Errorf("Namespace = %q, want %q", got.Namespace, wantNS)
		}
		if got.Alias != strings.ToUpper(alias) {
			t.Errorf("Alias = %q, want it upper-cased to %q", got.Alias, strings.ToUpper(alias))
		}
		if want := "Test Land " + alias; got.Name != want || got.OfficialName != want {
			t.Errorf("Name, OfficialName = %q, %q; want both trimmed to %q", got.Name, got.OfficialName, want)
		}
		if got.SchemaVersion != 1 {
			t.Errorf("SchemaVersion = %d, want 1", got.SchemaVersion)
		}

		// Found by alias in any case, ready, and at the latest migration.
		found, err := store.ByAlias(ctx, strings.ToLower(alias))
		if err != nil {
			t.Fatalf("ByAlias: %v", err)
		}
		if found.ID != got.ID || found.AreaCode != "52" {
			t.Errorf("ByAlias = %+v, want %+v", found, got)
		}
		var migrated int64
		if err := db.GetContext(ctx, &migrated, `SELECT migration_version FROM administration.countries WHERE id = $1`, got.ID); err != nil {
			t.Fatal(err)
		}
		if latest, _ := migrations.Latest(migrations.TenantFS); migrated != latest {
			t.Errorf("migration_version = %d, want %d", migrated, latest)
		}

		// The seed rows are there.
		var brands []string
		if err := db.SelectContext(ctx, &brands, `SELECT name FROM `+pq.QuoteIdentifier(got.Namespace)+`.brand ORDER BY name`); err != nil {
			t.Fatal(err)
		}
		if want := []string{"chevrolet", "ford", "toyota"}; !slices.Equal(brands, want) {
			t.Errorf("brands = %v, want %v", brands, want)
		}
	})

	t.Run("ErrMigrationFails", func(t *testing.T) {
		t.Parallel()
		first := tenantMigration(t)
		tests := []struct {
			name string
			fsys fs.FS
		}{
			{"second migration fails", fstest.MapFS{
				"00001_tenant.sql": first,
				"00002_broken.sql": {Data: []byte("-- +goose Up\nSELECT 1/0;\n")},
			}},
			{"second migration outside a transaction fails", fstest.MapFS{
				"00001_tenant.sql": first,
				"00002_broken.sql": {Data: []byte("-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY ON no_such_table (id);\n")},
			}},
			{"first migration fails", fstest.MapFS{
				"00001_broken.sql": {Data: []byte("-- +goose Up\nCREATE TABLE brand (id bigint);\nSELECT no_such_function();\n")},
			}},
			{"no migrations", fstest.MapFS{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				store := tenancy.NewStore(db, tenancytest.DSN(t))
				store.TenantFS = tt.fsys
				alias := newAlias()
				cleanupTenant(t, db, alias)

				_, err := store.Create(context.Background(), tenancy.NewTenant{Name: "Test " + alias, Alias: alias})
				if err == nil {
					t.Fatal("Create succeeded; want the migration's error")
				}
				ns, _ := tenancy.Namespace("Test "+alias, alias)
				assertNoTenant(t, db, alias, ns)
			})
		}
	})

	t.Run("ErrCanceled", func(t *testing.T) {
		t.Parallel()
		// A migration that waits, then a context that ends while it waits:
		// the half-made tenant is removed even though ctx is done.
		store := tenancy.NewStore(db, tenancytest.DSN(t))
		store.TenantFS = fstest.MapFS{
			"00001_tenant.sql": tenantMigration(t),
			"00002_slow.sql":   {Data: []byte("-- +goose Up\nSELECT pg_sleep(30);\n")},
		}
		alias := newAlias()
		cleanupTenant(t, db, alias)

		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := store.Create(ctx, tenancy.NewTenant{Name: "Test " + alias, Alias: alias})
		if err == nil {
			t.Fatal("Create succeeded; want the context's error")
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Create returned after %s; want it to stop when ctx ends", d)
		}
		ns, _ := tenancy.Namespace("Test "+alias, alias)
		assertNoTenant(t, db, alias, ns)
	})

	t.Run("NotVisibleUntilReady", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		// The second migration waits for an advisory lock the test holds,
		// so the test can look at the tenant while it is being made.
		lockKey := rand.Int64()
		conn, err := db.Connx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
			t.Fatal(err)
		}
		unlocked := false
		unlock := func() {
			if !unlocked {
				unlocked = true
				if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, lockKey); err != nil {
					t.Error(err)
				}
			}
		}
		defer unlock()

		store := tenancy.NewStore(db, tenancytest.DSN(t))
		store.TenantFS = fstest.MapFS{
			"00001_tenant.sql": tenantMigration(t),
			"00002_wait.sql":   {Data: fmt.Appendf(nil, "-- +goose Up\nSELECT pg_advisory_xact_lock(%d);\n", lockKey)},
		}
		alias := newAlias()
		cleanupTenant(t, db, alias)
		type result struct {
			t   *tenancy.Tenant
			err error
		}
		done := make(chan result, 1)
		go func() {
			tn, err := store.Create(ctx, tenancy.NewTenant{Name: "Test " + alias, Alias: alias})
			done <- result{tn, err}
		}()

		// Wait until the migration waits on the lock.
		waitFor(t, 20*time.Second, func() bool {
			var waiting bool
			err := db.GetContext(ctx, &waiting, `
				SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
				  AND ((classid::bigint << 32) | objid::bigint) = $1)`, lockKey)
			return err == nil && waiting
		})

		if _, err := store.ByAlias(ctx, alias); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("ByAlias during provisioning = %v, want ErrNotFound", err)
		}
		list, err := store.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range list {
			if strings.EqualFold(tn.Alias, alias) {
				t.Errorf("List during provisioning includes %s", alias)
			}
		}

		unlock()
		res := <-done
		if res.err != nil {
			t.Fatalf("Create: %v", res.err)
		}
		if _, err := store.ByAlias(ctx, alias); err != nil {
			t.Errorf("ByAlias after provisioning: %v", err)
		}
	})

	t.Run("ErrConflict", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		store := tenancy.NewStore(db, tenancytest.DSN(t))
		existing := tenancytest.NewTenant(t, db)

		t.Run("same alias in another case", func(t *testing.T) {
			name := "Other " + existing.Alias
			lower := strings.ToLower(existing.Alias)
			_, err := store.Create(ctx, tenancy.NewTenant{Name: name, Alias: lower})
			if !errors.Is(err, tenancy.ErrConflict) {
				t.Fatalf("Create = %v, want ErrConflict", err)
			}
			want := fmt.Sprintf("alias %q is already used by country %q, as %q", lower, existing.Name, existing.Alias)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %s", err, want)
			}
			ns, _ := tenancy.Namespace(name, existing.Alias)
			assertNoSchema(t, db, ns)
		})

		t.Run("same alias and name", func(t *testing.T) {
			// Both the alias and the schema name clash; the error names
			// the alias, the cause, not the schema.
			_, err := store.Create(ctx, tenancy.NewTenant{Name: existing.Name, Alias: existing.Alias})
			if !errors.Is(err, tenancy.ErrConflict) {
				t.Fatalf("Create = %v, want ErrConflict", err)
			}
			want := fmt.Sprintf("alias %q is already used by country %q", existing.Alias, existing.Name)
			if !strings.HasSuffix(err.Error(), want) {
				t.Errorf("error %q, want it to end %s", err, want)
			}
		})

		t.Run("another name making the same schema", func(t *testing.T) {
			// "Test <alias>" and "test-<alias>!" both clean to the same
			// schema name.
			_, err := store.Create(ctx, tenancy.NewTenant{Name: "test-" + strings.ToLower(existing.Alias) + "!", Alias: existing.Alias})
			if !errors.Is(err, tenancy.ErrConflict) {
				t.Fatalf("Create = %v, want ErrConflict", err)
			}
		})

		t.Run("schema already in the database", func(t *testing.T) {
			alias := newAlias()
			ns, _ := tenancy.Namespace("Test "+alias, alias)
			if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+pq.QuoteIdentifier(ns)); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Exec(`DROP SCHEMA IF EXISTS ` + pq.QuoteIdentifier(ns) + ` CASCADE`) })

			_, err := store.Create(ctx, tenancy.NewTenant{Name: "Test " + alias, Alias: alias})
			if !errors.Is(err, tenancy.ErrConflict) {
				t.Fatalf("Create = %v, want ErrConflict", err)
			}
			if n := countCountries(t, db, alias); n != 0 {
				t.Errorf("%d country rows left for %s, want 0", n, alias)
			}
		})

		// The existing tenant is untouched by all of that.
		got, err := store.ByAlias(ctx, existing.Alias)
		if err != nil {
			t.Fatalf("ByAlias(existing): %v", err)
		}
		if got.Name != existing.Name || got.Namespace != existing.Namespace {
			t.Errorf("existing tenant changed: %+v, was %+v", got, existing)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		store := tenancy.NewStore(db, tenancytest.DSN(t))
		tests := []tenancy.NewTenant{
			{Name: "Test", Alias: "X"},
			{Name: "Test", Alias: "bad-alias"},
			{Name: "!!!", Alias: newAlias()},
			{Name: strings.Repeat("Long ", 20), Alias: newAlias()},
			{Name: "Test", Alias: newAlias(), AreaCode: "abc"},
			{Name: "Test", Alias: newAlias(), AreaCode: "12345"},
			{Name: "Test", Alias: newAlias(), AreaCode: "+52"},
			{Name: "Test", Alias: newAlias(), AreaCode: "5 2"},
			{Name: "Test", Alias: newAlias(), AreaCode: "-1"},
			{Name: "line1\nline2", Alias: newAlias()},
			{Name: "Test", OfficialName: "Tab\tbed", Alias: newAlias()},
		}
		for _, in := range tests {
			_, err := store.Create(context.Background(), in)
			if !errors.Is(err, tenancy.ErrInvalid) {
				t.Errorf("Create(%+v) = %v, want ErrInvalid", in, err)
			}
			if tenancy.ValidateAlias(in.Alias) == nil {
				if n := countCountries(t, db, in.Alias); n != 0 {
					t.Errorf("Create(%+v) left %d rows", in, n)
				}
			}
		}
	})
}

func TestStore_Drop(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		store := tenancy.NewStore(db, tenancytest.DSN(t))
		tn := tenancytest.NewTenant(t, db)
		notes := listen(t)

		// The confirmation may differ in case.
		if err := store.Drop(ctx, tn.Alias, strings.ToLower(tn.Alias)); err != nil {
			t.Fatalf("Drop: %v", err)
		}
		assertNoTenant(t, db, tn.Alias, tn.Namespace)
		// Replicas are told to forget it.
		notes.expect(t, fmt.Sprintf("%d:%s", tn.ID, tenancy.DroppedVersion))
		if _, err := store.ByAlias(ctx, tn.Alias); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("ByAlias after Drop = %v, want ErrNotFound", err)
		}
	})

	t.Run("ErrConfirm", func(t *testing.T) {
		t.Parallel()
		store := tenancy.NewStore(db, tenancytest.DSN(t))
		tn := tenancytest.NewTenant(t, db)

		for _, confirm := range []string{"", "yes", tn.Alias + "X", " " + tn.Alias} {
			err := store.Drop(ctx, tn.Alias, confirm)
			if !errors.Is(err, tenancy.ErrInvalid) {
				t.Errorf("Drop(%q, confirm %q) = %v, want ErrInvalid", tn.Alias, confirm, err)
			}
		}
		if _, err := store.ByAlias(ctx, tn.Alias); err != nil {
			t.Errorf("tenant gone after unconfirmed drops: %v", err)
		}
		if !schemaExists(t, db, tn.Namespace) {
			t.Errorf("schema %s gone after unconfirmed drops", tn.Namespace)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		store := tenancy.NewStore(db, tenancytest.DSN(t))
		alias := newAlias()
		if err := store.Drop(ctx, alias, alias); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("Drop(unknown) = %v, want ErrNotFound", err)
		}
	})
}

func TestStore_ByAlias(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	store := tenancy.NewStore(db, tenancytest.DSN(t))
	tn := tenancytest.NewTenant(t, db)
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		for _, alias := range []string{tn.Alias, strings.ToLower(tn.Alias)} {
			got, err := store.ByAlias(ctx, alias)
			if err != nil {
				t.Fatalf("ByAlias(%q): %v", alias, err)
			}
			if *got != *tn {
				t.Errorf("ByAlias(%q) = %+v, want %+v", alias, got, tn)
			}
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		for _, alias := range []string{newAlias(), "", "x", "a'b", tn.Alias + " "} {
			if _, err := store.ByAlias(ctx, alias); !errors.Is(err, tenancy.ErrNotFound) {
				t.Errorf("ByAlias(%q) = %v, want ErrNotFound", alias, err)
			}
		}
	})
}

func TestStore_Versions(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	store := tenancy.NewStore(db, tenancytest.DSN(t))
	a := tenancytest.NewTenant(t, db)
	b := tenancytest.NewTenant(t, db)
	ctx := context.Background()

	if _, err := store.Refresh(ctx, b.Alias); err != nil {
		t.Fatal(err)
	}
	got, err := store.Versions(ctx)
	if err != nil {
		t.Fatalf("Versions: %v", err)
	}
	if got[a.ID] != 1 || got[b.ID] != 2 {
		t.Errorf("Versions = %d and %d, want 1 and 2", got[a.ID], got[b.ID])
	}
}

// tenantMigration returns the real first tenant migration, for file systems
// that add to it.
func tenantMigration(tb testing.TB) *fstest.MapFile {
	tb.Helper()
	data, err := fs.ReadFile(migrations.TenantFS, "00001_tenant.sql")
	if err != nil {
		tb.Fatal(err)
	}
	return &fstest.MapFile{Data: data}
}

// newAlias returns a random alias no other test uses.
func newAlias() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte("Q")
	for range 8 {
		b = append(b, alphabet[rand.IntN(len(alphabet))])
	}
	return string(b)
}

// cleanupTenant removes whatever a failed test left for alias: the country
// row and its schema.
func cleanupTenant(tb testing.TB, db *sqlx.DB, alias string) {
	tb.Helper()
	tb.Cleanup(func() {
		var ns string
		err := db.Get(&ns, `DELETE FROM administration.countries WHERE lower(alias) = lower($1) RETURNING schema_name`, alias)
		if err == nil {
			db.Exec(`DROP SCHEMA IF EXISTS ` + pq.QuoteIdentifier(ns) + ` CASCADE`)
		}
	})
}

func assertNoTenant(tb testing.TB, db *sqlx.DB, alias, ns string) {
	tb.Helper()
	if n := countCountries(tb, db, alias); n != 0 {
		tb.Errorf("%d country rows left for alias %s, want 0", n, alias)
	}
	assertNoSchema(tb, db, ns)
}

func assertNoSchema(tb testing.TB, db *sqlx.DB, ns string) {
	tb.Helper()
	if schemaExists(tb, db, ns) {
		tb.Errorf("schema %s is left in the database", ns)
	}
}

func countCountries(tb testing.TB, db *sqlx.DB, alias string) int {
	tb.Helper()
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM administration.countries WHERE lower(alias) = lower($1)`, alias); err != nil {
		tb.Fatal(err)
	}
	return n
}

func schemaExists(tb testing.TB, db *sqlx.DB, ns string) bool {
	tb.Helper()
	var ok bool
	if err := db.Get(&ok, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, ns); err != nil {
		tb.Fatal(err)
	}
	return ok
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(tb testing.TB, timeout time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBumpVersion(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		tn := tenancytest.NewTenant(t, db)
		notes := listen(t)

		v, err := tenancy.BumpVersion(ctx, db, tn.ID)
		if err != nil {
			t.Fatalf("BumpVersion: %v", err)
		}
		if v != tn.SchemaVersion+1 {
			t.Errorf("BumpVersion = %d, want %d", v, tn.SchemaVersion+1)
		}
		notes.expect(t, fmt.Sprintf("%d:%d", tn.ID, v))
		assertVersion(t, db, tn.ID, v)
	})

	t.Run("RolledBack", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		tn := tenancytest.NewTenant(t, db)
		notes := listen(t)

		// A bump in a transaction that rolls back moves nothing and
		// announces nothing.
		tx, err := db.BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tenancy.BumpVersion(ctx, tx, tn.ID); err != nil {
			t.Fatalf("BumpVersion: %v", err)
		}
		tx.Rollback()

		// Then one that commits: its notification is the first this tenant
		// gets, and it carries the version after the rolled-back one.
		tx, err = db.BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := tenancy.BumpVersion(ctx, tx, tn.ID)
		if err != nil {
			t.Fatalf("BumpVersion: %v", err)
		}
		if v != tn.SchemaVersion+1 {
			t.Errorf("BumpVersion after a rollback = %d, want %d", v, tn.SchemaVersion+1)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		notes.expect(t, fmt.Sprintf("%d:%d", tn.ID, v))
		assertVersion(t, db, tn.ID, v)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		if _, err := tenancy.BumpVersion(context.Background(), db, -1); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("BumpVersion(-1) = %v, want ErrNotFound", err)
		}
	})
}

func TestStore_Refresh(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		store := tenancy.NewStore(db, tenancytest.DSN(t))
		tn := tenancytest.NewTenant(t, db)
		notes := listen(t)

		for i := range int64(3) {
			v, err := store.Refresh(ctx, strings.ToLower(tn.Alias))
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if want := tn.SchemaVersion + i + 1; v != want {
				t.Errorf("Refresh #%d = %d, want %d", i+1, v, want)
			}
			notes.expect(t, fmt.Sprintf("%d:%d", tn.ID, v))
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		store := tenancy.NewStore(db, tenancytest.DSN(t))
		if _, err := store.Refresh(context.Background(), newAlias()); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("Refresh(unknown) = %v, want ErrNotFound", err)
		}
	})
}

// notifications receives what is announced on tenancy.ChangeChannel.
type notifications struct {
	ch <-chan *pq.Notification
}

// listen subscribes to tenancy.ChangeChannel for the rest of the test.
func listen(tb testing.TB) notifications {
	tb.Helper()
	l := pq.NewListener(tenancytest.DSN(tb), 10*time.Millisecond, time.Second, nil)
	tb.Cleanup(func() { l.Close() })
	if err := l.Listen(tenancy.ChangeChannel); err != nil {
		tb.Fatalf("listen: %v", err)
	}
	return notifications{ch: l.Notify}
}

// expect waits for payload. Other tests announce their own tenants on the
// same channel, so payloads of other tenants are skipped; one of this
// tenant with another version fails the test.
func (n notifications) expect(tb testing.TB, payload string) {
	tb.Helper()
	id, _, _ := strings.Cut(payload, ":")
	timeout := time.After(5 * time.Second)
	for {
		select {
		case note := <-n.ch:
			if note == nil {
				continue // reconnected
			}
			if note.Extra == payload {
				return
			}
			if got, _, _ := strings.Cut(note.Extra, ":"); got == id {
				tb.Fatalf("notification %q, want %q", note.Extra, payload)
			}
		case <-timeout:
			tb.Fatalf("no notification %q on %s within 5s", payload, tenancy.ChangeChannel)
		}
	}
}

func assertVersion(tb testing.TB, db *sqlx.DB, id, want int64) {
	tb.Helper()
	var got int64
	if err := db.Get(&got, `SELECT schema_version FROM administration.countries WHERE id = $1`, id); err != nil {
		tb.Fatal(err)
	}
	if got != want {
		tb.Errorf("schema_version = %d, want %d", got, want)
	}
}
