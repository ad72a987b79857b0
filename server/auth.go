package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/v2"

	"tenantgraph/identity"
	"tenantgraph/schema"
	"tenantgraph/web"
)

// sessionUserKey holds the signed-in user's id in the session.
const sessionUserKey = "user_id"

// NewSessions returns a session manager whose sessions live in PostgreSQL.
// db must reach the administration schema's sessions table unqualified
// (its connection string sets search_path=administration): the store
// names the table without a schema. Cookies are HttpOnly and SameSite=Lax,
// and Secure when publicURL is https. Call StopCleanup on the store when
// done; NewSessions returns it for that.
func NewSessions(db *sql.DB, publicURL string) (*scs.SessionManager, *postgresstore.PostgresStore) {
	store := postgresstore.NewWithCleanupInterval(db, 10*time.Minute)
	sm := scs.New()
	sm.Store = store
	sm.Lifetime = 24 * time.Hour
	sm.IdleTimeout = 8 * time.Hour
	sm.Cookie.Name = "tenantgraph_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = strings.HasPrefix(publicURL, "https://")
	sm.Cookie.Path = "/"
	return sm, store
}

type viaKey struct{}

// viaCookie reports whether the request was authenticated by a session
// cookie, the kind of credential a browser sends on its own.
func viaCookie(ctx context.Context) bool {
	v, _ := ctx.Value(viaKey{}).(bool)
	return v
}

// authenticate finds the caller: an API token in Authorization, else the
// session's user. An Authorization header that does not check out is a 401
// at once; a session whose user is gone or deactivated is ended.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if h := r.Header.Get("Authorization"); h != "" && s.users != nil {
			// The scheme name is case-insensitive (RFC 9110).
			scheme, secret, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				gqlError(w, r, http.StatusUnauthorized, schema.CodeUnauthenticated, "Authorization must be \"Bearer <API token>\"")
				return
			}
			p, err := s.users.TokenPrincipal(ctx, strings.TrimSpace(secret))
			if err != nil && !errors.Is(err, identity.ErrBadToken) && !errors.Is(err, identity.ErrInactive) {
				s.logger.Error("check token", "err", err)
				gqlError(w, r, http.StatusServiceUnavailable, schema.CodeInternal, "the server cannot reach its database")
				return
			}
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="tenantgraph"`)
				gqlError(w, r, http.StatusUnauthorized, schema.CodeUnauthenticated, "the API token is invalid, expired or revoked")
				return
			}
			next.ServeHTTP(w, r.WithContext(identity.NewContext(ctx, p)))
			return
		}
		if s.sessions != nil && s.users != nil {
			if uid := s.sessions.GetInt64(ctx, sessionUserKey); uid != 0 {
				p, err := s.users.Principal(ctx, uid)
				switch {
				case err == nil:
					ctx = identity.NewContext(ctx, p)
					ctx = context.WithValue(ctx, viaKey{}, true)
				case errors.Is(err, identity.ErrInactive), errors.Is(err, identity.ErrNotFound):
					s.sessions.Destroy(ctx)
				default:
					s.logger.Error("load session user", "err", err)
					gqlError(w, r, http.StatusServiceUnavailable, schema.CodeInternal, "the server cannot reach its database")
					return
				}
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// sameOrigin refuses a state-changing browser request from another site:
// an Origin that is not ours, or Sec-Fetch-Site: cross-site. Requests
// without either header come from tools, not browsers, and pass.
func (s *Server) sameOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if origin == "null" {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if s.publicOrigin != "" && strings.EqualFold(origin, s.publicOrigin) {
		return true
	}
	return strings.EqualFold(u.Host, r.Host)
}

// login signs a user in with email and password, from JSON or from the
// sign-in page's form. The session token is renewed, so a token planted
// before sign-in is worthless after it.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		gqlError(w, r, http.StatusForbidden, schema.CodeForbidden, "cross-site sign-in refused")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	var email, password, ret string
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isForm := mt == "application/x-www-form-urlencoded"
	switch {
	case mt == mediaJSON:
		var body struct{ Email, Password string }
		err := json.NewDecoder(r.Body).Decode(&body)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			gqlError(w, r, http.StatusRequestEntityTooLarge, schema.CodeBadUserInput,
				"the sign-in body is larger than 64 KiB; passwords are at most 72 bytes")
			return
		}
		if err != nil {
			gqlError(w, r, http.StatusBadRequest, schema.CodeBadUserInput, `send {"email": ..., "password": ...}`)
			return
		}
		email, password = body.Email, body.Password
	case isForm:
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		email, password, ret = r.PostForm.Get("email"), r.PostForm.Get("password"), localPath(r.PostForm.Get("return"))
	default:
		gqlError(w, r, http.StatusUnsupportedMediaType, schema.CodeBadUserInput, "send JSON or the sign-in form")
		return
	}
	u, err := s.users.Authenticate(r.Context(), email, password)
	if err != nil {
		if !errors.Is(err, identity.ErrBadPassword) && !errors.Is(err, identity.ErrInactive) {
			s.logger.Error("sign in", "err", err)
		}
		if isForm {
			http.Redirect(w, r, "/login?error=1&return="+url.QueryEscape(ret), http.StatusSeeOther)
			return
		}
		gqlError(w, r, http.StatusUnauthorized, schema.CodeUnauthenticated, "wrong email or password")
		return
	}
	if err := s.signIn(r.Context(), u.ID); err != nil {
		s.logger.Error("sign in", "err", err)
		gqlError(w, r, http.StatusInternalServerError, schema.CodeInternal, "could not start a session")
		return
	}
	if isForm {
		if ret == "" {
			ret = "/"
		}
		http.Redirect(w, r, ret, http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": u.ID, "email": u.Email, "name": u.Name})
}

// signIn starts a session for userID under a fresh token.
func (s *Server) signIn(ctx context.Context, userID int64) error {
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	s.sessions.Put(ctx, sessionUserKey, userID)
	return nil
}

// logout ends the session: its data is deleted from the store, so the old
// cookie no longer works anywhere.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		gqlError(w, r, http.StatusForbidden, schema.CodeForbidden, "cross-site sign-out refused")
		return
	}
	if err := s.sessions.Destroy(r.Context()); err != nil {
		s.logger.Error("sign out", "err", err)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"signedOut": true})
}

// localPath returns p when it is a path on this server, else "": a return
// path after sign-in must never send the browser elsewhere.
func localPath(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return ""
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return ""
	}
	return p
}

// RenewSession gives the caller's session a new token; the admin API calls
// it when the caller's own roles change.
func (s *Server) RenewSession(ctx context.Context) {
	if s.sessions != nil && viaCookie(ctx) {
		if err := s.sessions.RenewToken(ctx); err != nil {
			s.logger.Error("renew session", "err", err)
		}
	}
}

// loginPage shows the sign-in form; after signing in the browser returns
// to the local path in ?return=.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	web.Login(w, web.LoginData{
		Return: localPath(r.URL.Query().Get("return")),
		Failed: r.URL.Query().Get("error") != "",
		OIDC:   s.oidc != nil,
	})
}
