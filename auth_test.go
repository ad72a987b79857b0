package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tenantgraph/identity"
	"tenantgraph/migrations"
	"tenantgraph/schema"
	"tenantgraph/server"
	"tenantgraph/tenancy/tenancytest"
)

const brandsQuery = `{ brands { totalCount } }`

// withCookie returns a browser without a jar that sends only cookie.
func (a *testApp) withCookie(t *testing.T, c *http.Cookie) *browser {
	b := a.browser(t)
	b.c.Jar = nil
	b.header.Set("Cookie", c.Name+"="+c.Value)
	return b
}

func TestSession_Renewal(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil)
	tn := tenancytest.NewTenant(t, tenancytest.DB(t))
	u := a.newUser(t, "renew", identity.RoleViewer, tn.Alias)
	path := tenantPath(tn.Alias)

	b := a.browser(t)
	resp := b.login(u.Email, testPassword)
	first, ok := sessionCookie(resp)
	if resp.StatusCode != http.StatusOK || !ok || first.Value == "" {
		t.Fatalf("sign in: status %d, session cookie %v", resp.StatusCode, first)
	}
	a.withCookie(t, first).gql(path, brandsQuery, nil).mustOK(t)
	db := tenancytest.DB(t)
	stored := func(token string) bool {
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM administration.sessions WHERE token = $1`, token); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if !stored(first.Value) {
		t.Fatal("the session is not in administration.sessions")
	}

	t.Run("SharedAcrossReplicas", func(t *testing.T) {
		// Sessions live in PostgreSQL, not in one process's memory.
		other := newTestApp(t, nil)
		other.withCookie(t, first).gql(path, brandsQuery, nil).mustOK(t)
	})

	t.Run("SignInAgain", func(t *testing.T) {
		resp := b.login(u.Email, testPassword)
		second, ok := sessionCookie(resp)
		if !ok || second.Value == "" || second.Value == first.Value {
			t.Fatalf("second sign-in kept the session token: %v -> %v", first, second)
		}
		if r := a.withCookie(t, first).gql(path, brandsQuery, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("old cookie after sign-in: status %d %v, want 401", r.Status, r.Codes())
		}
		if stored(first.Value) || !stored(second.Value) {
			t.Error("renewal did not replace the stored session")
		}
		a.withCookie(t, second).gql(path, brandsQuery, nil).mustOK(t)
	})

	t.Run("SignOut", func(t *testing.T) {
		var cur *http.Cookie
		for _, c := range b.c.Jar.Cookies(mustURL(t, a.URL)) {
			if c.Name == "tenantgraph_session" {
				cur = c
			}
		}
		if cur == nil {
			t.Fatal("no session cookie in the jar")
		}
		req := b.newRequest(http.MethodPost, "/auth/logout", nil)
		resp, body := b.do(req)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("sign out: %d %s", resp.StatusCode, body)
		}
		if c, ok := sessionCookie(resp); !ok || c.Value == cur.Value || c.MaxAge >= 0 {
			t.Errorf("sign out should expire the cookie, got %v", c)
		}
		if r := a.withCookie(t, cur).gql(path, brandsQuery, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("cookie after sign-out: status %d %v, want 401", r.Status, r.Codes())
		}
		if stored(cur.Value) {
			t.Error("sign-out left the session in the store")
		}
		if r := b.gql(path, brandsQuery, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("browser after sign-out: status %d, want 401", r.Status)
		}
	})

	t.Run("RoleChange", func(t *testing.T) {
		adm := a.newUser(t, "renew-admin", identity.RoleAdmin, "")
		ab := a.browser(t)
		resp := ab.login(adm.Email, testPassword)
		before, _ := sessionCookie(resp)
		r := ab.gql("/admin/graphql", `mutation($e: String!, $a: String) { grantMembership(email: $e, alias: $a, role: EDITOR) { role } }`,
			map[string]any{"e": adm.Email, "a": tn.Alias})
		r.mustOK(t)
		var after *http.Cookie
		for _, c := range ab.c.Jar.Cookies(mustURL(t, a.URL)) {
			if c.Name == "tenantgraph_session" {
				after = c
			}
		}
		if after == nil || after.Value == before.Value {
			t.Fatalf("a change of the caller's own roles kept the session token")
		}
		if r := a.withCookie(t, before).gql("/admin/graphql", `{ me { email } }`, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("old cookie after role change: status %d, want 401", r.Status)
		}
		ab.gql("/admin/graphql", `{ me { email } }`, nil).mustOK(t)
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSession_FormLogin(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil)
	u := a.newUser(t, "form", "", "")

	post := func(ret, password string) *http.Response {
		b := a.browser(t)
		form := url.Values{"email": {u.Email}, "password": {password}, "return": {ret}}
		req := b.newRequest(http.MethodPost, "/auth/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, _ := b.do(req)
		return resp
	}
	for _, tc := range []struct{ ret, want string }{
		{"/country/mx/graphiql", "/country/mx/graphiql"},
		{"", "/"},
		{"//evil.example", "/"},
		{"//evil.example/country/mx", "/"},
		{"https://evil.example", "/"},
		{"https://evil.example/country/mx/graphiql", "/"},
		{`/\evil.example`, "/"},
		{"javascript:alert(1)", "/"},
		{"country/mx", "/"},
	} {
		resp := post(tc.ret, testPassword)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tc.want {
			t.Errorf("return=%q: %d Location %q, want 303 %q", tc.ret, resp.StatusCode, resp.Header.Get("Location"), tc.want)
		}
		if _, ok := sessionCookie(resp); !ok {
			t.Errorf("return=%q: no session cookie", tc.ret)
		}
	}

	t.Run("ErrWrongPassword", func(t *testing.T) {
		resp := post("https://evil.example", "wrong-password-123")
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?error=1") || strings.Contains(loc, "evil") {
			t.Errorf("failed form sign-in: %d Location %q, want 303 to /login?error=1 without the foreign return", resp.StatusCode, loc)
		}
		if c, ok := sessionCookie(resp); ok && c.Value != "" {
			t.Errorf("failed sign-in set a session cookie")
		}
	})

	t.Run("ErrHugeJSONPassword", func(t *testing.T) {
		b := a.browser(t)
		req := b.newRequest(http.MethodPost, "/auth/login",
			strings.NewReader(`{"email": "`+u.Email+`", "password": "`+strings.Repeat("p", 100<<10)+`"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, body := b.do(req)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "72 bytes") {
			t.Errorf("100 KiB password: %d %s, want 413 saying passwords are at most 72 bytes", resp.StatusCode, body)
		}
	})
}

func TestSession_CookieAttributes(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil)
	u := a.newUser(t, "cookie", "", "")
	resp := a.browser(t).login(u.Email, testPassword)
	c, ok := sessionCookie(resp)
	if !ok {
		t.Fatal("no session cookie")
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != "/" {
		t.Errorf("cookie over http: HttpOnly=%v SameSite=%v Secure=%v Path=%q; want HttpOnly, Lax, not Secure, /",
			c.HttpOnly, c.SameSite, c.Secure, c.Path)
	}
	raw := resp.Header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(raw, attr) {
			t.Errorf("Set-Cookie %q lacks %s", raw, attr)
		}
	}

	t.Run("HTTPS", func(t *testing.T) {
		dsn, err := migrations.WithSearchPath(tenancytest.DSN(t), migrations.AdminSchema)
		if err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("postgres", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, tc := range []struct {
			public string
			secure bool
		}{
			{"https://graph.example.com", true},
			{"http://localhost:8080", false},
		} {
			sm, store := server.NewSessions(db, tc.public)
			store.StopCleanup()
			if sm.Cookie.Secure != tc.secure || !sm.Cookie.HttpOnly || sm.Cookie.SameSite != http.SameSiteLaxMode {
				t.Errorf("%s: Secure=%v HttpOnly=%v SameSite=%v, want Secure=%v, HttpOnly, Lax",
					tc.public, sm.Cookie.Secure, sm.Cookie.HttpOnly, sm.Cookie.SameSite, tc.secure)
			}
		}
	})
}

func TestSession_CrossSite(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil)
	db := tenancytest.DB(t)
	tn := tenancytest.NewTenant(t, db)
	editor := a.newUser(t, "xsite-editor", identity.RoleEditor, tn.Alias)
	adm := a.newUser(t, "xsite-admin", identity.RoleAdmin, "")
	path := tenantPath(tn.Alias)
	const create = `mutation { createToyota(input: {model: "csrf"}) { id } }`
	probeAlias := "X" + strings.ToUpper(uniqueEmail("x")[2:10])
	createCountry := `mutation { createCountry(input: {name: "Csrf", alias: "` + probeAlias + `"}) { id } }`

	countries := func() int {
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM administration.countries WHERE lower(alias) = lower($1)`, probeAlias); err != nil {
			t.Fatal(err)
		}
		return n
	}
	jsonBody := func(q string) []byte {
		return []byte(`{"query": ` + quoteJSON(q) + `}`)
	}

	for _, target := range []struct {
		name, path, doc, email string
		count                  func() int
	}{
		{"Tenant", path, create, editor.Email, func() int { return countRows(t, db, tn.Namespace, "toyota") }},
		{"Admin", "/admin/graphql", createCountry, adm.Email, countries},
	} {
		t.Run(target.name, func(t *testing.T) {
			b := a.signedIn(t, target.email)
			for _, tc := range []struct {
				name   string
				req    func() *http.Request
				status int
			}{
				{"GETMutation", func() *http.Request {
					return b.newRequest(http.MethodGet, target.path+"?query="+url.QueryEscape(target.doc), nil)
				}, http.StatusMethodNotAllowed},
				{"FormPOST", func() *http.Request {
					r := b.newRequest(http.MethodPost, target.path, strings.NewReader(url.Values{"query": {target.doc}}.Encode()))
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					return r
				}, http.StatusUnsupportedMediaType},
				{"TextPlainPOST", func() *http.Request {
					r := b.newRequest(http.MethodPost, target.path, bytes.NewReader(jsonBody(target.doc)))
					r.Header.Set("Content-Type", "text/plain")
					return r
				}, http.StatusUnsupportedMediaType},
				{"MultipartPOST", func() *http.Request {
					r := b.newRequest(http.MethodPost, target.path, strings.NewReader("--x\r\n\r\n--x--\r\n"))
					r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
					return r
				}, http.StatusUnsupportedMediaType},
				{"ForeignOrigin", func() *http.Request {
					r := b.newRequest(http.MethodPost, target.path, bytes.NewReader(jsonBody(target.doc)))
					r.Header.Set("Content-Type", "application/json")
					r.Header.Set("Origin", "https://evil.example")
					return r
				}, http.StatusForbidden},
				{"NullOrigin", func() *http.Request {
					r := b.newRequest(http.MethodPost, target.path, bytes.NewReader(jsonBody(target.doc)))
					r.Header.Set("Content-Type", "application/json")
					r.Header.Set("Origin", "null")
					return r
				}, http.StatusForbidden},
				{"SecFetchCrossSite", func() *http.Request {
					r := b.newRequest(http.MethodPost, target.path, bytes.NewReader(jsonBody(target.doc)))
					r.Header.Set("Content-Type", "application/json")
					r.Header.Set("Sec-Fetch-Site", "cross-site")
					return r
				}, http.StatusForbidden},
			} {
				t.Run(tc.name, func(t *testing.T) {
					before := target.count()
					resp, body := b.do(tc.req())
					if resp.StatusCode != tc.status {
						t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
					}
					if after := target.count(); after != before {
						t.Errorf("refused request changed data: %d -> %d", before, after)
					}
				})
			}

			t.Run("SameOriginOK", func(t *testing.T) {
				r := b.newRequest(http.MethodPost, target.path, bytes.NewReader(jsonBody(`{ __typename }`)))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Origin", a.URL)
				r.Header.Set("Sec-Fetch-Site", "same-origin")
				b.gqlDo(r).mustOK(t)
			})
		})
	}

	t.Run("TokenNotAmbient", func(t *testing.T) {
		// A bearer token is no ambient credential: a foreign Origin does not
		// matter, the token must have been stolen for the request to exist.
		secret, _, err := a.Store.CreateToken(context.Background(), editor.ID, "xsite", nil)
		if err != nil {
			t.Fatal(err)
		}
		b := a.bearer(t, secret)
		b.header.Set("Origin", "https://elsewhere.example")
		b.gql(path, `{ brands { totalCount } }`, nil).mustOK(t)
	})

	t.Run("Login", func(t *testing.T) {
		for _, hdr := range []struct{ k, v string }{{"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}} {
			for _, form := range []bool{false, true} {
				b := a.browser(t)
				var req *http.Request
				if form {
					req = b.newRequest(http.MethodPost, "/auth/login",
						strings.NewReader(url.Values{"email": {editor.Email}, "password": {testPassword}}.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				} else {
					req = b.newRequest(http.MethodPost, "/auth/login",
						strings.NewReader(`{"email": `+quoteJSON(editor.Email)+`, "password": `+quoteJSON(testPassword)+`}`))
					req.Header.Set("Content-Type", "application/json")
				}
				req.Header.Set(hdr.k, hdr.v)
				resp, _ := b.do(req)
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("login with %s: %s (form %v): status %d, want 403", hdr.k, hdr.v, form, resp.StatusCode)
				}
				if c, ok := sessionCookie(resp); ok && c.Value != "" {
					t.Errorf("refused login set a session cookie")
				}
				if r := b.gql(path, brandsQuery, nil); r.Status != http.StatusUnauthorized {
					t.Errorf("refused login signed the browser in: %d", r.Status)
				}
			}
		}
		b := a.browser(t)
		req := b.newRequest(http.MethodPost, "/auth/login", strings.NewReader(`{"email":"x@example.com"}`))
		req.Header.Set("Content-Type", "text/plain")
		if resp, _ := b.do(req); resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain login: status %d, want 415", resp.StatusCode)
		}
	})

	t.Run("Logout", func(t *testing.T) {
		b := a.signedIn(t, editor.Email)
		req := b.newRequest(http.MethodPost, "/auth/logout", nil)
		req.Header.Set("Origin", "https://evil.example")
		if resp, _ := b.do(req); resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site sign-out: status %d, want 403", resp.StatusCode)
		}
		b.gql(path, brandsQuery, nil).mustOK(t)
	})
}

func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func TestAPIToken(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil)
	db := tenancytest.DB(t)
	tn := tenancytest.NewTenant(t, db)
	editor := a.newUser(t, "token-editor", identity.RoleEditor, tn.Alias)
	path := tenantPath(tn.Alias)
	web := a.signedIn(t, editor.Email)

	createToken := func(t *testing.T, name string) (secret, id string) {
		t.Helper()
		d := web.gql("/admin/graphql", `mutation($n: String!) { createApiToken(name: $n) { secret token { id name } } }`,
			map[string]any{"n": name}).mustOK(t)
		ct := d["createApiToken"].(map[string]any)
		return ct["secret"].(string), ct["token"].(map[string]any)["id"].(string)
	}

	t.Run("OK", func(t *testing.T) {
		secret, id := createToken(t, "ci")
		if !strings.HasPrefix(secret, identity.TokenPrefix) || len(secret) < 40 {
			t.Errorf("secret %q: want %s and at least 40 characters", secret, identity.TokenPrefix)
		}
		r := web.gql("/admin/graphql", `{ apiTokens { id name createdAt expiresAt revokedAt lastUsedAt } }`, nil)
		r.mustOK(t)
		if strings.Contains(r.Raw, secret) || !strings.Contains(r.Raw, `"ci"`) {
			t.Errorf("apiTokens shows the secret or misses the token: %s", r.Raw)
		}
		var hash []byte
		if err := db.Get(&hash, `SELECT token_hash FROM administration.api_tokens WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(secret))
		if bytes.Contains(hash, []byte(secret)) || !bytes.Equal(hash, sum[:]) {
			t.Errorf("token_hash %x is not the SHA-256 of the secret", hash)
		}

		// The token acts with the editor's roles: rows yes, extras no.
		tok := a.bearer(t, secret)
		before := countRows(t, db, tn.Namespace, "toyota")
		tok.gql(path, `mutation { createToyota(input: {model: "by token"}) { id } }`, nil).mustOK(t)
		if n := countRows(t, db, tn.Namespace, "toyota"); n != before+1 {
			t.Errorf("toyota rows %d -> %d, want one more", before, n)
		}
		r = tok.gql(path, `mutation { createExtra(input: {brand: "toyota", name: "by_token", displayName: "x", type: TEXT}) { id } }`, nil)
		if !r.hasCode(schema.CodeForbidden) {
			t.Errorf("editor's token creating an extra: %v, want FORBIDDEN", r.Codes())
		}
		// The token's user is the creator of the row.
		var uid int64
		if err := db.Get(&uid, `SELECT user_id FROM `+tn.Namespace+`.toyota WHERE model = 'by token'`); err != nil || uid != editor.ID {
			t.Errorf("row creator %d (%v), want %d", uid, err, editor.ID)
		}
		d := tok.gql("/admin/graphql", `{ me { email } }`, nil).mustOK(t)
		if d["me"].(map[string]any)["email"] != editor.Email {
			t.Errorf("me through the token: %v", d)
		}

		t.Run("Revoke", func(t *testing.T) {
			web.gql("/admin/graphql", `mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }`,
				map[string]any{"id": id}).mustOK(t)
			r := tok.gql(path, brandsQuery, nil)
			if r.Status != http.StatusUnauthorized || !r.hasCode(schema.CodeUnauthenticated) {
				t.Errorf("revoked token: %d %v, want 401 UNAUTHENTICATED", r.Status, r.Codes())
			}
		})
	})

	t.Run("ErrRevokeOthers", func(t *testing.T) {
		_, id := createToken(t, "mine")
		other := a.signedIn(t, a.newUser(t, "token-other", "", "").Email)
		r := other.gql("/admin/graphql", `mutation($id: ID!) { revokeApiToken(id: $id) { id } }`, map[string]any{"id": id})
		if !r.hasCode(schema.CodeNotFound) {
			t.Errorf("revoking another user's token: %v, want NOT_FOUND", r.Codes())
		}
		var revoked sql.NullTime
		if err := db.Get(&revoked, `SELECT revoked_at FROM administration.api_tokens WHERE id = $1`, id); err != nil || revoked.Valid {
			t.Errorf("token revoked by someone else: %v %v", revoked, err)
		}
	})

	t.Run("ErrExpired", func(t *testing.T) {
		r := web.gql("/admin/graphql", `mutation($e: DateTime) { createApiToken(name: "old", expiresAt: $e) { secret } }`,
			map[string]any{"e": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)})
		if !r.hasCode(schema.CodeBadUserInput) || strings.Contains(r.Raw, identity.TokenPrefix) {
			t.Errorf("token expiring in the past: %s, want BAD_USER_INPUT", r.Raw)
		}

		// The server keeps a checked token's principal for a while, but
		// never past the token's expiry.
		expires := time.Now().Add(time.Second).Truncate(time.Second).Add(time.Second)
		r = web.gql("/admin/graphql", `mutation($e: DateTime) { createApiToken(name: "soon", expiresAt: $e) { secret } }`,
			map[string]any{"e": expires.UTC().Format(time.RFC3339)})
		secret, _ := r.mustOK(t)["createApiToken"].(map[string]any)["secret"].(string)
		tok := a.bearer(t, secret)
		tok.gql(path, brandsQuery, nil).mustOK(t)
		time.Sleep(time.Until(expires) + 50*time.Millisecond)
		if r := tok.gql(path, brandsQuery, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("expired token: status %d, want 401", r.Status)
		}
	})

	t.Run("ErrMalformed", func(t *testing.T) {
		secret, _ := createToken(t, "malformed")
		for _, h := range []string{
			"Basic " + secret,
			"Bearer",
			"Bearer ",
			"Bearer tg_not-a-real-token",
			"Bearer " + secret + "x",
			"Bearer " + strings.TrimPrefix(secret, identity.TokenPrefix),
			"Token " + secret,
			secret,
		} {
			b := a.browser(t)
			b.header.Set("Authorization", h)
			r := b.gql(path, brandsQuery, nil)
			if r.Status != http.StatusUnauthorized || !r.hasCode(schema.CodeUnauthenticated) {
				t.Errorf("Authorization %q: %d %v, want 401 UNAUTHENTICATED", h, r.Status, r.Codes())
			}
		}
		// A bad Authorization header is refused even with a good cookie.
		web2 := a.signedIn(t, editor.Email)
		web2.header.Set("Authorization", "Bearer tg_forged")
		if r := web2.gql(path, brandsQuery, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("bad token with good cookie: status %d, want 401", r.Status)
		}
	})

	t.Run("ErrDeactivatedUser", func(t *testing.T) {
		u := a.newUser(t, "token-inactive", identity.RoleViewer, tn.Alias)
		secret, _, err := a.Store.CreateToken(context.Background(), u.ID, "ci", nil)
		if err != nil {
			t.Fatal(err)
		}
		tok := a.bearer(t, secret)
		tok.gql(path, brandsQuery, nil).mustOK(t)
		adm := a.signedIn(t, a.newUser(t, "token-admin", identity.RoleAdmin, "").Email)
		adm.gql("/admin/graphql", `mutation($e: String!) { setUserActive(email: $e, active: false) { active } }`,
			map[string]any{"e": u.Email}).mustOK(t)
		if r := tok.gql(path, brandsQuery, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("deactivated user's token: status %d, want 401", r.Status)
		}
	})
}

func TestSession_DeactivatedUser(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil)
	tn := tenancytest.NewTenant(t, tenancytest.DB(t))
	u := a.newUser(t, "inactive", identity.RoleViewer, tn.Alias)
	b := a.signedIn(t, u.Email)
	b.gql(tenantPath(tn.Alias), brandsQuery, nil).mustOK(t)
	// Through the server's own store, as the admin API does, so the
	// principal it keeps is dropped at once.
	if _, err := a.App.Users.SetActive(context.Background(), u.ID, false); err != nil {
		t.Fatal(err)
	}
	if r := b.gql(tenantPath(tn.Alias), brandsQuery, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("deactivated user's session: status %d, want 401", r.Status)
	}
	if _, err := a.App.Users.SetActive(context.Background(), u.ID, true); err != nil {
		t.Fatal(err)
	}
	// The session was ended, not merely refused.
	if r := b.gql(tenantPath(tn.Alias), brandsQuery, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("reactivated user's old session: status %d, want 401", r.Status)
	}
	if resp := b.login(u.Email, testPassword); resp.StatusCode != http.StatusOK {
		t.Errorf("reactivated user cannot sign in: %d", resp.StatusCode)
	}
}

// TestAuthCache_OtherReplica runs two servers on one database, each keeping
// the principals it checked (the default). A token revoked and a user
// deactivated through server A's admin API stop working on server B too,
// as soon as B hears A's notification, long before B's cache would expire.
func TestAuthCache_OtherReplica(t *testing.T) {
	t.Parallel()
	keep := func(c *Config) { c.AuthCacheTTL = time.Hour }
	a, b := newTestApp(t, keep), newTestApp(t, keep)
	listening := make(chan struct{})
	var once sync.Once
	prev := b.App.Watcher.OnEvent
	b.App.Watcher.OnEvent = func(kind string) {
		if prev != nil {
			prev(kind)
		}
		if kind == "connect" {
			once.Do(func() { close(listening) })
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.App.Watcher.Run(ctx, tenancytest.DSN(t))
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-listening:
	case <-time.After(10 * time.Second):
		t.Fatal("server B's change listener did not connect")
	}

	tn := tenancytest.NewTenant(t, tenancytest.DB(t))
	path := tenantPath(tn.Alias)
	admin := a.signedIn(t, a.newUser(t, "cache-admin", identity.RoleAdmin, "").Email)
	// refusedOnB waits until B answers 401 to tok.
	refusedOnB := func(what string, tok *browser) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			r := tok.gql(path, brandsQuery, nil)
			if r.Status == http.StatusUnauthorized {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: server B still answers %d two seconds later", what, r.Status)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	t.Run("RevokedToken", func(t *testing.T) {
		u := a.newUser(t, "cache-revoked", identity.RoleViewer, tn.Alias)
		secret, tok, err := a.Store.CreateToken(ctx, u.ID, "cached", nil)
		if err != nil {
			t.Fatal(err)
		}
		onB := b.bearer(t, secret)
		onB.gql(path, brandsQuery, nil).mustOK(t) // B now keeps its principal
		admin.gql("/admin/graphql", `mutation($id: ID!) { revokeApiToken(id: $id) { id } }`,
			map[string]any{"id": strconv.FormatInt(tok.ID, 10)}).mustOK(t)
		refusedOnB("revoked on A", onB)
	})

	t.Run("DeactivatedUser", func(t *testing.T) {
		u := a.newUser(t, "cache-inactive", identity.RoleViewer, tn.Alias)
		secret, _, err := a.Store.CreateToken(ctx, u.ID, "cached", nil)
		if err != nil {
			t.Fatal(err)
		}
		onB := b.bearer(t, secret)
		onB.gql(path, brandsQuery, nil).mustOK(t)
		admin.gql("/admin/graphql", `mutation($e: String!) { setUserActive(email: $e, active: false) { active } }`,
			map[string]any{"e": u.Email}).mustOK(t)
		refusedOnB("deactivated on A", onB)
	})
}
