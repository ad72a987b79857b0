package web_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestBundle_Fresh fails when dist/ was not rebuilt after its sources
// changed: build.mjs writes to dist/SOURCE_SHA256 a digest of
// package.json, package-lock.json, build.mjs and src/, and this test
// computes the same digest without Node.js.
func TestBundle_Fresh(t *testing.T) {
	want, err := os.ReadFile("dist/SOURCE_SHA256")
	if err != nil {
		t.Fatalf("read the bundle's source digest: %v (run make web)", err)
	}
	got, manifest := sourceDigest(t)
	if strings.TrimSpace(string(want)) != got {
		t.Errorf("web/dist is stale: its sources hash to %s, but dist/SOURCE_SHA256 says %s.\n"+
			"Run `make web` and commit web/dist. The sources:\n%s", got, strings.TrimSpace(string(want)), manifest)
	}
}

// sourceDigest mirrors sourceDigest in build.mjs.
func sourceDigest(t *testing.T) (digest, manifest string) {
	t.Helper()
	files := []string{"package.json", "package-lock.json", "build.mjs"}
	var src []string
	err := filepath.WalkDir("src", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			src = append(src, filepath.ToSlash(p))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(src)

	var b strings.Builder
	for _, f := range append(files, src...) {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%x  %s\n", sha256.Sum256(body), f)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:]), b.String()
}

// TestBundle_NoRemoteFetches guards the promise that the page loads nothing
// from other hosts: no stylesheet may @import anything (esbuild inlines
// local imports) or point url() at another host.
func TestBundle_NoRemoteFetches(t *testing.T) {
	css, _ := filepath.Glob("dist/*.css")
	if len(css) == 0 {
		t.Fatal("no CSS in dist/; run make web")
	}
	for _, f := range css {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lower := bytes.ToLower(body)
		if i := bytes.Index(lower, []byte("@import")); i >= 0 {
			t.Errorf("%s imports: %q", f, body[i:min(len(body), i+80)])
		}
		for rest, off := lower, 0; ; {
			i := bytes.Index(rest, []byte("url("))
			if i < 0 {
				break
			}
			target := bytes.TrimLeft(rest[i+4:], " \t\n'\"")
			if bytes.HasPrefix(target, []byte("//")) || bytes.HasPrefix(target, []byte("http:")) || bytes.HasPrefix(target, []byte("https:")) {
				at := off + i
				t.Errorf("%s loads from another host: %q", f, body[at:min(len(body), at+80)])
			}
			rest, off = rest[i+4:], off+i+4
		}
	}
}

// TestBundle_Gzip checks that each gzipped copy the server sends holds the
// same bytes as the file it stands for.
func TestBundle_Gzip(t *testing.T) {
	gz, _ := filepath.Glob("dist/*.gz")
	if len(gz) == 0 {
		t.Fatal("no gzipped files in dist/; run make web")
	}
	for _, f := range gz {
		want, err := os.ReadFile(strings.TrimSuffix(f, ".gz"))
		if err != nil {
			t.Fatal(err)
		}
		zf, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(zf)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		got, err := io.ReadAll(zr)
		zf.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s does not unzip to %s (%v); run make web", f, strings.TrimSuffix(f, ".gz"), err)
		}
	}
}
