package tenancy_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"tenantgraph/tenancy"
	"tenantgraph/tenancy/tenancytest"
)

func TestReadCatalog(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		tn := tenancytest.NewTenant(t, db)

		cat, err := tenancy.ReadCatalog(ctx, db, tn.Namespace)
		if err != nil {
			t.Fatalf("ReadCatalog: %v", err)
		}
		if cat.Version != tn.SchemaVersion {
			t.Errorf("Version = %d, want the tenant's %d", cat.Version, tn.SchemaVersion)
		}
		wantTables := []struct {
			name, display string
			year          int
		}{
			{"chevrolet", "Chevrolet", 1911},
			{"ford", "Ford", 1903},
			{"toyota", "Toyota", 1937},
		}
		if len(cat.Tables) != len(wantTables) {
			t.Fatalf("got %d tables, want %d: %+v", len(cat.Tables), len(wantTables), cat.Tables)
		}
		wantColumns := []tenancy.Column{
			{Name: "id", SQLType: "bigint", NotNull: true, Identity: true},
			{Name: "user_id", SQLType: "bigint"},
			{Name: "model", SQLType: "text", NotNull: true},
			{Name: "created_at", SQLType: "timestamp with time zone", NotNull: true, Default: ptr("now()")},
			{Name: "updated_at", SQLType: "timestamp with time zone", NotNull: true, Default: ptr("now()")},
		}
		for i, want := range wantTables {
			got := cat.Tables[i]
			if got.Name != want.name || got.DisplayName != want.display || got.FoundationYear == nil || *got.FoundationYear != want.year {
				t.Errorf("table %d = %s %q %v, want %s %q %d", i, got.Name, got.DisplayName, got.FoundationYear, want.name, want.display, want.year)
			}
			if !slices.EqualFunc(got.Columns, wantColumns, equalColumn) {
				t.Errorf("columns of %s:\n got %s\nwant %s", got.Name, columnsString(got.Columns), columnsString(wantColumns))
			}
		}
	})

	t.Run("Extras", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		tn := tenancytest.NewTenant(t, db)
		// What ddl does when an extra is added, done by hand.
		err := tenancy.InTx(ctx, db, tn.Namespace, tenancy.TxOptions{}, func(tx *sqlx.Tx) error {
			_, err := tx.ExecContext(ctx, `
				ALTER TABLE ford ADD COLUMN trim_level varchar(255) NOT NULL DEFAULT 'base';
				INSERT INTO extras (brand, name, display_name, type, required, default_value)
				VALUES ('ford', 'trim_level', 'Trim level', 'char', true, 'base');
				ALTER TABLE ford ADD COLUMN not_an_extra integer;
				ALTER TABLE ford DROP COLUMN user_id;`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tenancy.BumpVersion(ctx, db, tn.ID); err != nil {
			t.Fatal(err)
		}

		cat, err := tenancy.ReadCatalog(ctx, db, tn.Namespace)
		if err != nil {
			t.Fatalf("ReadCatalog: %v", err)
		}
		if cat.Version != tn.SchemaVersion+1 {
			t.Errorf("Version = %d, want %d", cat.Version, tn.SchemaVersion+1)
		}
		ford := cat.Tables[slices.IndexFunc(cat.Tables, func(tb tenancy.Table) bool { return tb.Name == "ford" })]
		var names []string
		for _, c := range ford.Columns {
			names = append(names, c.Name)
		}
		if want := []string{"id", "model", "created_at", "updated_at", "trim_level", "not_an_extra"}; !slices.Equal(names, want) {
			t.Fatalf("ford columns = %v, want %v (dropped columns left out, added ones last)", names, want)
		}
		trim := ford.Columns[4]
		if trim.SQLType != "character varying(255)" || !trim.NotNull || trim.Default == nil || *trim.Default != "'base'::character varying" {
			t.Errorf("trim_level = %s", columnsString([]tenancy.Column{trim}))
		}
		if trim.Extra == nil {
			t.Fatal("trim_level has no Extra")
		}
		if e := trim.Extra; e.Brand != "ford" || e.DisplayName != "Trim level" || e.Type != "char" || !e.Required ||
			e.DefaultValue == nil || *e.DefaultValue != "base" || e.Archived {
			t.Errorf("trim_level Extra = %+v", *e)
		}
		if ford.Columns[5].Extra != nil {
			t.Errorf("not_an_extra has Extra %+v, want nil", *ford.Columns[5].Extra)
		}
		for _, tb := range cat.Tables {
			if tb.Name == "ford" {
				continue
			}
			for _, c := range tb.Columns {
				if c.Extra != nil {
					t.Errorf("%s.%s has Extra %+v; the extra belongs to ford", tb.Name, c.Name, *c.Extra)
				}
			}
		}
	})

	t.Run("InTx", func(t *testing.T) {
		t.Parallel()
		// Under a tenant's search_path, which hides administration.
		ctx := context.Background()
		tn := tenancytest.NewTenant(t, db)
		var cat *tenancy.Catalog
		err := tenancy.InTx(ctx, db, tn.Namespace, tenancy.TxOptions{ReadOnly: true}, func(tx *sqlx.Tx) error {
			var err error
			cat, err = tenancy.ReadCatalog(ctx, tx, tn.Namespace)
			return err
		})
		if err != nil {
			t.Fatalf("ReadCatalog in InTx: %v", err)
		}
		if len(cat.Tables) != 3 {
			t.Errorf("got %d tables, want 3", len(cat.Tables))
		}
	})

	t.Run("OtherTenantUntouched", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		a := tenancytest.NewTenant(t, db)
		b := tenancytest.NewTenant(t, db)
		if _, err := db.ExecContext(ctx, `ALTER TABLE `+pq.QuoteIdentifier(b.Namespace)+`.toyota ADD COLUMN only_in_b text`); err != nil {
			t.Fatal(err)
		}
		cat, err := tenancy.ReadCatalog(ctx, db, a.Namespace)
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range cat.Tables {
			if len(tb.Columns) != 5 {
				t.Errorf("%s of %s has %d columns, want 5", tb.Name, a.Alias, len(tb.Columns))
			}
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		dropped := tenancytest.NewTenant(t, db)
		store := tenancy.NewStore(db, tenancytest.DSN(t))
		if err := store.Drop(ctx, dropped.Alias, dropped.Alias); err != nil {
			t.Fatal(err)
		}
		for _, ns := range []string{dropped.Namespace, "no_such_schema", "public", `a"b`} {
			_, err := tenancy.ReadCatalog(ctx, db, ns)
			if !errors.Is(err, tenancy.ErrNotFound) {
				t.Errorf("ReadCatalog(%q) = %v, want ErrNotFound", ns, err)
			}
		}
	})
}

func equalColumn(a, b tenancy.Column) bool {
	return a.Name == b.Name && a.SQLType == b.SQLType && a.NotNull == b.NotNull &&
		a.Identity == b.Identity && (a.Default == nil) == (b.Default == nil) &&
		(a.Default == nil || *a.Default == *b.Default) && a.Extra == b.Extra
}

func columnsString(cols []tenancy.Column) string {
	s := ""
	for _, c := range cols {
		def := "<nil>"
		if c.Default != nil {
			def = *c.Default
		}
		s += "[" + c.Name + " " + c.SQLType + " notnull=" + boolString(c.NotNull) + " identity=" + boolString(c.Identity) + " default=" + def + "]"
	}
	return s
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func ptr[T any](v T) *T { return &v }
