package server_test

import (
	"strings"
	"testing"

	"tenantgraph/tenancy/tenancytest"
)

// TestServer_FieldOrder checks that response objects list their keys in
// the order the operation selected them, through aliases and fragments,
// not sorted as Go maps encode.
func TestServer_FieldOrder(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	srv := newServer(t, db)
	tn := tenancytest.NewTenant(t, db)
	srv.post(t, tn.Alias, `mutation { createToyota(input: {model: "Zeta"}) { id } }`, nil)

	resp := srv.post(t, tn.Alias, `
		query {
			zz: toyotaList(limit: 1) { totalCount items { model ...F id } }
			brands { items { name } }
			aa: __typename
		}
		fragment F on Toyota { updated_at created_at }`, nil)
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %s", resp.Body)
	}
	raw := string(resp.Body)
	want := []string{`"zz"`, `"totalCount"`, `"items"`, `"model"`, `"updated_at"`, `"created_at"`, `"id"`, `"brands"`, `"name"`, `"aa"`}
	at := -1
	for _, key := range want {
		i := strings.Index(raw[at+1:], key+":")
		if i < 0 {
			t.Fatalf("key %s missing or out of order in %s", key, raw)
		}
		at += 1 + i
	}
}
