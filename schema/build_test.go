package schema_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/graphql-go/graphql"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"tenantgraph/ddl"
	"tenantgraph/schema"
	"tenantgraph/tenancy"
	"tenantgraph/tenancy/tenancytest"
)

// extra is a column added to a brand table with its extras row, as the
// createExtra mutation adds it.
type extra struct{ brand, name, display, typ string }

// sqlTypes are the column types of the extra types.
var sqlTypes = map[string]string{
	"char": "varchar(255)", "text": "text", "integer": "integer", "bigint": "bigint", "float": "double precision",
	"boolean": "boolean", "date": "date", "datetime": "timestamptz", "time": "time",
}

// addExtras adds the columns and their extras rows in one transaction and
// bumps the tenant's version.
func addExtras(tb testing.TB, db *sqlx.DB, t *tenancy.Tenant, extras []extra) {
	tb.Helper()
	ctx := context.Background()
	err := tenancy.InTx(ctx, db, t.Namespace, tenancy.TxOptions{}, func(tx *sqlx.Tx) error {
		for _, e := range extras {
			if _, err := tx.ExecContext(ctx, fmt.Sprintf(`ALTER TABLE %s ADD COLUMN %s %s`,
				pq.QuoteIdentifier(e.brand), pq.QuoteIdentifier(e.name), sqlTypes[e.typ])); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO extras (brand, name, display_name, type) VALUES ($1, $2, $3, $4)`,
				e.brand, e.name, e.display, e.typ); err != nil {
				return err
			}
		}
		_, err := tenancy.BumpVersion(ctx, tx, t.ID)
		return err
	})
	if err != nil {
		tb.Fatalf("add extras: %v", err)
	}
}

// hundredExtras are 100 extras of every type, spread over the brands.
func hundredExtras() []extra {
	types := []string{"char", "text", "integer", "bigint", "float", "boolean", "date", "datetime", "time"}
	brands := []string{"toyota", "ford", "chevrolet"}
	var out []extra
	for i := range 100 {
		typ := types[i%len(types)]
		out = append(out, extra{brands[i%len(brands)], fmt.Sprintf("extra_%03d", i), fmt.Sprintf("Extra number %d (%s)", i, typ), typ})
	}
	return out
}

func TestBuild(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	tenant := tenancytest.NewTenant(t, db)
	extras := hundredExtras()
	addExtras(t, db, tenant, extras)
	b := build(t, tenant)
	if b.TenantID != tenant.ID || b.Namespace != tenant.Namespace || b.Version <= tenant.SchemaVersion {
		t.Errorf("built %d %s v%d, tenant %d %s v%d", b.TenantID, b.Namespace, b.Version, tenant.ID, tenant.Namespace, tenant.SchemaVersion)
	}
	// Every extra is a field of its brand's type, described by its
	// display name, with a filter and a patch field.
	for _, e := range extras {
		typ := ddl.TypeName(e.brand)
		obj, ok := b.Schema.Type(typ).(*graphql.Object)
		if !ok {
			t.Fatalf("no object type %s", typ)
		}
		f := obj.Fields()[e.name]
		if f == nil || f.Description != e.display {
			t.Errorf("%s.%s = %+v, want a field described %q", typ, e.name, f, e.display)
			continue
		}
		for _, in := range []string{typ + "Filter", typ + "Patch", typ + "Input"} {
			if _, ok := b.Schema.Type(in).(*graphql.InputObject).Fields()[e.name]; !ok {
				t.Errorf("%s has no field %s", in, e.name)
			}
		}
	}
	if n := len(b.Schema.Type("Toyota").(*graphql.Object).Fields()); n != 6+34 {
		t.Errorf("Toyota has %d fields, want 40", n)
	}
}

func BenchmarkBuild(b *testing.B) {
	db := tenancytest.DB(b)
	for _, bc := range []struct {
		name   string
		extras []extra
	}{
		{"Seeded", nil},
		{"Extras100", hundredExtras()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tenant := tenancytest.NewTenant(b, db)
			if bc.extras != nil {
				addExtras(b, db, tenant, bc.extras)
			}
			cat, err := tenancy.ReadCatalog(context.Background(), db, tenant.Namespace)
			if err != nil {
				b.Fatal(err)
			}
			opts := &schema.Options{Changer: ddl.NewChanger(db, 0)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := schema.Build(tenant, cat, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
