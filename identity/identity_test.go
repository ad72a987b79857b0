package identity_test

import (
	"context"
	"fmt"
	"testing"

	"tenantgraph/identity"
)

func TestPrincipal_Can(t *testing.T) {
	const mx, us = 1, 2
	principals := map[string]*identity.Principal{
		"nil":      nil,
		"none":     {UserID: 1, Countries: map[int64]identity.Role{}},
		"viewerMX": {UserID: 2, Countries: map[int64]identity.Role{mx: identity.RoleViewer}},
		"editorMX": {UserID: 3, Countries: map[int64]identity.Role{mx: identity.RoleEditor}},
		"mixed":    {UserID: 4, Countries: map[int64]identity.Role{mx: identity.RoleEditor, us: identity.RoleViewer}},
		"admin":    {UserID: 5, Admin: true, Countries: map[int64]identity.Role{}},
	}
	// want lists, per principal, what it may do: "country:role".
	want := map[string][]string{
		"nil":      {},
		"none":     {},
		"viewerMX": {"1:viewer"},
		"editorMX": {"1:viewer", "1:editor"},
		"mixed":    {"1:viewer", "1:editor", "2:viewer"},
		"admin":    {"0:viewer", "0:editor", "0:admin", "1:viewer", "1:editor", "1:admin", "2:viewer", "2:editor", "2:admin"},
	}
	for name, p := range principals {
		allowed := map[string]bool{}
		for _, k := range want[name] {
			allowed[k] = true
		}
		for _, country := range []int64{0, mx, us} {
			for _, role := range []identity.Role{identity.RoleViewer, identity.RoleEditor, identity.RoleAdmin} {
				key := fmt.Sprintf("%d:%s", country, role)
				if got := p.Can(country, role); got != allowed[key] {
					t.Errorf("%s.Can(%d, %s) = %v, want %v", name, country, role, got, allowed[key])
				}
			}
			// A role that is none of the three is never held.
			for _, bogus := range []identity.Role{"", "owner", "ADMIN"} {
				if p.Can(country, bogus) {
					t.Errorf("%s.Can(%d, %q) = true, want false", name, country, bogus)
				}
			}
		}
	}
}

func TestRole_Valid(t *testing.T) {
	for role, want := range map[identity.Role]bool{
		identity.RoleAdmin: true, identity.RoleEditor: true, identity.RoleViewer: true,
		"": false, "Admin": false, "owner": false,
	} {
		if got := role.Valid(); got != want {
			t.Errorf("Role(%q).Valid() = %v, want %v", role, got, want)
		}
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	if p := identity.FromContext(ctx); p != nil {
		t.Errorf("FromContext of an empty context = %v, want nil", p)
	}
	p := &identity.Principal{UserID: 7}
	if got := identity.FromContext(identity.NewContext(ctx, p)); got != p {
		t.Errorf("FromContext = %v, want %v", got, p)
	}
	var none *identity.Principal
	if none.UserIDOrZero() != 0 || p.UserIDOrZero() != 7 {
		t.Error("UserIDOrZero")
	}
}
