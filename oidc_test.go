package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"
	"golang.org/x/oauth2"

	"tenantgraph/identity"
	"tenantgraph/schema"
	"tenantgraph/tenancy/tenancytest"
)

// oidcEnv is the server configured against a local OpenID Connect
// provider.
type oidcEnv struct {
	*testApp
	m          *mockoidc.MockOIDC
	adminEmail string
	provider   *http.Client
}

func newOIDCEnv(t *testing.T) *oidcEnv {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatalf("start mock provider: %v", err)
	}
	t.Cleanup(func() { m.Shutdown() })
	adminEmail := uniqueEmail("boss")
	a := newTestApp(t, func(c *Config) {
		c.OIDCIssuer = m.Issuer()
		c.OIDCClientID = m.ClientID
		c.OIDCClientSecret = m.ClientSecret
		// Spaces and letter case do not matter.
		c.AdminEmails = "someone-else@example.com, " + strings.ToUpper(adminEmail)
	})
	return &oidcEnv{
		testApp:    a,
		m:          m,
		adminEmail: adminEmail,
		provider: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
}

// start begins sign-in in b and returns the provider's authorize URL.
func (e *oidcEnv) start(t *testing.T, b *browser, ret string) *url.URL {
	t.Helper()
	path := "/auth/oidc/login"
	if ret != "" {
		path += "?return=" + url.QueryEscape(ret)
	}
	resp, body := b.get(path)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET %s: status %d, want 302: %s", path, resp.StatusCode, body)
	}
	u := mustURL(t, resp.Header.Get("Location"))
	if !strings.HasPrefix(u.String(), e.m.AuthorizationEndpoint()) {
		t.Fatalf("sign-in goes to %s, want the provider's %s", u, e.m.AuthorizationEndpoint())
	}
	return u
}

// authorize plays the provider: user signs in at authURL, and the provider
// answers with the URL of the callback, carrying code and state.
func (e *oidcEnv) authorize(t *testing.T, authURL *url.URL, user *mockoidc.MockUser) *url.URL {
	t.Helper()
	e.m.QueueUser(user)
	resp, err := e.provider.Get(authURL.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("provider authorize: status %d", resp.StatusCode)
	}
	return mustURL(t, resp.Header.Get("Location"))
}

func mockUser(email string) *mockoidc.MockUser {
	return &mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true}
}

// signIn runs the whole flow in b for user and returns the callback's
// response.
func (e *oidcEnv) signIn(t *testing.T, b *browser, ret string, user *mockoidc.MockUser) *http.Response {
	t.Helper()
	cb := e.authorize(t, e.start(t, b, ret), user)
	resp, _ := b.get(cb.String())
	return resp
}

// signedIn reports whether b's session belongs to a user.
func signedIn(t *testing.T, b *browser) bool {
	t.Helper()
	r := b.gql("/admin/graphql", `{ me { email } }`, nil)
	return r.Status == http.StatusOK
}

func TestOIDC_SignIn(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t)
	tn := tenancytest.NewTenant(t, tenancytest.DB(t))
	path := tenantPath(tn.Alias)

	t.Run("AuthorizeURL", func(t *testing.T) {
		u := e.start(t, e.browser(t), "")
		q := u.Query()
		for _, k := range []string{"state", "nonce", "code_challenge"} {
			if len(q.Get(k)) < 32 {
				t.Errorf("authorize URL %s = %q, want a random value of at least 32 characters", k, q.Get(k))
			}
		}
		if q.Get("code_challenge_method") != "S256" {
			t.Errorf("code_challenge_method = %q, want S256", q.Get("code_challenge_method"))
		}
		if q.Get("state") == q.Get("nonce") {
			t.Error("state and nonce are the same value")
		}
		if want := e.URL + "/auth/oidc/callback"; q.Get("redirect_uri") != want {
			t.Errorf("redirect_uri = %q, want %q", q.Get("redirect_uri"), want)
		}
		if scopes := strings.Fields(q.Get("scope")); !contains(scopes, "openid") || !contains(scopes, "email") {
			t.Errorf("scope = %q, want openid and email", q.Get("scope"))
		}
		// Each start is fresh.
		if v := e.start(t, e.browser(t), "").Query(); v.Get("state") == q.Get("state") || v.Get("nonce") == q.Get("nonce") {
			t.Error("two sign-ins got the same state or nonce")
		}
	})

	t.Run("OK", func(t *testing.T) {
		email := uniqueEmail("oidc")
		b := e.browser(t)
		auth := e.start(t, b, "/country/mx/graphql")
		pre := jarSession(t, b, e.URL)
		if pre == nil {
			t.Fatal("starting sign-in kept no session")
		}
		resp, body := b.get(e.authorize(t, auth, mockUser(email)).String())
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/country/mx/graphql" {
			t.Fatalf("callback: %d Location %q, want 303 /country/mx/graphql: %s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		post := jarSession(t, b, e.URL)
		if post == nil || post.Value == pre.Value {
			t.Fatal("sign-in kept the session token it started with")
		}
		if signedIn(t, e.withCookie(t, pre)) {
			t.Error("the session token from before sign-in is signed in")
		}

		// A new user holds no role: signed in, but refused.
		r := b.gql(path, brandsQuery, nil)
		if r.Status != http.StatusOK || !r.hasCode(schema.CodeForbidden) {
			t.Errorf("new OIDC user on a tenant: %d %v, want 200 with FORBIDDEN", r.Status, r.Codes())
		}
		d := b.gql("/admin/graphql", `{ me { id email admin memberships { role } } }`, nil).mustOK(t)
		me := d["me"].(map[string]any)
		if me["email"] != email || me["admin"] != false || len(me["memberships"].([]any)) != 0 {
			t.Errorf("me = %v, want %s without roles", me, email)
		}
		if ms, err := e.Store.Memberships(context.Background(), mustUser(t, e.testApp, email).ID); err != nil || len(ms) != 0 {
			t.Errorf("memberships %v %v, want none", ms, err)
		}

		// Signing in again finds the same user.
		b2 := e.browser(t)
		if resp := e.signIn(t, b2, "", mockUser(strings.ToUpper(email))); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("second sign-in: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		d = b2.gql("/admin/graphql", `{ me { id email } }`, nil).mustOK(t)
		if again := d["me"].(map[string]any); again["id"] != me["id"] || again["email"] != email {
			t.Errorf("second sign-in is another user: %v", d)
		}
	})

	t.Run("AdminEmail", func(t *testing.T) {
		b := e.browser(t)
		if resp := e.signIn(t, b, "", mockUser(e.adminEmail)); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("callback: %d", resp.StatusCode)
		}
		d := b.gql("/admin/graphql", `{ me { admin } }`, nil).mustOK(t)
		if d["me"].(map[string]any)["admin"] != true {
			t.Errorf("an admin email's first sign-in: %v, want admin", d)
		}
		b.gql(path, brandsQuery, nil).mustOK(t)
	})

	t.Run("ReturnPath", func(t *testing.T) {
		for _, ret := range []string{"https://evil.example/x", "//evil.example", `/\evil.example`, "http:evil.example"} {
			b := e.browser(t)
			resp := e.signIn(t, b, ret, mockUser(uniqueEmail("oidc-ret")))
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
				t.Errorf("return=%q: %d Location %q, want 303 /", ret, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	})

	// refused checks that the callback was refused and nobody signed in.
	refused := func(t *testing.T, b *browser, resp *http.Response) {
		t.Helper()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("callback: status %d, want 400", resp.StatusCode)
		}
		if _, ok := sessionCookie(resp); ok && signedIn(t, b) {
			t.Error("a refused callback signed the browser in")
		}
		if signedIn(t, b) {
			t.Error("the browser is signed in after a refused callback")
		}
	}
	withQuery := func(u *url.URL, edit func(url.Values)) string {
		c := *u
		q := c.Query()
		edit(q)
		c.RawQuery = q.Encode()
		return c.String()
	}

	t.Run("ErrWrongState", func(t *testing.T) {
		b := e.browser(t)
		cb := e.authorize(t, e.start(t, b, ""), mockUser(uniqueEmail("oidc-ws")))
		resp, _ := b.get(withQuery(cb, func(q url.Values) { q.Set("state", "wrong-"+q.Get("state")) }))
		refused(t, b, resp)
		// The state was used up by the failed attempt.
		resp, _ = b.get(cb.String())
		refused(t, b, resp)
	})

	t.Run("ErrMissingState", func(t *testing.T) {
		b := e.browser(t)
		cb := e.authorize(t, e.start(t, b, ""), mockUser(uniqueEmail("oidc-ms")))
		resp, _ := b.get(withQuery(cb, func(q url.Values) { q.Del("state") }))
		refused(t, b, resp)
	})

	t.Run("ErrNoSession", func(t *testing.T) {
		b := e.browser(t)
		cb := e.authorize(t, e.start(t, b, ""), mockUser(uniqueEmail("oidc-ns")))
		fresh := e.browser(t)
		resp, _ := fresh.get(cb.String())
		refused(t, fresh, resp)
	})

	t.Run("ErrReplayedState", func(t *testing.T) {
		b := e.browser(t)
		cb := e.authorize(t, e.start(t, b, ""), mockUser(uniqueEmail("oidc-rp")))
		if resp, _ := b.get(cb.String()); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("first callback: %d", resp.StatusCode)
		}
		resp, _ := b.get(cb.String())
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("replayed callback: status %d, want 400", resp.StatusCode)
		}
		other := e.browser(t)
		resp, _ = other.get(cb.String())
		refused(t, other, resp)
	})

	t.Run("ErrForeignState", func(t *testing.T) {
		victim, attacker := e.browser(t), e.browser(t)
		e.start(t, victim, "")
		cb := e.authorize(t, e.start(t, attacker, ""), mockUser(uniqueEmail("oidc-attacker")))
		// The attacker's code and state, in the victim's browser.
		resp, _ := victim.get(cb.String())
		refused(t, victim, resp)
		// The attacker's own flow is untouched: the state was checked
		// before the code was spent.
		if resp, _ := attacker.get(cb.String()); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("attacker's own callback: %d, want 303", resp.StatusCode)
		}
	})

	t.Run("ErrNonce", func(t *testing.T) {
		b := e.browser(t)
		auth := e.start(t, b, "")
		tampered := mustURL(t, withQuery(auth, func(q url.Values) { q.Set("nonce", "forged-nonce") }))
		resp, _ := b.get(e.authorize(t, tampered, mockUser(uniqueEmail("oidc-nonce"))).String())
		refused(t, b, resp)
	})

	t.Run("ErrPKCE", func(t *testing.T) {
		b := e.browser(t)
		auth := e.start(t, b, "")
		other := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
		tampered := mustURL(t, withQuery(auth, func(q url.Values) { q.Set("code_challenge", other) }))
		resp, _ := b.get(e.authorize(t, tampered, mockUser(uniqueEmail("oidc-pkce"))).String())
		refused(t, b, resp)
	})

	t.Run("ErrProviderError", func(t *testing.T) {
		b := e.browser(t)
		state := e.start(t, b, "").Query().Get("state")
		resp, _ := b.get("/auth/oidc/callback?error=access_denied&state=" + url.QueryEscape(state))
		refused(t, b, resp)
	})

	t.Run("ErrUnverifiedEmail", func(t *testing.T) {
		email := uniqueEmail("oidc-unverified")
		u := mockUser(email)
		u.EmailVerified = false
		b := e.browser(t)
		refused(t, b, e.signIn(t, b, "", u))
		if _, err := e.Store.UserByEmail(context.Background(), email); err == nil {
			t.Error("an unverified email made a user")
		}
		// Nor may it take over an admin email.
		u = mockUser(e.adminEmail)
		u.EmailVerified = false
		b = e.browser(t)
		refused(t, b, e.signIn(t, b, "", u))
	})

	t.Run("ErrDeactivated", func(t *testing.T) {
		u := e.newUser(t, "oidc-inactive", identity.RoleViewer, tn.Alias)
		if _, err := e.Store.SetActive(context.Background(), u.ID, false); err != nil {
			t.Fatal(err)
		}
		b := e.browser(t)
		refused(t, b, e.signIn(t, b, "", mockUser(u.Email)))
	})
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// jarSession returns the session cookie b holds for base, or nil.
func jarSession(t *testing.T, b *browser, base string) *http.Cookie {
	t.Helper()
	for _, c := range b.c.Jar.Cookies(mustURL(t, base)) {
		if c.Name == "tenantgraph_session" {
			return c
		}
	}
	return nil
}

func mustUser(t *testing.T, a *testApp, email string) *identity.User {
	t.Helper()
	u, err := a.Store.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
