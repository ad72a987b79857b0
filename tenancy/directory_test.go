package tenancy_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"tenantgraph/tenancy"
	"tenantgraph/tenancy/tenancytest"
)

func TestDirectory_Lookup(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		store := tenancy.NewStore(db, tenancytest.DSN(t))
		dir := tenancy.NewDirectory(store)
		tn := tenancytest.NewTenant(t, db)

		first, err := dir.Lookup(ctx, strings.ToLower(tn.Alias))
		if err != nil {
			t.Fatalf("Lookup: %v", err)
		}
		if *first != *tn {
			t.Errorf("Lookup = %+v, want %+v", first, tn)
		}
		if dir.Cached(tn.ID) != first {
			t.Error("Cached does not return the looked-up tenant")
		}

		// Cached: a change the directory was not told about is not seen
		// until Refresh.
		if _, err := tenancy.BumpVersion(ctx, db, tn.ID); err != nil {
			t.Fatal(err)
		}
		again, err := dir.Lookup(ctx, tn.Alias)
		if err != nil || again != first {
			t.Errorf("second Lookup = %p, %v; want the cached %p", again, err, first)
		}
		fresh, err := dir.Refresh(ctx, tn.Alias)
		if err != nil || fresh.SchemaVersion != tn.SchemaVersion+1 {
			t.Fatalf("Refresh = %+v, %v; want version %d", fresh, err, tn.SchemaVersion+1)
		}
		if first.SchemaVersion != tn.SchemaVersion {
			t.Error("Refresh changed the earlier tenant in place; want a new pointer")
		}
		if got, _ := dir.Lookup(ctx, tn.Alias); got != fresh {
			t.Error("Lookup after Refresh does not return the refreshed tenant")
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		dir := tenancy.NewDirectory(tenancy.NewStore(db, tenancytest.DSN(t)))
		for _, alias := range []string{newAlias(), "", "a b"} {
			if _, err := dir.Lookup(ctx, alias); !errors.Is(err, tenancy.ErrNotFound) {
				t.Errorf("Lookup(%q) = %v, want ErrNotFound", alias, err)
			}
		}
	})
}

func TestDirectory_SetVersion(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	ctx := context.Background()
	dir := tenancy.NewDirectory(tenancy.NewStore(db, tenancytest.DSN(t)))
	tn := tenancytest.NewTenant(t, db)
	cached, err := dir.Lookup(ctx, tn.Alias)
	if err != nil {
		t.Fatal(err)
	}

	dir.SetVersion(tn.ID, tn.SchemaVersion+2)
	got := dir.Cached(tn.ID)
	if got.SchemaVersion != tn.SchemaVersion+2 {
		t.Errorf("version after SetVersion = %d, want %d", got.SchemaVersion, tn.SchemaVersion+2)
	}
	if cached.SchemaVersion != tn.SchemaVersion {
		t.Error("SetVersion changed a tenant a caller holds; want a new pointer")
	}

	// An older version, as a late notification brings, is ignored.
	dir.SetVersion(tn.ID, tn.SchemaVersion+1)
	if v := dir.Cached(tn.ID).SchemaVersion; v != tn.SchemaVersion+2 {
		t.Errorf("version after an older SetVersion = %d, want %d kept", v, tn.SchemaVersion+2)
	}

	// Unknown ids are ignored.
	dir.SetVersion(-1, 99)
	if dir.Cached(-1) != nil {
		t.Error("SetVersion of an unknown id cached something")
	}

	dir.Forget(tn.ID)
	if dir.Cached(tn.ID) != nil {
		t.Error("Cached after Forget is not nil")
	}
}

func TestDirectory_Sync(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	ctx := context.Background()
	store := tenancy.NewStore(db, tenancytest.DSN(t))
	dir := tenancy.NewDirectory(store)
	kept := tenancytest.NewTenant(t, db)
	dropped := tenancytest.NewTenant(t, db)
	for _, tn := range []*tenancy.Tenant{kept, dropped} {
		if _, err := dir.Lookup(ctx, tn.Alias); err != nil {
			t.Fatal(err)
		}
	}

	v, err := store.Refresh(ctx, kept.Alias)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Drop(ctx, dropped.Alias, dropped.Alias); err != nil {
		t.Fatal(err)
	}

	versions, err := dir.Sync(ctx)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if versions[kept.ID] != v {
		t.Errorf("Sync versions[%d] = %d, want %d", kept.ID, versions[kept.ID], v)
	}
	if _, ok := versions[dropped.ID]; ok {
		t.Error("Sync versions include a dropped tenant")
	}
	if got := dir.Cached(kept.ID); got == nil || got.SchemaVersion != v {
		t.Errorf("cached %s after Sync = %+v, want version %d", kept.Alias, got, v)
	}
	if dir.Cached(dropped.ID) != nil {
		t.Error("dropped tenant still cached after Sync")
	}
}
