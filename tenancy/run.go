package tenancy

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Querier is what a unit of work run by Run sees: the queries of one
// transaction.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Run is InTx for the request path: the same transaction under the
// tenant's search_path with the statement timeout, set with SET LOCAL so it
// ends with the transaction, but opened in one round trip instead of two:
// BEGIN and both settings travel as one simple-protocol message on a
// connection held for the unit of work. A read-only unit always ends with
// ROLLBACK, which for a read is the same as COMMIT; a read-write unit
// commits when fn succeeds and ctx is live. A connection whose transaction
// cannot be ended cleanly is discarded, never returned to the pool.
func Run(ctx context.Context, db *sqlx.DB, namespace string, opts TxOptions, fn func(Querier) error) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()

	begin := "BEGIN"
	if opts.ReadOnly {
		begin = "BEGIN READ ONLY"
	}
	path := "pg_catalog"
	if namespace != "" {
		// The namespace came from administration.countries, where it
		// passed Namespace's rules; quoting keeps it an identifier anyway.
		path = pq.QuoteIdentifier(namespace)
	}
	begin += "; SET LOCAL search_path TO " + path
	if opts.StatementTimeout > 0 {
		begin += "; SET LOCAL statement_timeout = " + strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	}
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		discard(conn)
		return fmt.Errorf("enter tenant %s: %w", namespace, err)
	}

	end := func(commit bool) error {
		stmt := "ROLLBACK"
		if commit {
			stmt = "COMMIT"
		}
		// Ending the transaction must happen even when ctx is done.
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ectx, stmt); err != nil {
			discard(conn)
			return fmt.Errorf("%s: %w", stmt, err)
		}
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			end(false)
			panic(p)
		}
	}()
	err = fn(conn)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		if endErr := end(false); endErr != nil {
			return errors.Join(err, endErr)
		}
		return err
	}
	return end(!opts.ReadOnly)
}

// discard makes database/sql close the connection instead of pooling it.
func discard(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
}
