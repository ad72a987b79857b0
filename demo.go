package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jmoiron/sqlx"

	"tenantgraph/identity"
	"tenantgraph/tenancy"
)

// demoCountries are the tenants `tenantgraph demo` makes.
var demoCountries = []tenancy.NewTenant{
	{Name: "United States", OfficialName: "United States of America", Alias: "US", AreaCode: "1"},
	{Name: "Mexico", OfficialName: "United Mexican States", Alias: "MX", AreaCode: "52"},
}

// demoModels are the sample rows per brand table, prefixed by country alias
// so each tenant's rows are told apart at a glance.
var demoModels = map[string][]string{
	"toyota":    {"Corolla", "Camry", "RAV4"},
	"ford":      {"Mustang", "F-150", "Bronco"},
	"chevrolet": {"Camaro", "Silverado", "Tahoe"},
}

func runDemo(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	cfg.bindCommon(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	return seedDemo(ctx, db, cfg.DatabaseURL, stdout)
}

// seedDemo creates the demo countries and their sample rows. Running it
// again changes nothing: existing countries are kept and a table that
// already has rows gets no more.
func seedDemo(ctx context.Context, db *sqlx.DB, dsn string, stdout io.Writer) error {
	store := tenancy.NewStore(db, dsn)
	for _, in := range demoCountries {
		t, err := store.ByAlias(ctx, in.Alias)
		if errors.Is(err, tenancy.ErrNotFound) {
			t, err = store.Create(ctx, in)
			if err == nil {
				fmt.Fprintf(stdout, "demo: created %s (%s)\n", t.Name, t.Alias)
			}
		}
		if err != nil {
			return fmt.Errorf("demo country %s: %w", in.Alias, err)
		}
		err = tenancy.InTx(ctx, db, t.Namespace, tenancy.TxOptions{}, func(tx *sqlx.Tx) error {
			for table, models := range demoModels {
				var n int
				if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM `+table); err != nil {
					return err
				}
				if n > 0 {
					continue
				}
				for _, m := range models {
					if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (model) VALUES ($1)`, t.Alias+" "+m); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("demo rows of %s: %w", in.Alias, err)
		}
	}
	if err := seedDemoUsers(ctx, db, stdout); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "demo: ready")
	return nil
}

// demoUsers are the demo's accounts. Their passwords are public: they
// exist only in databases `tenantgraph demo` set up.
var demoUsers = []struct {
	email, name, password, alias string
	role                         identity.Role
}{
	{"admin@example.com", "Demo Admin", "demo-admin-password", "", identity.RoleAdmin},
	{"editor.mx@example.com", "Demo Editor (MX)", "demo-editor-password", "MX", identity.RoleEditor},
	{"viewer.us@example.com", "Demo Viewer (US)", "demo-viewer-password", "US", identity.RoleViewer},
}

// seedDemoUsers creates the demo accounts that are missing and prints how
// to sign in.
func seedDemoUsers(ctx context.Context, db *sqlx.DB, stdout io.Writer) error {
	users := identity.NewStore(db)
	for _, du := range demoUsers {
		_, err := users.UserByEmail(ctx, du.email)
		if errors.Is(err, identity.ErrNotFound) {
			_, err = users.CreateUser(ctx, du.email, du.name, du.password, du.role == identity.RoleAdmin)
			if err == nil && du.alias != "" {
				_, err = users.Grant(ctx, du.email, du.alias, du.role)
			}
		}
		if err != nil {
			return fmt.Errorf("demo user %s: %w", du.email, err)
		}
		where := "everywhere"
		if du.alias != "" {
			where = "in " + du.alias
		}
		fmt.Fprintf(stdout, "demo: sign in as %-22s password %-22s (%s %s)\n", du.email, du.password, du.role, where)
	}
	return nil
}
