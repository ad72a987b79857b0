package tenancy

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// TxOptions tunes a unit of work run by InTx.
type TxOptions struct {
	// ReadOnly starts a read-only transaction.
	ReadOnly bool
	// StatementTimeout bounds each statement; zero keeps the server's.
	StatementTimeout time.Duration
}

// InTx runs fn in a transaction whose search_path is the tenant schema
// namespace alone. The path is set with set_config(..., true), so it ends
// with the transaction and no pooled connection carries it to the next
// user. fn's error or panic, or a cancelled ctx, rolls everything back.
// Administration tables must be referenced schema-qualified inside fn. An
// empty namespace leaves only pg_catalog on the path, for work that touches
// no tenant: every table must then be schema-qualified.
func InTx(ctx context.Context, db *sqlx.DB, namespace string, opts TxOptions, fn func(*sqlx.Tx) error) (err error) {
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: opts.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		// A panicking fn must not leave the connection inside the
		// transaction: it would never return to the pool, and its locks
		// would block the tenant's tables until the process ends.
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
		if err != nil {
			tx.Rollback()
		}
	}()
	path := "pg_catalog"
	if namespace != "" {
		path = pq.QuoteIdentifier(namespace)
	}
	timeout := "0"
	if opts.StatementTimeout > 0 {
		timeout = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	}
	// One round trip for both settings. A zero timeout keeps the server's
	// setting rather than disabling it.
	if _, err := tx.ExecContext(ctx, `
		SELECT set_config('search_path', $1, true),
		       CASE WHEN $2 <> '0' THEN set_config('statement_timeout', $2, true) END`,
		path, timeout); err != nil {
		return fmt.Errorf("enter tenant %s: %w", namespace, err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
