package tenancy

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Catalog is the shape of one tenant's data as its tables hold it now: the
// input from which a GraphQL schema is built.
type Catalog struct {
	// Version is the tenant's schema version read with the shape.
	Version int64
	Tables  []Table
}

// Table is one brand table.
type Table struct {
	Name           string   `json:"name"`
	DisplayName    string   `json:"display_name"`
	FoundationYear *int     `json:"foundation_year"`
	Columns        []Column `json:"columns"`
}

// Column is one column of a brand table.
type Column struct {
	Name string `json:"name"`
	// SQLType is PostgreSQL's format_type, e.g. "character varying(255)".
	SQLType  string  `json:"type"`
	NotNull  bool    `json:"not_null"`
	Default  *string `json:"default"`
	Identity bool    `json:"identity"`
	// Extra is set when the column was added as an extra.
	Extra *Extra `json:"-"`
}

// Extra is one row of a tenant's extras table.
type Extra struct {
	ID           int64   `json:"id" db:"id"`
	Brand        string  `json:"brand" db:"brand"`
	Name         string  `json:"name" db:"name"`
	DisplayName  string  `json:"display_name" db:"display_name"`
	Type         string  `json:"type" db:"type"`
	Required     bool    `json:"required" db:"required"`
	DefaultValue *string `json:"default_value" db:"default_value"`
	Archived     bool    `json:"archived" db:"archived"`
}

// catalogSQL reads a tenant's version, brand tables with their columns, and
// extras in one round trip. %s is the quoted tenant schema; the namespace is
// also passed as $1 so the pg_catalog lookups touch only that schema.
const catalogSQL = `
SELECT c.schema_version,
  coalesce((
    SELECT json_agg(json_build_object(
      'name', b.name,
      'display_name', b.display_name,
      'foundation_year', b.foundation_year,
      'columns', (
        SELECT json_agg(json_build_object(
          'name', a.attname,
          'type', format_type(a.atttypid, a.atttypmod),
          'not_null', a.attnotnull,
          'default', pg_get_expr(d.adbin, d.adrelid),
          'identity', a.attidentity <> '') ORDER BY a.attnum)
        FROM pg_attribute a
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped)
    ) ORDER BY b.name)
    FROM %[1]s.brand b
    JOIN pg_class rel ON rel.relname = b.name AND rel.relnamespace = n.oid AND rel.relkind = 'r'
  ), '[]'),
  coalesce((
    SELECT json_agg(json_build_object(
      'id', e.id, 'brand', e.brand, 'name', e.name, 'display_name', e.display_name,
      'type', e.type, 'required', e.required, 'default_value', e.default_value,
      'archived', e.archived_at IS NOT NULL) ORDER BY e.brand, e.id)
    FROM %[1]s.extras e
  ), '[]')
FROM administration.countries c
JOIN pg_namespace n ON n.nspname = c.schema_name
WHERE c.schema_name = $1`

// ReadCatalog reads the tenant schema namespace's catalog in one query.
func ReadCatalog(ctx context.Context, q sqlx.QueryerContext, namespace string) (*Catalog, error) {
	var version int64
	var tablesJSON, extrasJSON []byte
	err := q.QueryRowxContext(ctx, fmt.Sprintf(catalogSQL, pq.QuoteIdentifier(namespace)), namespace).
		Scan(&version, &tablesJSON, &extrasJSON)
	// No country has the schema, or the schema or its tables are gone (a
	// tenant dropped by another replica, say): 42P01 is undefined_table.
	var pqErr *pq.Error
	if errors.Is(err, sql.ErrNoRows) || errors.As(err, &pqErr) && pqErr.Code == "42P01" {
		return nil, fmt.Errorf("%w: schema %q", ErrNotFound, namespace)
	}
	if err != nil {
		return nil, fmt.Errorf("read catalog of %s: %w", namespace, err)
	}
	cat := &Catalog{Version: version}
	var extras []Extra
	if err := json.Unmarshal(tablesJSON, &cat.Tables); err != nil {
		return nil, fmt.Errorf("decode catalog of %s: %w", namespace, err)
	}
	if err := json.Unmarshal(extrasJSON, &extras); err != nil {
		return nil, fmt.Errorf("decode extras of %s: %w", namespace, err)
	}
	byColumn := make(map[[2]string]*Extra, len(extras))
	for i := range extras {
		byColumn[[2]string{extras[i].Brand, extras[i].Name}] = &extras[i]
	}
	for ti := range cat.Tables {
		t := &cat.Tables[ti]
		for ci := range t.Columns {
			t.Columns[ci].Extra = byColumn[[2]string{t.Name, t.Columns[ci].Name}]
		}
	}
	return cat, nil
}
