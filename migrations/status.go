package migrations

import (
	"context"
	"database/sql"
	"fmt"
)

// Current reports whether the administration schema and every ready tenant
// schema are at the latest embedded version, in one query.
func Current(ctx context.Context, db *sql.DB) (bool, error) {
	adminLatest, err := Latest(AdminFS)
	if err != nil {
		return false, err
	}
	tenantLatest, err := Latest(TenantFS)
	if err != nil {
		return false, err
	}
	var adminAt sql.NullInt64
	var behind int64
	err = db.QueryRowContext(ctx, `
		SELECT
		  (SELECT max(version_id) FROM administration.`+versionTable+` WHERE is_applied),
		  (SELECT count(*) FROM administration.countries WHERE ready AND migration_version < $1)`,
		tenantLatest).Scan(&adminAt, &behind)
	if err != nil {
		return false, fmt.Errorf("migration status: %w", err)
	}
	return adminAt.Int64 >= adminLatest && behind == 0, nil
}
