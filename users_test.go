package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"tenantgraph/identity"
	"tenantgraph/tenancy/tenancytest"
)

func TestRunUser_Create(t *testing.T) {
	t.Parallel()
	dsn := tenancytest.DSN(t)
	store := identity.NewStore(tenancytest.DB(t))
	ctx := context.Background()

	create := func(t *testing.T, stdin string, extra ...string) (string, string, error) {
		t.Helper()
		email := uniqueEmail("cli")
		args := append([]string{"user", "create", "--database-url", dsn, "--email", email, "--name", "Cli User"}, extra...)
		var out, errOut bytes.Buffer
		err := run(ctx, args, strings.NewReader(stdin), &out, &errOut)
		return email, out.String(), err
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		email, out, err := create(t, "a-long-password\n")
		if err != nil {
			t.Fatalf("user create: %v", err)
		}
		if strings.Contains(out, "a-long-password") || strings.Contains(out, "password") {
			t.Errorf("output repeats the password: %q", out)
		}
		u, err := store.Authenticate(ctx, email, "a-long-password")
		if err != nil {
			t.Fatalf("sign in as the new user: %v", err)
		}
		if u.Admin || !strings.Contains(out, email) {
			t.Errorf("user %+v, output %q", u, out)
		}
	})

	// Each run hashes with bcrypt's default cost, slow under the race
	// detector: the subtests run in parallel, and the generated password
	// and --admin share one run.
	t.Run("GeneratedPasswordAdmin", func(t *testing.T) {
		t.Parallel()
		email, out, err := create(t, "", "--admin")
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`password \(shown once\): (\S+)\n`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no generated password in %q", out)
		}
		if strings.Count(out, m[1]) != 1 {
			t.Errorf("the password is printed more than once: %q", out)
		}
		if len(m[1]) < identity.MinPasswordLength {
			t.Errorf("generated password %q is shorter than %d", m[1], identity.MinPasswordLength)
		}
		u, err := store.Authenticate(ctx, email, m[1])
		if err != nil {
			t.Fatalf("sign in with the generated password: %v", err)
		}
		if !u.Admin || !strings.Contains(out, "admin") {
			t.Errorf("--admin: user %+v, output %q", u, out)
		}
	})

	t.Run("ErrShortPassword", func(t *testing.T) {
		t.Parallel()
		email, out, err := create(t, "short\n")
		if !errors.Is(err, identity.ErrInvalid) {
			t.Errorf("short password: %v, want ErrInvalid", err)
		}
		if _, err := store.UserByEmail(ctx, email); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("a user was created with a short password: %v (output %q)", err, out)
		}
	})

	t.Run("ErrSeveralLines", func(t *testing.T) {
		t.Parallel()
		email, _, err := create(t, "a-long-password\nsecond line\n")
		if err == nil || !strings.Contains(err.Error(), "more than one line") {
			t.Errorf("two lines on stdin: %v, want an error saying so", err)
		}
		if _, err := store.UserByEmail(ctx, email); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("a user was created from two lines of stdin: %v", err)
		}
	})

	t.Run("ErrDuplicate", func(t *testing.T) {
		t.Parallel()
		fast := identity.NewStore(tenancytest.DB(t))
		fast.BcryptCost = bcrypt.MinCost
		email := uniqueEmail("cli-dup")
		if _, err := fast.CreateUser(ctx, email, "First", "a-long-password", false); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		err := run(ctx, []string{"user", "create", "--database-url", dsn, "--email", strings.ToUpper(email), "--name", "Again"},
			strings.NewReader("a-long-password\n"), &out, &errOut)
		if !errors.Is(err, identity.ErrConflict) {
			t.Errorf("same email again: %v, want ErrConflict", err)
		}
	})

	t.Run("ErrMissingFlags", func(t *testing.T) {
		t.Parallel()
		var out, errOut bytes.Buffer
		for _, args := range [][]string{
			{"user", "create", "--database-url", dsn, "--name", "No Email"},
			{"user", "create", "--database-url", dsn, "--email", uniqueEmail("cli")},
			{"user"},
			{"user", "delete"},
		} {
			if err := run(ctx, args, strings.NewReader("a-long-password\n"), &out, &errOut); err == nil {
				t.Errorf("%v: no error", args)
			}
		}
	})
}
