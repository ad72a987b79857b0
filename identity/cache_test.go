package identity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"tenantgraph/identity"
	"tenantgraph/tenancy/tenancytest"
)

func TestStore_EnableCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	s.EnableCache(time.Minute)
	u := mustCreate(t, s, false)
	secret, tok, err := s.CreateToken(ctx, u.ID, "cached", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenPrincipal(ctx, secret); err != nil {
		t.Fatal(err)
	}

	t.Run("ChangeElsewhereWaitsForClear", func(t *testing.T) {
		// Another replica's store: its change reaches this one by
		// notification, which the change listener turns into ClearCache.
		other := identity.NewStore(tenancytest.DB(t))
		if _, err := other.SetActive(ctx, u.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenPrincipal(ctx, secret); err != nil {
			t.Fatalf("before the notification the kept principal serves; got %v", err)
		}
		s.ClearCache()
		if _, err := s.TokenPrincipal(ctx, secret); !errors.Is(err, identity.ErrBadToken) {
			t.Fatalf("after ClearCache: got %v, want ErrBadToken", err)
		}
		if _, err := s.SetActive(ctx, u.ID, true); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("RevokeThroughStoreIsImmediate", func(t *testing.T) {
		if _, err := s.TokenPrincipal(ctx, secret); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RevokeToken(ctx, tok.ID, u.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenPrincipal(ctx, secret); !errors.Is(err, identity.ErrBadToken) {
			t.Fatalf("after revoke: got %v, want ErrBadToken", err)
		}
	})

	t.Run("NeverPastExpiry", func(t *testing.T) {
		exp := time.Now().Add(300 * time.Millisecond)
		secret, _, err := s.CreateToken(ctx, u.ID, "short", &exp)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenPrincipal(ctx, secret); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(exp) + 50*time.Millisecond)
		if _, err := s.TokenPrincipal(ctx, secret); !errors.Is(err, identity.ErrBadToken) {
			t.Fatalf("after expiry: got %v, want ErrBadToken", err)
		}
	})
}
