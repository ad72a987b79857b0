package tenancy_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"tenantgraph/tenancy"
	"tenantgraph/tenancy/tenancytest"
)

func TestInTx(t *testing.T) {
	t.Parallel()
	testUnitOfWork(t, func(ctx context.Context, db *sqlx.DB, ns string, opts tenancy.TxOptions, fn func(tenancy.Querier) error) error {
		return tenancy.InTx(ctx, db, ns, opts, func(tx *sqlx.Tx) error { return fn(tx) })
	})
}

// unitRunner is InTx or Run, with fn seeing the transaction as a Querier.
type unitRunner func(ctx context.Context, db *sqlx.DB, ns string, opts tenancy.TxOptions, fn func(tenancy.Querier) error) error

// testUnitOfWork checks what InTx and Run both promise: the unit runs
// under the tenant's search_path alone, every way out of it ends the
// transaction, and no connection goes back to the pool with the tenant's
// settings.
func testUnitOfWork(t *testing.T, run unitRunner) {
	db := tenancytest.DB(t)

	t.Run("Isolation", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		tenants := []*tenancy.Tenant{tenancytest.NewTenant(t, db), tenancytest.NewTenant(t, db)}
		for _, tn := range tenants {
			err := run(ctx, db, tn.Namespace, tenancy.TxOptions{}, func(q tenancy.Querier) error {
				_, err := q.ExecContext(ctx, `INSERT INTO toyota (model) VALUES ($1)`, tn.Alias)
				return err
			})
			if err != nil {
				t.Fatalf("insert marker of %s: %v", tn.Alias, err)
			}
		}

		// Two connections for eight goroutines: every connection serves
		// both tenants over and over.
		pool := openPool(t, 2)
		const units = 1000
		var wg sync.WaitGroup
		jobs := make(chan int)
		for range 8 {
			wg.Go(func() {
				for i := range jobs {
					tn := tenants[i%2]
					if err := isolationUnit(run, pool, tn, i/2); err != nil {
						t.Errorf("unit %d of %s: %v", i/2, tn.Alias, err)
					}
				}
			})
		}
		for i := range units * len(tenants) {
			jobs <- i
		}
		close(jobs)
		wg.Wait()

		assertCleanConns(t, pool, 2)
	})

	t.Run("Commit", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		tn := tenancytest.NewTenant(t, db)
		err := run(ctx, db, tn.Namespace, tenancy.TxOptions{}, func(q tenancy.Querier) error {
			_, err := q.ExecContext(ctx, `INSERT INTO ford (model) VALUES ('Model T')`)
			return err
		})
		if err != nil {
			t.Fatalf("unit: %v", err)
		}
		if n := countRows(t, db, tn, "ford"); n != 1 {
			t.Errorf("%d rows after a unit that succeeded, want 1", n)
		}
	})

	t.Run("Rollback", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		tn := tenancytest.NewTenant(t, db)
		errBoom := errors.New("boom")

		err := run(ctx, db, tn.Namespace, tenancy.TxOptions{}, func(q tenancy.Querier) error {
			if _, err := q.ExecContext(ctx, `INSERT INTO ford (model) VALUES ('Model T')`); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("unit = %v, want fn's error", err)
		}
		if n := countRows(t, db, tn, "ford"); n != 0 {
			t.Errorf("%d rows after a failed unit, want 0", n)
		}
	})

	t.Run("CanceledAfterFn", func(t *testing.T) {
		t.Parallel()
		// fn succeeded but the caller gave up: nothing may be committed,
		// since the caller has been told the unit failed.
		tn := tenancytest.NewTenant(t, db)
		ctx, cancel := context.WithCancel(context.Background())
		err := run(ctx, db, tn.Namespace, tenancy.TxOptions{}, func(q tenancy.Querier) error {
			_, err := q.ExecContext(ctx, `INSERT INTO ford (model) VALUES ('Edsel')`)
			cancel()
			return err
		})
		if err == nil {
			t.Error("unit whose ctx ended returned nil")
		}
		if n := countRows(t, db, tn, "ford"); n != 0 {
			t.Errorf("%d rows after a cancelled unit, want 0", n)
		}
	})

	t.Run("Panic", func(t *testing.T) {
		t.Parallel()
		tn := tenancytest.NewTenant(t, db)
		// One connection: if a panicking unit kept its transaction open, the
		// next unit would wait for the connection forever.
		pool := openPool(t, 1)
		marker := "-- panic " + tn.Alias

		func() {
			defer func() {
				if recover() == nil {
					t.Error("the unit swallowed fn's panic")
				}
			}()
			run(context.Background(), pool, tn.Namespace, tenancy.TxOptions{}, func(q tenancy.Querier) error {
				if _, err := q.ExecContext(context.Background(), `INSERT INTO ford (model) VALUES ('Pinto') `+marker); err != nil {
					return err
				}
				panic("resolver bug")
			})
		}()

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var n int
		err := run(ctx, pool, tn.Namespace, tenancy.TxOptions{}, func(q tenancy.Querier) error {
			return q.QueryRowContext(ctx, `SELECT count(*) FROM ford`).Scan(&n)
		})
		if err != nil {
			// End the stuck transaction, or dropping the tenant would wait
			// for its locks forever.
			db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE query LIKE '%' || $1 AND pid <> pg_backend_pid()`, marker)
			t.Fatalf("unit after a panic: %v (was the connection left in its transaction?)", err)
		}
		if n != 0 {
			t.Errorf("%d rows after a panicking unit, want 0", n)
		}
		assertCleanConns(t, pool, 1)
	})

	t.Run("ReadOnly", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		tn := tenancytest.NewTenant(t, db)
		err := run(ctx, db, tn.Namespace, tenancy.TxOptions{ReadOnly: true}, func(q tenancy.Querier) error {
			_, err := q.ExecContext(ctx, `INSERT INTO ford (model) VALUES ('Model T')`)
			return err
		})
		if pq.As(err, "25006") == nil { // read_only_sql_transaction
			t.Errorf("write in a read-only unit = %v, want 25006", err)
		}
	})

	t.Run("StatementTimeout", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		tn := tenancytest.NewTenant(t, db)
		pool := openPool(t, 1)

		start := time.Now()
		err := run(ctx, pool, tn.Namespace, tenancy.TxOptions{StatementTimeout: 100 * time.Millisecond}, func(q tenancy.Querier) error {
			_, err := q.ExecContext(ctx, `SELECT pg_sleep(10)`)
			return err
		})
		if pq.As(err, "57014") == nil { // query_canceled
			t.Errorf("slow statement = %v, want 57014", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("slow statement ran %s; want it stopped near 100ms", d)
		}

		// A zero timeout keeps the server's setting.
		var got, def string
		err = run(ctx, pool, tn.Namespace, tenancy.TxOptions{}, func(q tenancy.Querier) error {
			return q.QueryRowContext(ctx, `
				SELECT setting, reset_val FROM pg_settings WHERE name = 'statement_timeout'`).Scan(&got, &def)
		})
		if err != nil || got != def {
			t.Errorf("statement_timeout in a unit without one = %q, %v; want the server's %q", got, err, def)
		}
		assertCleanConns(t, pool, 1)
	})

	t.Run("UnknownNamespace", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		// The path names a schema that does not exist: nothing resolves,
		// not even a table that exists in another schema.
		err := run(ctx, db, "no_such_schema", tenancy.TxOptions{}, func(q tenancy.Querier) error {
			var n int
			return q.QueryRowContext(ctx, `SELECT count(*) FROM countries`).Scan(&n)
		})
		if pq.As(err, "42P01") == nil { // undefined_table
			t.Errorf("unit in no_such_schema = %v, want 42P01", err)
		}
	})

	t.Run("NoNamespace", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		var path string
		var n int
		err := run(ctx, db, "", tenancy.TxOptions{}, func(q tenancy.Querier) error {
			if err := q.QueryRowContext(ctx, `SHOW search_path`).Scan(&path); err != nil {
				return err
			}
			return q.QueryRowContext(ctx, `SELECT count(*) FROM administration.countries`).Scan(&n)
		})
		if err != nil {
			t.Fatalf("unit without a tenant: %v", err)
		}
		if path != "pg_catalog" {
			t.Errorf("search_path = %q, want pg_catalog alone", path)
		}
	})
}

// isolationUnit runs the i-th unit of work of tenant tn. Most units read
// the tenant's marker; some fail on purpose, some are cancelled halfway,
// some are read-only and some set a statement timeout, so every way out of
// a transaction is taken while the other tenant uses the same connections.
func isolationUnit(run unitRunner, pool *sqlx.DB, tn *tenancy.Tenant, i int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := tenancy.TxOptions{ReadOnly: i%3 == 0}
	if i%4 == 0 {
		opts.StatementTimeout = 5 * time.Second
	}
	errBoom := errors.New("boom")

	var model string
	err := run(ctx, pool, tn.Namespace, opts, func(q tenancy.Querier) error {
		if err := q.QueryRowContext(ctx, `SELECT model FROM toyota`).Scan(&model); err != nil {
			return err
		}
		switch i % 10 {
		case 3:
			return errBoom
		case 7:
			cancel()
			_, err := q.ExecContext(ctx, `SELECT 1`)
			return err
		}
		return nil
	})
	switch {
	case i%10 == 3 && !errors.Is(err, errBoom):
		return fmt.Errorf("got %v, want fn's error", err)
	case i%10 == 7 && err == nil:
		return errors.New("cancelled unit succeeded")
	case i%10 != 3 && i%10 != 7 && err != nil:
		return err
	}
	if model != tn.Alias {
		return fmt.Errorf("read marker %q, want %q", model, tn.Alias)
	}
	return nil
}

// openPool opens a pool of its own on the test database with at most n
// connections.
func openPool(tb testing.TB, n int) *sqlx.DB {
	tb.Helper()
	pool, err := sqlx.Open("postgres", tenancytest.DSN(tb))
	if err != nil {
		tb.Fatal(err)
	}
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)
	tb.Cleanup(func() { pool.Close() })
	return pool
}

// assertCleanConns takes n connections from pool at once and checks that
// each is outside any transaction with the server's default search_path
// and statement_timeout.
func assertCleanConns(tb testing.TB, pool *sqlx.DB, n int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range n {
		conn, err := pool.Connx(ctx)
		if err != nil {
			tb.Fatalf("connection %d: %v", i, err)
		}
		defer conn.Close()
		var path, timeout string
		if err := conn.GetContext(ctx, &path, `SHOW search_path`); err != nil {
			tb.Fatal(err)
		}
		if path != `"$user", public` {
			tb.Errorf("connection %d: search_path = %q, want the default \"$user\", public", i, path)
		}
		var def string
		if err := conn.QueryRowxContext(ctx, `
			SELECT setting, reset_val FROM pg_settings WHERE name = 'statement_timeout'`).Scan(&timeout, &def); err != nil {
			tb.Fatal(err)
		}
		if timeout != def {
			tb.Errorf("connection %d: statement_timeout = %q, want the default %q", i, timeout, def)
		}
		// Outside a transaction, each statement gets its own start time.
		var inTx bool
		if err := conn.GetContext(ctx, &inTx, `SELECT now() <> statement_timestamp()`); err != nil {
			tb.Fatal(err)
		}
		if inTx {
			tb.Errorf("connection %d is still inside a transaction", i)
		}
	}
}

func countRows(tb testing.TB, db *sqlx.DB, tn *tenancy.Tenant, table string) int {
	tb.Helper()
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM `+pq.QuoteIdentifier(tn.Namespace)+`.`+pq.QuoteIdentifier(table)); err != nil {
		tb.Fatal(err)
	}
	return n
}
