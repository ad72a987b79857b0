package identity_test

import (
	"context"
	"testing"

	"github.com/jmoiron/sqlx"
	"golang.org/x/crypto/bcrypt"

	"tenantgraph/identity"
	"tenantgraph/migrations"
	"tenantgraph/tenancy/tenancytest"
)

// TestStore_LookupsSurviveSchemaChange checks the prepared token and
// session lookups: after the administration schema changes a column they
// return to a new type, which makes PostgreSQL refuse the prepared plan,
// both still answer, and keep answering once prepared again. It runs on a
// database of its own, as it alters the administration schema.
func TestStore_LookupsSurviveSchemaChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlx.Open("postgres", tenancytest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	// One connection, so the statement prepared before the change is the
	// one used after it.
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := migrations.MigrateAdmin(ctx, db.DB); err != nil {
		t.Fatal(err)
	}
	s := identity.NewStore(db)
	s.BcryptCost = bcrypt.MinCost
	u, err := s.CreateUser(ctx, "prepared@example.com", "Prepared", "", true)
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := s.CreateToken(ctx, u.ID, "prepared", nil)
	if err != nil {
		t.Fatal(err)
	}

	check := func(when string) {
		t.Helper()
		p, err := s.TokenPrincipal(ctx, secret)
		if err != nil || p.UserID != u.ID || !p.Admin || p.Name != "Prepared" {
			t.Fatalf("%s: TokenPrincipal = %+v, %v", when, p, err)
		}
		p, err = s.Principal(ctx, u.ID)
		if err != nil || p.UserID != u.ID || !p.Admin || p.Name != "Prepared" {
			t.Fatalf("%s: Principal = %+v, %v", when, p, err)
		}
		if _, err := s.TokenPrincipal(ctx, secret+"x"); err != identity.ErrBadToken {
			t.Fatalf("%s: a wrong secret: %v, want ErrBadToken", when, err)
		}
	}
	check("before the change")
	if _, err := db.ExecContext(ctx, `ALTER TABLE administration.users ALTER COLUMN name TYPE varchar(300)`); err != nil {
		t.Fatal(err)
	}
	check("first lookups after the change")
	check("lookups prepared again")
}
