package web_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"tenantgraph/web"
)

func TestGraphiQL(t *testing.T) {
	var b strings.Builder
	if err := web.GraphiQL(&b, web.GraphiQLData{Title: "Mexico (MX)", Endpoint: "/country/mx/graphql"}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		`data-endpoint="/country/mx/graphql"`,
		`<title>Mexico (MX) · GraphiQL`,
		`<script src="/web/graphiql.js?v=`,
		`<link rel="stylesheet" href="/web/graphiql.css?v=`,
		`data-graphql-worker="/web/graphql.worker.js?v=`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s:\n%s", want, page)
		}
	}
	if regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).MatchString(page) {
		t.Errorf("page loads from another host:\n%s", page)
	}
}

func TestAssets(t *testing.T) {
	var b strings.Builder
	web.GraphiQL(&b, web.GraphiQLData{Endpoint: "/graphql"})
	url := regexp.MustCompile(`/web/graphiql\.js\?v=[0-9a-f]+`).FindString(b.String())
	h := web.Assets()

	get := func(t *testing.T, target string, hdr ...string) *http.Response {
		t.Helper()
		r := httptest.NewRequest("GET", target, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result()
	}

	t.Run("OK", func(t *testing.T) {
		res := get(t, url)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || len(body) < 1000 {
			t.Fatalf("status %d, %d bytes", res.StatusCode, len(body))
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
			t.Errorf("Content-Type %q", ct)
		}
		if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("versioned asset has Cache-Control %q", cc)
		}
	})
	t.Run("Unversioned", func(t *testing.T) {
		res := get(t, "/web/graphiql.js")
		if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("unversioned asset has Cache-Control %q", cc)
		}
		etag := res.Header.Get("ETag")
		if etag == "" {
			t.Fatal("no ETag")
		}
		if res := get(t, "/web/graphiql.js", "If-None-Match", etag); res.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match: status %d, want 304", res.StatusCode)
		}
	})
	t.Run("Gzip", func(t *testing.T) {
		plain, _ := io.ReadAll(get(t, url).Body)
		res := get(t, url, "Accept-Encoding", "gzip, deflate, br")
		if res.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding %q", res.Header.Get("Content-Encoding"))
		}
		if etag := res.Header.Get("ETag"); !strings.HasSuffix(etag, `-gz"`) {
			t.Errorf("gzipped body has the plain body's ETag %s", etag)
		}
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		unzipped, _ := io.ReadAll(zr)
		if string(unzipped) != string(plain) {
			t.Error("gzipped body differs from the plain one")
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		for _, p := range []string{"/web/nope.js", "/web/SOURCE_SHA256", "/web/", "/web/../web.go"} {
			if res := get(t, p); res.StatusCode != http.StatusNotFound {
				t.Errorf("%s: status %d, want 404", p, res.StatusCode)
			}
		}
	})
}
