package identity_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/crypto/bcrypt"

	"tenantgraph/identity"
	"tenantgraph/migrations"
	"tenantgraph/tenancy/tenancytest"
)

const password = "correct-horse-battery"

func newStore(t *testing.T) *identity.Store {
	t.Helper()
	s := identity.NewStore(tenancytest.DB(t))
	s.BcryptCost = bcrypt.MinCost
	return s
}

func uniqueEmail(prefix string) string {
	return fmt.Sprintf("%s-%08x@example.com", prefix, rand.Uint32())
}

func mustCreate(t *testing.T, s *identity.Store, admin bool) *identity.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), uniqueEmail("store"), "Store User", password, admin)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestStore_CreateUser(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		email := uniqueEmail("Create")
		u, err := s.CreateUser(ctx, "  "+strings.ToUpper(email)+" ", " Ada ", password, false)
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != strings.ToLower(email) || u.Name != "Ada" || !u.Active || u.Admin || u.ID == 0 {
			t.Errorf("created %+v", u)
		}
		a, err := s.CreateUser(ctx, uniqueEmail("create-admin"), "Admin", password, true)
		if err != nil || !a.Admin {
			t.Errorf("admin user: %+v %v", a, err)
		}
		// No password: an OpenID Connect user, who cannot sign in with one.
		o, err := s.CreateUser(ctx, uniqueEmail("create-oidc"), "Oidc", "", false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, o.Email, ""); !errors.Is(err, identity.ErrBadPassword) {
			t.Errorf("password sign-in of a user without one: %v, want ErrBadPassword", err)
		}
	})

	t.Run("ErrEmail", func(t *testing.T) {
		for _, email := range []string{"", "   ", "not-an-email", "@example.com", "a@", "a@b@example.com",
			"Ada <ada@example.com>", "ada@example.com, bob@example.com", "ada @example.com"} {
			if _, err := s.CreateUser(ctx, email, "X", password, false); !errors.Is(err, identity.ErrInvalid) {
				t.Errorf("email %q: %v, want ErrInvalid", email, err)
			}
		}
	})

	t.Run("ErrDuplicateEmail", func(t *testing.T) {
		email := uniqueEmail("dup")
		if _, err := s.CreateUser(ctx, email, "First", password, false); err != nil {
			t.Fatal(err)
		}
		for _, again := range []string{email, strings.ToUpper(email), " " + strings.ToUpper(email[:1]) + email[1:]} {
			if _, err := s.CreateUser(ctx, again, "Second", password, false); !errors.Is(err, identity.ErrConflict) {
				t.Errorf("email %q again: %v, want ErrConflict", again, err)
			}
		}
	})

	t.Run("ErrPassword", func(t *testing.T) {
		for _, pw := range []string{"short", "123456789", strings.Repeat("x", 73)} {
			email := uniqueEmail("pw")
			if _, err := s.CreateUser(ctx, email, "X", pw, false); !errors.Is(err, identity.ErrInvalid) {
				t.Errorf("password of %d bytes: %v, want ErrInvalid", len(pw), err)
			}
			if _, err := s.UserByEmail(ctx, email); !errors.Is(err, identity.ErrNotFound) {
				t.Errorf("a refused user exists: %v", err)
			}
		}
		if _, err := s.CreateUser(ctx, uniqueEmail("pw"), "X", strings.Repeat("é", identity.MinPasswordLength), false); err != nil {
			t.Errorf("password of %d characters: %v", identity.MinPasswordLength, err)
		}
	})

	t.Run("ErrName", func(t *testing.T) {
		if _, err := s.CreateUser(ctx, uniqueEmail("name"), "  ", password, false); !errors.Is(err, identity.ErrInvalid) {
			t.Errorf("empty name: %v, want ErrInvalid", err)
		}
		if _, err := s.CreateUser(ctx, uniqueEmail("name"), "x\ny", password, false); !errors.Is(err, identity.ErrInvalid) {
			t.Errorf("name with a newline: %v, want ErrInvalid", err)
		}
	})
}

func TestStore_Authenticate(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	u := mustCreate(t, s, false)

	t.Run("OK", func(t *testing.T) {
		for _, email := range []string{u.Email, strings.ToUpper(u.Email), " " + u.Email + " "} {
			got, err := s.Authenticate(ctx, email, password)
			if err != nil || got.ID != u.ID {
				t.Errorf("Authenticate(%q): %+v %v", email, got, err)
			}
		}
	})

	t.Run("ErrWrongPassword", func(t *testing.T) {
		for _, pw := range []string{"", "wrong-password", strings.ToUpper(password), password + " "} {
			if _, err := s.Authenticate(ctx, u.Email, pw); !errors.Is(err, identity.ErrBadPassword) {
				t.Errorf("password %q: %v, want ErrBadPassword", pw, err)
			}
		}
	})

	t.Run("ErrUnknownEmail", func(t *testing.T) {
		if _, err := s.Authenticate(ctx, uniqueEmail("nobody"), password); !errors.Is(err, identity.ErrBadPassword) {
			t.Errorf("unknown email: %v, want ErrBadPassword", err)
		}
	})

	t.Run("ErrInactive", func(t *testing.T) {
		v := mustCreate(t, s, false)
		if _, err := s.SetActive(ctx, v.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, v.Email, password); !errors.Is(err, identity.ErrInactive) {
			t.Errorf("inactive user: %v, want ErrInactive", err)
		}
		// A wrong password says nothing about the account.
		if _, err := s.Authenticate(ctx, v.Email, "wrong-password"); !errors.Is(err, identity.ErrBadPassword) {
			t.Errorf("inactive user, wrong password: %v, want ErrBadPassword", err)
		}
		if _, err := s.Principal(ctx, v.ID); !errors.Is(err, identity.ErrInactive) {
			t.Errorf("principal of an inactive user: %v, want ErrInactive", err)
		}
		if _, err := s.SetActive(ctx, v.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, v.Email, password); err != nil {
			t.Errorf("reactivated user: %v", err)
		}
	})
}

func TestStore_Grant(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	db := tenancytest.DB(t)
	mx := tenancytest.NewTenant(t, db)
	us := tenancytest.NewTenant(t, db)

	t.Run("OK", func(t *testing.T) {
		u := mustCreate(t, s, false)
		m, err := s.Grant(ctx, u.Email, strings.ToLower(mx.Alias), identity.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		if m.UserID != u.ID || m.Role != identity.RoleViewer || !strings.EqualFold(m.CountryAlias, mx.Alias) || m.Email != u.Email {
			t.Errorf("membership %+v", m)
		}
		if _, err := s.Grant(ctx, strings.ToUpper(u.Email), us.Alias, identity.RoleEditor); err != nil {
			t.Fatal(err)
		}
		p, err := s.Principal(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p.Admin || p.Countries[mx.ID] != identity.RoleViewer || p.Countries[us.ID] != identity.RoleEditor || len(p.Countries) != 2 {
			t.Errorf("principal %+v", p)
		}
		if !p.Can(us.ID, identity.RoleEditor) || p.Can(mx.ID, identity.RoleEditor) || p.Can(0, identity.RoleViewer) {
			t.Errorf("principal %+v: wrong Can", p)
		}
	})

	t.Run("RegrantReplaces", func(t *testing.T) {
		u := mustCreate(t, s, false)
		for _, role := range []identity.Role{identity.RoleEditor, identity.RoleViewer, identity.RoleEditor} {
			if _, err := s.Grant(ctx, u.Email, mx.Alias, role); err != nil {
				t.Fatal(err)
			}
			ms, err := s.Memberships(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != 1 || ms[0].Role != role {
				t.Errorf("after granting %s: %+v, want one membership with that role", role, ms)
			}
		}
	})

	t.Run("Admin", func(t *testing.T) {
		u := mustCreate(t, s, false)
		m, err := s.Grant(ctx, u.Email, "", identity.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		if m.Role != identity.RoleAdmin || m.CountryAlias != "" {
			t.Errorf("admin membership %+v", m)
		}
		if _, err := s.Grant(ctx, u.Email, "", identity.RoleAdmin); err != nil {
			t.Errorf("granting admin twice: %v", err)
		}
		p, err := s.Principal(ctx, u.ID)
		if err != nil || !p.Admin || !p.Can(mx.ID, identity.RoleAdmin) {
			t.Errorf("principal %+v %v, want admin", p, err)
		}
		if got, _ := s.User(ctx, u.ID); !got.Admin {
			t.Error("User.Admin is false after granting admin")
		}
		if err := s.Revoke(ctx, u.Email, ""); err != nil {
			t.Fatal(err)
		}
		if p, err := s.Principal(ctx, u.ID); err != nil || p.Admin {
			t.Errorf("after revoking admin: %+v %v", p, err)
		}
	})

	t.Run("ErrRoleAndAlias", func(t *testing.T) {
		u := mustCreate(t, s, false)
		for _, tc := range []struct {
			alias string
			role  identity.Role
		}{
			{"", identity.RoleEditor},
			{"", identity.RoleViewer},
			{mx.Alias, identity.RoleAdmin},
			{mx.Alias, "owner"},
			{mx.Alias, ""},
			{mx.Alias, "EDITOR"},
		} {
			if _, err := s.Grant(ctx, u.Email, tc.alias, tc.role); !errors.Is(err, identity.ErrInvalid) {
				t.Errorf("Grant(%q, %q): %v, want ErrInvalid", tc.alias, tc.role, err)
			}
		}
		if ms, _ := s.Memberships(ctx, u.ID); len(ms) != 0 {
			t.Errorf("refused grants left memberships %+v", ms)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		u := mustCreate(t, s, false)
		if _, err := s.Grant(ctx, uniqueEmail("nobody"), mx.Alias, identity.RoleViewer); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("unknown user: %v, want ErrNotFound", err)
		}
		if _, err := s.Grant(ctx, u.Email, "ZZNOPE", identity.RoleViewer); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("unknown country: %v, want ErrNotFound", err)
		}
	})

	t.Run("Revoke", func(t *testing.T) {
		u := mustCreate(t, s, false)
		for _, tn := range []string{mx.Alias, us.Alias} {
			if _, err := s.Grant(ctx, u.Email, tn, identity.RoleEditor); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Revoke(ctx, strings.ToUpper(u.Email), strings.ToLower(mx.Alias)); err != nil {
			t.Fatal(err)
		}
		p, err := s.Principal(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := p.Countries[mx.ID]; ok || p.Countries[us.ID] != identity.RoleEditor {
			t.Errorf("after revoking %s: %+v", mx.Alias, p.Countries)
		}
		if err := s.Revoke(ctx, u.Email, mx.Alias); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("revoking again: %v, want ErrNotFound", err)
		}
		// Revoking the admin role of a non-admin touches no country role.
		if err := s.Revoke(ctx, u.Email, ""); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("revoking admin of a non-admin: %v, want ErrNotFound", err)
		}
		if p, _ := s.Principal(ctx, u.ID); p.Countries[us.ID] != identity.RoleEditor {
			t.Errorf("revoking admin removed a country role: %+v", p.Countries)
		}
	})
}

func TestStore_Principal(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	u := mustCreate(t, s, false)
	p, err := s.Principal(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.UserID != u.ID || p.Email != u.Email || p.Admin || len(p.Countries) != 0 || p.TokenID != 0 {
		t.Errorf("principal of a user without roles: %+v", p)
	}
	if _, err := s.Principal(ctx, 1<<60); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
}

func TestStore_Token(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	db := tenancytest.DB(t)
	u := mustCreate(t, s, true)

	t.Run("OK", func(t *testing.T) {
		secret, tok, err := s.CreateToken(ctx, u.ID, " ci ", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, identity.TokenPrefix) || tok.Name != "ci" || tok.UserID != u.ID || tok.ExpiresAt != nil {
			t.Errorf("token %q %+v", secret, tok)
		}
		p, err := s.TokenPrincipal(ctx, secret)
		if err != nil || p.UserID != u.ID || p.TokenID != tok.ID || !p.Admin {
			t.Fatalf("TokenPrincipal: %+v %v", p, err)
		}
		ts, err := s.Tokens(ctx, u.ID)
		if err != nil || len(ts) == 0 || ts[0].ID != tok.ID || ts[0].LastUsedAt == nil {
			t.Errorf("Tokens: %+v %v, want the token, used", ts, err)
		}
		other, _, err := s.CreateToken(ctx, u.ID, "ci", nil)
		if err != nil || other == secret {
			t.Errorf("second token: %q %v", other, err)
		}
	})

	t.Run("ErrCreate", func(t *testing.T) {
		past := time.Now().Add(-time.Minute)
		if _, _, err := s.CreateToken(ctx, u.ID, "old", &past); !errors.Is(err, identity.ErrInvalid) {
			t.Errorf("expiry in the past: %v, want ErrInvalid", err)
		}
		if _, _, err := s.CreateToken(ctx, u.ID, "  ", nil); !errors.Is(err, identity.ErrInvalid) {
			t.Errorf("no name: %v, want ErrInvalid", err)
		}
	})

	t.Run("ErrBadToken", func(t *testing.T) {
		secret, tok, err := s.CreateToken(ctx, u.ID, "bad", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"", "tg_", secret + "x", strings.TrimPrefix(secret, identity.TokenPrefix), strings.ToUpper(secret)} {
			if _, err := s.TokenPrincipal(ctx, bad); !errors.Is(err, identity.ErrBadToken) {
				t.Errorf("secret %q: %v, want ErrBadToken", bad, err)
			}
		}

		future := time.Now().Add(time.Hour)
		expiring, et, err := s.CreateToken(ctx, u.ID, "expiring", &future)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenPrincipal(ctx, expiring); err != nil {
			t.Errorf("token before expiry: %v", err)
		}
		if _, err := db.Exec(`UPDATE administration.api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, et.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenPrincipal(ctx, expiring); !errors.Is(err, identity.ErrBadToken) {
			t.Errorf("expired token: %v, want ErrBadToken", err)
		}

		other := mustCreate(t, s, false)
		// The message neither blames the token's owner nor tells a stranger
		// that the token exists.
		want := fmt.Sprintf("you have no token with id %d", tok.ID)
		if _, err := s.RevokeToken(ctx, tok.ID, other.ID, false); !errors.Is(err, identity.ErrNotFound) || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("revoking someone else's token: %v, want ErrNotFound saying %q", err, want)
		}
		if _, err := s.TokenPrincipal(ctx, secret); err != nil {
			t.Errorf("token revoked by a stranger stopped working: %v", err)
		}
		rt, err := s.RevokeToken(ctx, tok.ID, u.ID, false)
		if err != nil || rt.RevokedAt == nil {
			t.Fatalf("revoke: %+v %v", rt, err)
		}
		if _, err := s.TokenPrincipal(ctx, secret); !errors.Is(err, identity.ErrBadToken) {
			t.Errorf("revoked token: %v, want ErrBadToken", err)
		}
		// Revoking again keeps the first revocation time.
		again, err := s.RevokeToken(ctx, tok.ID, u.ID, false)
		if err != nil || !again.RevokedAt.Equal(*rt.RevokedAt) {
			t.Errorf("revoking again: %+v %v", again, err)
		}
	})

	t.Run("ErrInactiveUser", func(t *testing.T) {
		v := mustCreate(t, s, false)
		secret, _, err := s.CreateToken(ctx, v.ID, "ci", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetActive(ctx, v.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenPrincipal(ctx, secret); !errors.Is(err, identity.ErrBadToken) {
			t.Errorf("inactive user's token: %v, want ErrBadToken", err)
		}
	})

	t.Run("AdminRevokes", func(t *testing.T) {
		v := mustCreate(t, s, false)
		secret, tok, err := s.CreateToken(ctx, v.ID, "ci", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RevokeToken(ctx, tok.ID, u.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenPrincipal(ctx, secret); !errors.Is(err, identity.ErrBadToken) {
			t.Errorf("token revoked by an admin: %v, want ErrBadToken", err)
		}
		// An admin may revoke anyone's token, so "of yours" would be wrong.
		want := fmt.Sprintf("no token has id %d", int64(1<<60))
		if _, err := s.RevokeToken(ctx, 1<<60, u.ID, true); !errors.Is(err, identity.ErrNotFound) || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("admin revoking an unknown token: %v, want ErrNotFound saying %q", err, want)
		}
	})
}

func TestStore_SignInOIDC(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()

	email := uniqueEmail("oidc")
	u, err := s.SignInOIDC(ctx, strings.ToUpper(email), "", false)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != email || u.Name != email || u.Admin {
		t.Errorf("first sign-in: %+v", u)
	}
	again, err := s.SignInOIDC(ctx, email, "Other Name", true)
	if err != nil || again.ID != u.ID || again.Admin {
		t.Errorf("second sign-in: %+v %v; it must not make an existing user admin", again, err)
	}
	adm, err := s.SignInOIDC(ctx, uniqueEmail("oidc-admin"), "Boss", true)
	if err != nil || !adm.Admin || adm.Name != "Boss" {
		t.Errorf("admin first sign-in: %+v %v", adm, err)
	}
	// A provider's name with a line break still signs the user in.
	odd, err := s.SignInOIDC(ctx, uniqueEmail("oidc-odd"), "Ana\nMaria", false)
	if err != nil || odd.Name != "Ana Maria" {
		t.Errorf("name with a newline from the provider: %+v %v, want the name Ana Maria", odd, err)
	}
	if _, err := s.SetActive(ctx, u.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SignInOIDC(ctx, email, "", false); !errors.Is(err, identity.ErrInactive) {
		t.Errorf("inactive user: %v, want ErrInactive", err)
	}
	if _, err := s.SignInOIDC(ctx, "not an email", "", false); !errors.Is(err, identity.ErrInvalid) {
		t.Errorf("bad email: %v, want ErrInvalid", err)
	}
}

// newLoneStore returns a Store on a database of its own, so the test alone
// decides who is an active admin: the shared test database holds the
// admins of every other test.
func newLoneStore(t *testing.T) *identity.Store {
	t.Helper()
	db, err := sqlx.Open("postgres", tenancytest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	t.Cleanup(func() { db.Close() })
	if _, err := migrations.MigrateAdmin(context.Background(), db.DB); err != nil {
		t.Fatal(err)
	}
	s := identity.NewStore(db)
	s.BcryptCost = bcrypt.MinCost
	return s
}

func mustBeActiveAdmin(t *testing.T, s *identity.Store, id int64, after string) {
	t.Helper()
	u, err := s.User(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Active || !u.Admin {
		t.Errorf("%s: %s is active %v, admin %v; want an active admin", after, u.Email, u.Active, u.Admin)
	}
}

func TestStore_SetActive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s := newLoneStore(t)
		adm := mustCreate(t, s, true)
		other := mustCreate(t, s, true)
		plain := mustCreate(t, s, false)

		// Another active admin remains each time.
		for _, id := range []int64{plain.ID, adm.ID} {
			u, err := s.SetActive(ctx, id, false)
			if err != nil || u.Active {
				t.Fatalf("deactivate %d: %+v %v", id, u, err)
			}
		}
		if u, err := s.SetActive(ctx, adm.ID, true); err != nil || !u.Active {
			t.Fatalf("reactivate: %+v %v", u, err)
		}
		if _, err := s.SetActive(ctx, other.ID, false); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrLastAdmin", func(t *testing.T) {
		t.Parallel()
		s := newLoneStore(t)
		adm := mustCreate(t, s, true)
		// An inactive admin is no admin anyone can act as.
		gone := mustCreate(t, s, true)
		if _, err := s.SetActive(ctx, gone.ID, false); err != nil {
			t.Fatal(err)
		}

		_, err := s.SetActive(ctx, adm.ID, false)
		if !errors.Is(err, identity.ErrLastAdmin) {
			t.Fatalf("deactivating the last active admin: %v, want ErrLastAdmin", err)
		}
		if !strings.Contains(err.Error(), adm.Email) || !strings.Contains(err.Error(), "only active admin") {
			t.Errorf("message %q does not say who and why", err)
		}
		mustBeActiveAdmin(t, s, adm.ID, "refused deactivation")

		// Deactivating someone already inactive changes nothing and is fine.
		if _, err := s.SetActive(ctx, gone.ID, false); err != nil {
			t.Errorf("deactivating an inactive admin again: %v", err)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		for _, active := range []bool{false, true} {
			if _, err := s.SetActive(ctx, 1<<60, active); !errors.Is(err, identity.ErrNotFound) {
				t.Errorf("SetActive(unknown, %v): %v, want ErrNotFound", active, err)
			}
		}
	})
}

func TestStore_Revoke(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ErrLastAdmin", func(t *testing.T) {
		t.Parallel()
		s := newLoneStore(t)
		adm := mustCreate(t, s, true)

		err := s.Revoke(ctx, adm.Email, "")
		if !errors.Is(err, identity.ErrLastAdmin) {
			t.Fatalf("revoking the last active admin's role: %v, want ErrLastAdmin", err)
		}
		mustBeActiveAdmin(t, s, adm.ID, "refused revocation")

		other := mustCreate(t, s, true)
		if err := s.Revoke(ctx, adm.Email, ""); err != nil {
			t.Fatalf("revoking one of two admins: %v", err)
		}
		if err := s.Revoke(ctx, other.Email, ""); !errors.Is(err, identity.ErrLastAdmin) {
			t.Errorf("revoking the remaining admin: %v, want ErrLastAdmin", err)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		tn := tenancytest.NewTenant(t, tenancytest.DB(t))
		u := mustCreate(t, s, false)
		nobody := uniqueEmail("nobody")
		for _, tc := range []struct{ email, alias, want string }{
			{nobody, "", `no user has email "` + nobody + `"`},
			{nobody, tn.Alias, `no user has email "` + nobody + `"`},
			{u.Email, "zz", `no country has alias "zz"`},
			{u.Email, tn.Alias, u.Email + ` holds no role in country "` + tn.Alias + `"`},
			{u.Email, "", u.Email + ` is not an admin`},
		} {
			err := s.Revoke(ctx, tc.email, tc.alias)
			if !errors.Is(err, identity.ErrNotFound) || !strings.HasSuffix(err.Error(), tc.want) {
				t.Errorf("Revoke(%q, %q): %v, want ErrNotFound saying %q", tc.email, tc.alias, err, tc.want)
			}
		}
	})
}

// TestStore_LastAdminRace has two admins remove each other at the same
// time, by deactivation or by revoking the role: one of them must stay.
func TestStore_LastAdminRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newLoneStore(t)
	a := mustCreate(t, s, true)
	b := mustCreate(t, s, true)

	for round := 0; round < 20; round++ {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			_, errs[0] = s.SetActive(ctx, a.ID, false)
		}()
		go func() {
			defer wg.Done()
			<-start
			errs[1] = s.Revoke(ctx, b.Email, "")
		}()
		close(start)
		wg.Wait()

		refused := 0
		for _, err := range errs {
			switch {
			case errors.Is(err, identity.ErrLastAdmin):
				refused++
			case err != nil:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if refused != 1 {
			t.Fatalf("round %d: %d of 2 removals refused, want exactly 1 (errors %v)", round, refused, errs)
		}

		// Put both back for the next round.
		if _, err := s.SetActive(ctx, a.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Grant(ctx, b.Email, "", identity.RoleAdmin); err != nil {
			t.Fatal(err)
		}
	}
}
