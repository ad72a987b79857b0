package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"
)

// dist is the GraphiQL bundle `make web` builds from src/ (see build.mjs).
// It is committed, so building the binary needs no Node.js.
//
//go:embed dist
var dist embed.FS

// AssetPrefix is the URL path under which Assets serves the bundle.
const AssetPrefix = "/web/"

// GraphiQLPolicy is the Content-Security-Policy to serve the GraphiQL page
// with: everything from this server, nothing from anywhere else. GraphiQL
// and Monaco set inline styles and ship their fonts and a few images as
// data: URLs; Monaco's workers are files of the bundle.
const GraphiQLPolicy = "default-src 'self'; script-src 'self'; " +
	"style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; " +
	"worker-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// GraphiQLData fills the GraphiQL page.
type GraphiQLData struct {
	// Title names what the page queries, e.g. "Mexico (MX)".
	Title string
	// Endpoint is the local path of the GraphQL endpoint the page posts
	// to, e.g. /country/mx/graphql.
	Endpoint string
}

var graphiqlPage = template.Must(template.New("graphiql.html").
	Funcs(template.FuncMap{"asset": assetURL}).
	ParseFS(files, "graphiql.html"))

// GraphiQL writes the GraphiQL page. Serve it with GraphiQLPolicy and with
// Assets at AssetPrefix.
func GraphiQL(w io.Writer, d GraphiQLData) error { return graphiqlPage.Execute(w, d) }

// assetURL returns the URL of a bundle file, versioned by its content so
// browsers may cache it for good.
func assetURL(name string) (string, error) {
	a := assets()[name]
	if a == nil {
		return "", fmt.Errorf("web: no %s in the bundle; run make web", name)
	}
	return AssetPrefix + name + "?v=" + a.hash, nil
}

// asset is one file of the bundle.
type asset struct {
	body  []byte
	hash  string
	ctype string
	// gz is body gzipped, from dist/<name>.gz, or nil.
	gz []byte
}

// assets reads the bundle once, on first use, so importing the package
// costs nothing.
var assets = sync.OnceValue(func() map[string]*asset {
	m := map[string]*asset{}
	gz := map[string][]byte{}
	err := fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := dist.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "dist/")
		if orig, ok := strings.CutSuffix(name, ".gz"); ok {
			gz[orig] = body
			return nil
		}
		sum := sha256.Sum256(body)
		ctype := mime.TypeByExtension(path.Ext(name))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		m[name] = &asset{body: body, hash: hex.EncodeToString(sum[:8]), ctype: ctype}
		return nil
	})
	if err != nil {
		panic("web: read embedded bundle: " + err.Error())
	}
	for name, body := range gz {
		if a := m[name]; a != nil {
			a.gz = body
		}
	}
	return m
})

// contentHashed matches the names esbuild gives files it hashes, such as
// codicon-37A3DWZT.ttf.
var contentHashed = regexp.MustCompile(`-[A-Z0-9]{8}\.[a-z0-9]+$`)

// Assets serves the bundle's files under AssetPrefix. A request whose ?v=
// matches the file's content hash, or for a file whose name carries one,
// may be cached for a year; any other must be revalidated (ETag). Bodies
// are gzipped for clients that accept it (build.mjs gzips them).
func Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, AssetPrefix)
		a := assets()[name]
		if a == nil || name == "SOURCE_SHA256" {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Vary", "Accept-Encoding")
		if r.URL.Query().Get("v") == a.hash || contentHashed.MatchString(name) {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		body, etag := a.body, a.hash
		if a.gz != nil && acceptsGzip(r) {
			body, etag = a.gz, a.hash+"-gz"
			h.Set("Content-Encoding", "gzip")
		}
		h.Set("ETag", `"`+etag+`"`)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
	})
}

// acceptsGzip reports whether Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
