package tenancy_test

import (
	"context"
	"testing"

	"github.com/jmoiron/sqlx"

	"tenantgraph/tenancy"
)

func TestRun(t *testing.T) {
	t.Parallel()
	testUnitOfWork(t, func(ctx context.Context, db *sqlx.DB, ns string, opts tenancy.TxOptions, fn func(tenancy.Querier) error) error {
		return tenancy.Run(ctx, db, ns, opts, fn)
	})
}
