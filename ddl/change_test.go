package ddl_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"tenantgraph/ddl"
	"tenantgraph/tenancy"
	"tenantgraph/tenancy/tenancytest"
)

// changerTenant is a throwaway tenant and a Changer over the test pool.
type changerTenant struct {
	db *sqlx.DB
	ch *ddl.Changer
	t  *tenancy.Tenant
}

func newChangerTenant(tb testing.TB, lockTimeout time.Duration) *changerTenant {
	tb.Helper()
	db := tenancytest.DB(tb)
	return &changerTenant{db: db, ch: ddl.NewChanger(db, lockTimeout), t: tenancytest.NewTenant(tb, db)}
}

// exec runs SQL against the tenant's schema, schema-qualified by the caller
// through %s.
func (c *changerTenant) exec(tb testing.TB, format string, args ...any) {
	tb.Helper()
	q := fmt.Sprintf(format, pq.QuoteIdentifier(c.t.Namespace))
	if _, err := c.db.Exec(q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

func (c *changerTenant) version(tb testing.TB) int64 {
	tb.Helper()
	var v int64
	if err := c.db.Get(&v, `SELECT schema_version FROM administration.countries WHERE id = $1`, c.t.ID); err != nil {
		tb.Fatal(err)
	}
	return v
}

// state describes everything a change may touch: the version, the extras
// rows, the brands and the columns of every table of the tenant.
func (c *changerTenant) state(tb testing.TB) string {
	tb.Helper()
	var extras, columns, brands []string
	ns := pq.QuoteIdentifier(c.t.Namespace)
	if err := c.db.Select(&extras, `
		SELECT concat_ws('|', id, brand, name, display_name, type, required, default_value, archived_at, updated_at)
		FROM `+ns+`.extras ORDER BY id`); err != nil {
		tb.Fatal(err)
	}
	if err := c.db.Select(&brands, `SELECT name FROM `+ns+`.brand ORDER BY name`); err != nil {
		tb.Fatal(err)
	}
	if err := c.db.Select(&columns, `
		SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
		FROM information_schema.columns WHERE table_schema = $1
		ORDER BY table_name, ordinal_position`, c.t.Namespace); err != nil {
		tb.Fatal(err)
	}
	return fmt.Sprintf("version %d\nextras %q\nbrands %q\ncolumns %q", c.version(tb), extras, brands, columns)
}

// column returns the data type and nullability of table.column, or "" when
// there is no such column.
func (c *changerTenant) column(tb testing.TB, table, column string) string {
	tb.Helper()
	var out []string
	if err := c.db.Select(&out, `
		SELECT data_type || ' ' || is_nullable FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = $2 AND column_name = $3`, c.t.Namespace, table, column); err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		return ""
	}
	return out[0]
}

func (c *changerTenant) createExtra(tb testing.TB, in ddl.NewExtra) *ddl.ExtraRow {
	tb.Helper()
	row, _, err := c.ch.CreateExtra(context.Background(), c.t, in)
	if err != nil {
		tb.Fatalf("CreateExtra(%+v): %v", in, err)
	}
	return row
}

func ptr[T any](v T) *T { return &v }

func TestChanger_CreateExtra(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		c := newChangerTenant(t, 0)
		ctx := context.Background()
		before := c.version(t)

		row, v, err := c.ch.CreateExtra(ctx, c.t, ddl.NewExtra{
			Brand: "toyota", Name: "trim_level", DisplayName: "Trim level", Type: "char",
		})
		if err != nil {
			t.Fatalf("CreateExtra: %v", err)
		}
		if v != before+1 || c.version(t) != v {
			t.Errorf("version = %d (stored %d), want %d", v, c.version(t), before+1)
		}
		if row.ID == 0 || row.Brand != "toyota" || row.Name != "trim_level" || row.DisplayName != "Trim level" ||
			row.Type != "char" || row.Required || row.DefaultValue != nil || row.Archived {
			t.Errorf("row = %+v", row)
		}
		if got := c.column(t, "toyota", "trim_level"); got != "character varying YES" {
			t.Errorf("column = %q, want a nullable varchar", got)
		}
	})

	t.Run("OKEveryType", func(t *testing.T) {
		t.Parallel()
		c := newChangerTenant(t, 0)
		want := map[string]string{
			"char": "character varying", "text": "text", "integer": "integer", "bigint": "bigint",
			"float": "double precision", "boolean": "boolean", "date": "date",
			"datetime": "timestamp with time zone", "time": "time without time zone",
		}
		for _, typ := range ddl.Types {
			c.createExtra(t, ddl.NewExtra{Brand: "ford", Name: "x_" + typ.Name, DisplayName: typ.Name, Type: typ.Name})
			if got := c.column(t, "ford", "x_"+typ.Name); got != want[typ.Name]+" YES" {
				t.Errorf("%s: column = %q, want %q", typ.Name, got, want[typ.Name]+" YES")
			}
		}
	})

	t.Run("OKRequiredDefault", func(t *testing.T) {
		t.Parallel()
		c := newChangerTenant(t, 0)
		c.exec(t, `INSERT INTO %s.toyota (model) VALUES ('Corolla'), ('Yaris')`)
		for _, tc := range []struct{ typ, def, stored string }{
			{"char", "n/a", "n/a"},
			{"text", `it's \ fine`, `it's \ fine`},
			{"integer", " 12 ", "12"},
			{"bigint", "9223372036854775807", "9223372036854775807"},
			{"float", "2.5", "2.5"},
			{"boolean", "TRUE", "true"},
			{"date", "2024-02-29", "2024-02-29"},
			{"datetime", "2024-05-01T15:45:00+02:00", "2024-05-01T13:45:00Z"},
			{"time", "12:30:00", "12:30:00"},
		} {
			name := "r_" + tc.typ
			row := c.createExtra(t, ddl.NewExtra{Brand: "toyota", Name: name, DisplayName: tc.typ, Type: tc.typ,
				Required: true, Default: ptr(tc.def)})
			if !row.Required || row.DefaultValue == nil {
				t.Errorf("%s: row = %+v, want required with a default", tc.typ, row)
			}
			if got := c.column(t, "toyota", name); !strings.HasSuffix(got, " NO") {
				t.Errorf("%s: column = %q, want NOT NULL", tc.typ, got)
			}
			// The rows that existed get the default.
			expr := pq.QuoteIdentifier(name) + "::text"
			if tc.typ == "datetime" {
				expr = `to_char(` + pq.QuoteIdentifier(name) + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`
			}
			var got []string
			if err := c.db.Select(&got, `SELECT `+expr+` FROM `+pq.QuoteIdentifier(c.t.Namespace)+`.toyota ORDER BY id`); err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0] != tc.stored || got[1] != tc.stored {
				t.Errorf("%s: existing rows hold %q, want the default %q", tc.typ, got, tc.stored)
			}
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		c := newChangerTenant(t, 0)
		before := c.state(t)
		for _, brand := range []string{"lexus", "", "Toyota", `toyota"; DROP TABLE ford; --`, "brand", "extras"} {
			_, _, err := c.ch.CreateExtra(context.Background(), c.t, ddl.NewExtra{
				Brand: brand, Name: "trim", DisplayName: "Trim", Type: "char",
			})
			if !errors.Is(err, ddl.ErrNotFound) {
				t.Errorf("brand %q: err = %v, want ErrNotFound", brand, err)
			}
		}
		if after := c.state(t); after != before {
			t.Errorf("state changed:\nbefore %s\nafter  %s", before, after)
		}
	})

	t.Run("ErrConflict", func(t *testing.T) {
		t.Parallel()
		c := newChangerTenant(t, 0)
		c.createExtra(t, ddl.NewExtra{Brand: "toyota", Name: "color", DisplayName: "Color", Type: "char"})
		archived := c.createExtra(t, ddl.NewExtra{Brand: "toyota", Name: "old_color", DisplayName: "Old color", Type: "char"})
		if _, _, err := c.ch.ArchiveExtra(context.Background(), c.t, archived.ID, "old_color"); err != nil {
			t.Fatal(err)
		}
		// A column added outside the API, with no extras row.
		c.exec(t, `ALTER TABLE %s.toyota ADD COLUMN sunroof boolean`)
		before := c.state(t)

		for _, name := range []string{"color", "old_color", "sunroof"} {
			_, _, err := c.ch.CreateExtra(context.Background(), c.t, ddl.NewExtra{
				Brand: "toyota", Name: name, DisplayName: "X", Type: "text",
			})
			if !errors.Is(err, ddl.ErrConflict) {
				t.Errorf("name %q: err = %v, want ErrConflict", name, err)
			}
		}
		if after := c.state(t); after != before {
			t.Errorf("state changed:\nbefore %s\nafter  %s", before, after)
		}
		// Another brand may use the name.
		c.createExtra(t, ddl.NewExtra{Brand: "ford", Name: "color", DisplayName: "Color", Type: "char"})
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		c := newChangerTenant(t, 0)
		c.exec(t, `INSERT INTO %s.toyota (model) VALUES ('Corolla')`)
		before := c.state(t)
		ok := ddl.NewExtra{Brand: "toyota", Name: "trim", DisplayName: "Trim", Type: "char"}
		with := func(f func(*ddl.NewExtra)) ddl.NewExtra {
			in := ok
			f(&in)
			return in
		}
		name := func(n string) ddl.NewExtra { return with(func(in *ddl.NewExtra) { in.Name = n }) }
		def := func(typ, d string) ddl.NewExtra {
			return with(func(in *ddl.NewExtra) { in.Type, in.Default = typ, ptr(d) })
		}
		for _, tc := range []struct {
			label string
			in    ddl.NewExtra
		}{
			{"double quote", name(`tr"im`)},
			{"quote and semicolon", name(`x" text; DROP TABLE toyota; --`)},
			{"semicolon", name("trim;")},
			{"space", name("trim level")},
			{"upper case", name("Trim")},
			{"NUL byte", name("trim\x00level")},
			{"leading digit", name("2trim")},
			{"leading __", name("__trim")},
			{"64 bytes", name("t" + strings.Repeat("r", 63))},
			{"empty", name("")},
			{"base column id", name("id")},
			{"base column model", name("model")},
			{"base column created_at", name("created_at")},
			{"base column user_id", name("user_id")},
			{"base column updated_at", name("updated_at")},
			{"base column creator", name("creator")},
			{"empty display name", with(func(in *ddl.NewExtra) { in.DisplayName = "  " })},
			{"display name with a newline", with(func(in *ddl.NewExtra) { in.DisplayName = "Trim\nlevel" })},
			{"unknown type", with(func(in *ddl.NewExtra) { in.Type = "varchar(10)" })},
			{"integer 1.5", def("integer", "1.5")},
			{"integer abc", def("integer", "abc")},
			{"bigint over int64", def("bigint", "9223372036854775808")},
			{"float NaN", def("float", "NaN")},
			{"float inf", def("float", "inf")},
			{"boolean yes", def("boolean", "yes")},
			{"date month 13", def("date", "2024-13-01")},
			{"datetime without zone", def("datetime", "2024-05-01T13:45:00")},
			{"time 25:00", def("time", "25:00:00")},
			{"char over 255", def("char", strings.Repeat("x", 256))},
			{"text NUL", def("text", "a\x00")},
			{"required without default", with(func(in *ddl.NewExtra) { in.Required = true })},
		} {
			_, _, err := c.ch.CreateExtra(context.Background(), c.t, tc.in)
			if !errors.Is(err, ddl.ErrInvalid) {
				t.Errorf("%s: err = %v, want ErrInvalid", tc.label, err)
			}
		}
		if after := c.state(t); after != before {
			t.Errorf("state changed:\nbefore %s\nafter  %s", before, after)
		}
	})
}

func TestChanger_UpdateExtra(t *testing.T) {
	t.Parallel()

	t.Run("OKRenameKeepsData", func(t *testing.T) {
		t.Parallel()
		c := newChangerTenant(t, 0)
		ctx := context.Background()
		row := c.createExtra(t, ddl.NewExtra{Brand: "toyota", Name: "trim", DisplayName: "Trim", Type: "char"})
		c.exec(t, `INSERT INTO %s.toyota (model, trim) VALUES ('Corolla', 'LE')`)
		before := c.version(t)

		got, v, err := c.ch.UpdateExtra(ctx, c.t, row.ID, ptr("trim_level"), ptr("Trim level"))
		if err != nil {
			t.Fatalf("UpdateExtra: %v", err)
		}
		if v != before+1 || got.Name != "trim_level" || got.DisplayName != "Trim level" {
			t.Errorf("UpdateExtra = %+v, %d", got, v)
		}
		if c.column(t, "toyota", "trim") != "" || c.column(t, "toyota", "trim_level") == "" {
			t.Errorf("column not renamed")
		}
		var data string
		if err := c.db.Get(&data, `SELECT trim_level FROM `+pq.QuoteIdentifier(c.t.Namespace)+`.toyota`); err != nil || data != "LE" {
			t.Errorf("data = %q, %v; want LE kept", data, err)
		}

		// The display name alone changes no column.
		if _, _, err := c.ch.UpdateExtra(ctx, c.t, row.ID, nil, ptr("Trim")); err != nil {
			t.Fatal(err)
		}
		if c.column(t, "toyota", "trim_level") == "" {
			t.Errorf("column renamed by a display name change")
		}

		// Asking for what already is changes nothing, not even the
		// version, so no replica rebuilds for it.
		current := c.version(t)
		got, v, err = c.ch.UpdateExtra(ctx, c.t, row.ID, ptr("trim_level"), ptr("Trim"))
		if err != nil {
			t.Fatalf("UpdateExtra to the same name: %v", err)
		}
		if v != current || c.version(t) != current || got.Name != "trim_level" || got.DisplayName != "Trim" {
			t.Errorf("UpdateExtra to the same name = %+v, version %d (stored %d), want version %d unchanged",
				got, v, c.version(t), current)
		}
	})

	t.Run("Err", func(t *testing.T) {
		t.Parallel()
		c := newChangerTenant(t, 0)
		ctx := context.Background()
		trim := c.createExtra(t, ddl.NewExtra{Brand: "toyota", Name: "trim", DisplayName: "Trim", Type: "char"})
		c.createExtra(t, ddl.NewExtra{Brand: "toyota", Name: "color", DisplayName: "Color", Type: "char"})
		old := c.createExtra(t, ddl.NewExtra{Brand: "toyota", Name: "old", DisplayName: "Old", Type: "char"})
		if _, _, err := c.ch.ArchiveExtra(ctx, c.t, old.ID, "old"); err != nil {
			t.Fatal(err)
		}
		before := c.state(t)
		for _, tc := range []struct {
			label       string
			id          int64
			name, dname *string
			want        error
		}{
			{"to existing extra", trim.ID, ptr("color"), nil, ddl.ErrConflict},
			{"to archived extra", trim.ID, ptr("old"), nil, ddl.ErrConflict},
			{"to base column", trim.ID, ptr("model"), nil, ddl.ErrInvalid},
			{"to bad name", trim.ID, ptr(`a"b`), nil, ddl.ErrInvalid},
			{"empty display name", trim.ID, nil, ptr(""), ddl.ErrInvalid},
			{"display name with a tab", trim.ID, nil, ptr("Trim\tlevel"), ddl.ErrInvalid},
			{"nothing to change", trim.ID, nil, nil, ddl.ErrInvalid},
			{"archived", old.ID, ptr("older"), nil, ddl.ErrInvalid},
			{"unknown id", 1 << 40, ptr("x"), nil, ddl.ErrNotFound},
		} {
			_, _, err := c.ch.UpdateExtra(ctx, c.t, tc.id, tc.name, tc.dname)
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: err = %v, want %v", tc.label, err, tc.want)
			}
		}
		if after := c.state(t); after != before {
			t.Errorf("state changed:\nbefore %s\nafter  %s", before, after)
		}
	})
}

func TestChanger_ArchiveExtra(t *testing.T) {
	t.Parallel()
	c := newChangerTenant(t, 0)
	ctx := context.Background()
	row := c.createExtra(t, ddl.NewExtra{Brand: "toyota", Name: "trim", DisplayName: "Trim", Type: "char"})
	other := c.createExtra(t, ddl.NewExtra{Brand: "toyota", Name: "color", DisplayName: "Color", Type: "char"})
	c.exec(t, `INSERT INTO %s.toyota (model, trim) VALUES ('Corolla', 'LE')`)

	// Purging needs the extra archived first, and every step needs the name.
	before := c.state(t)
	if _, _, err := c.ch.PurgeExtra(ctx, c.t, row.ID, "trim"); !errors.Is(err, ddl.ErrInvalid) {
		t.Errorf("PurgeExtra of an active extra: %v, want ErrInvalid", err)
	}
	for _, confirm := range []string{"", "TRIM", "color", "trim "} {
		if _, _, err := c.ch.ArchiveExtra(ctx, c.t, row.ID, confirm); !errors.Is(err, ddl.ErrInvalid) {
			t.Errorf("ArchiveExtra confirm %q: %v, want ErrInvalid", confirm, err)
		}
	}
	if _, _, err := c.ch.RestoreExtra(ctx, c.t, row.ID); !errors.Is(err, ddl.ErrInvalid) {
		t.Errorf("RestoreExtra of an active extra: %v, want ErrInvalid", err)
	}
	if _, _, err := c.ch.ArchiveExtra(ctx, c.t, 1<<40, "trim"); !errors.Is(err, ddl.ErrNotFound) {
		t.Errorf("ArchiveExtra of an unknown id: %v, want ErrNotFound", err)
	}
	if after := c.state(t); after != before {
		t.Fatalf("state changed:\nbefore %s\nafter  %s", before, after)
	}

	// Archive keeps the column and its data.
	got, _, err := c.ch.ArchiveExtra(ctx, c.t, row.ID, "trim")
	if err != nil || !got.Archived {
		t.Fatalf("ArchiveExtra = %+v, %v", got, err)
	}
	if c.column(t, "toyota", "trim") == "" {
		t.Errorf("archiving dropped the column")
	}
	if _, _, err := c.ch.ArchiveExtra(ctx, c.t, row.ID, "trim"); !errors.Is(err, ddl.ErrInvalid) {
		t.Errorf("ArchiveExtra twice: %v, want ErrInvalid", err)
	}

	// Restore brings it back.
	got, _, err = c.ch.RestoreExtra(ctx, c.t, row.ID)
	if err != nil || got.Archived {
		t.Fatalf("RestoreExtra = %+v, %v", got, err)
	}
	var data string
	if err := c.db.Get(&data, `SELECT trim FROM `+pq.QuoteIdentifier(c.t.Namespace)+`.toyota`); err != nil || data != "LE" {
		t.Errorf("data after restore = %q, %v; want LE", data, err)
	}

	// Purge drops the column and the extras row.
	if _, _, err := c.ch.ArchiveExtra(ctx, c.t, row.ID, "trim"); err != nil {
		t.Fatal(err)
	}
	before = c.state(t)
	if _, _, err := c.ch.PurgeExtra(ctx, c.t, row.ID, "color"); !errors.Is(err, ddl.ErrInvalid) {
		t.Errorf("PurgeExtra with another name: %v, want ErrInvalid", err)
	}
	if after := c.state(t); after != before {
		t.Fatalf("state changed by a refused purge:\nbefore %s\nafter  %s", before, after)
	}
	if _, _, err := c.ch.PurgeExtra(ctx, c.t, row.ID, "trim"); err != nil {
		t.Fatalf("PurgeExtra: %v", err)
	}
	if c.column(t, "toyota", "trim") != "" {
		t.Errorf("purge kept the column")
	}
	if _, _, err := c.ch.RestoreExtra(ctx, c.t, row.ID); !errors.Is(err, ddl.ErrNotFound) {
		t.Errorf("RestoreExtra after purge: %v, want ErrNotFound", err)
	}
	// The name is free again.
	c.createExtra(t, ddl.NewExtra{Brand: "toyota", Name: "trim", DisplayName: "Trim", Type: "integer"})
	if c.column(t, "toyota", "color") == "" {
		t.Errorf("purge touched another extra: %+v", other)
	}
}

func TestChanger_CreateBrand(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		c := newChangerTenant(t, 0)
		before := c.version(t)
		row, v, err := c.ch.CreateBrand(context.Background(), c.t, ddl.NewBrand{Name: "lexus", DisplayName: "Lexus", FoundationYear: ptr(1989)})
		if err != nil {
			t.Fatalf("CreateBrand: %v", err)
		}
		if v != before+1 || row.Name != "lexus" || row.FoundationYear == nil || *row.FoundationYear != 1989 {
			t.Errorf("CreateBrand = %+v, %d", row, v)
		}
		for _, col := range []string{"id", "user_id", "model", "created_at", "updated_at"} {
			if c.column(t, "lexus", col) == "" {
				t.Errorf("lexus has no column %s", col)
			}
		}
		// Extras can be added to it.
		c.createExtra(t, ddl.NewExtra{Brand: "lexus", Name: "hybrid", DisplayName: "Hybrid", Type: "boolean"})
	})

	t.Run("Err", func(t *testing.T) {
		t.Parallel()
		c := newChangerTenant(t, 0)
		c.exec(t, `CREATE TABLE %s.stray (id bigint)`)
		before := c.state(t)
		for _, tc := range []struct {
			name, display string
			want          error
		}{
			{"toyota", "Toyota", ddl.ErrConflict},
			{"stray", "Stray", ddl.ErrConflict},
			{"query", "Query", ddl.ErrConflict},
			{"brand", "Brand", ddl.ErrInvalid},
			{"extras", "Extras", ddl.ErrInvalid},
			{"brands", "Brands", ddl.ErrInvalid},
			{"Lexus", "Lexus", ddl.ErrInvalid},
			{`lexus"; DROP TABLE toyota; --`, "Lexus", ddl.ErrInvalid},
			{"lexus", " ", ddl.ErrInvalid},
		} {
			_, _, err := c.ch.CreateBrand(context.Background(), c.t, ddl.NewBrand{Name: tc.name, DisplayName: tc.display})
			if !errors.Is(err, tc.want) {
				t.Errorf("CreateBrand(%q) = %v, want %v", tc.name, err, tc.want)
			}
		}
		if after := c.state(t); after != before {
			t.Errorf("state changed:\nbefore %s\nafter  %s", before, after)
		}
	})
}

func TestChanger_LockTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	c := newChangerTenant(t, timeout)
	ctx := context.Background()
	before := c.state(t)

	// Another transaction reads the table and stays open.
	holder, err := c.db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Rollback() })
	if _, err := holder.Exec(`LOCK TABLE ` + pq.QuoteIdentifier(c.t.Namespace) + `.toyota IN ACCESS SHARE MODE`); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	_, _, err = c.ch.CreateExtra(ctx, c.t, ddl.NewExtra{Brand: "toyota", Name: "trim", DisplayName: "Trim", Type: "char"})
	took := time.Since(start)
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || pqErr.Code != "55P03" {
		t.Fatalf("CreateExtra under a lock: %v, want lock_not_available (55P03)", err)
	}
	if took < timeout || took > timeout+2*time.Second {
		t.Errorf("CreateExtra gave up after %v, want about %v", took, timeout)
	}
	if after := c.state(t); after != before {
		t.Errorf("state changed:\nbefore %s\nafter  %s", before, after)
	}

	// Once the table is free the same change goes through.
	holder.Rollback()
	c.createExtra(t, ddl.NewExtra{Brand: "toyota", Name: "trim", DisplayName: "Trim", Type: "char"})
}

func TestChanger_Notify(t *testing.T) {
	t.Parallel()
	c := newChangerTenant(t, 0)
	l := pq.NewListener(tenancytest.DSN(t), 10*time.Millisecond, time.Second, nil)
	t.Cleanup(func() { l.Close() })
	if err := l.Listen(tenancy.ChangeChannel); err != nil {
		t.Fatal(err)
	}

	_, v, err := c.ch.CreateExtra(context.Background(), c.t, ddl.NewExtra{Brand: "toyota", Name: "trim", DisplayName: "Trim", Type: "char"})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d:%d", c.t.ID, v)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case n := <-l.Notify:
			if n != nil && n.Extra == want {
				return
			}
		case <-deadline:
			t.Fatalf("no notification %q on %s", want, tenancy.ChangeChannel)
		}
	}
}
