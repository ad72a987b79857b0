package server_test

import (
	"io"
	"net/http"
	"testing"

	"tenantgraph/tenancy/tenancytest"
)

// BenchmarkServer_GraphQL measures requests through the whole HTTP
// handler: token check, tenant lookup, cached document, one transaction,
// JSON. Requests go one after another over one kept-alive connection.
func BenchmarkServer_GraphQL(b *testing.B) {
	db := tenancytest.DB(b)
	srv := newServer(b, db)
	tenant := tenancytest.NewTenant(b, db)
	seedMarked(b, db, tenant)

	for _, bc := range []struct{ name, query string }{
		{"List20", `{ toyotaList(limit: 20, orderBy: [ID_ASC]) { items { id user_id model created_at updated_at } } }`},
		{"List20Count", `{ toyotaList(limit: 20, filter: {model: {like: "T%"}}) { totalCount items { id model created_at } } }`},
		{"ByID", `{ toyota(id: "7") { id model created_at updated_at } }`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			// Warm up: build the schema and cache the document.
			res := srv.post(b, tenant.Alias, bc.query, nil)
			if len(res.Errors) > 0 {
				b.Fatalf("%s", res.Body)
			}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := srv.client.Do(srv.postBody(tenant.Alias, bc.query, nil))
				if err != nil {
					b.Fatal(err)
				}
				// Reading the body to the end lets the connection be reused.
				if _, err := io.Copy(io.Discard, resp.Body); err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}

// BenchmarkServer_GraphQLParallel is BenchmarkServer_GraphQL's List20 from
// many clients at once (b.SetParallelism(8) per CPU), for throughput and
// for CPU profiles of the server under load rather than of one request's
// wait on round trips.
func BenchmarkServer_GraphQLParallel(b *testing.B) {
	db := tenancytest.DB(b)
	srv := newServer(b, db)
	tenant := tenancytest.NewTenant(b, db)
	seedMarked(b, db, tenant)
	const query = `{ toyotaList(limit: 20, orderBy: [ID_ASC]) { items { id user_id model created_at updated_at } } }`
	if res := srv.post(b, tenant.Alias, query, nil); len(res.Errors) > 0 {
		b.Fatalf("%s", res.Body)
	}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := srv.client.Do(srv.postBody(tenant.Alias, query, nil))
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				b.Error(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
