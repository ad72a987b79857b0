// Package server is the HTTP edge: routes, middleware, the GraphQL-over-HTTP
// handler and the mapping of errors to statuses and GraphQL error codes.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jmoiron/sqlx"

	"tenantgraph/identity"
	"tenantgraph/migrations"
	"tenantgraph/schema"
	"tenantgraph/tenancy"
)

// Server holds what the HTTP handlers need.
type Server struct {
	db         *sqlx.DB
	logger     *slog.Logger
	mux        *http.ServeMux
	tenants    *tenancy.Directory
	registry   *schema.Registry
	maxBody    int64
	baseDomain string

	users        *identity.Store
	sessions     *scs.SessionManager
	admin        *schema.Built
	publicOrigin string
	oidc         *oidcClient
	metrics      *Metrics
	handler      http.Handler
}

// Options configures a Server.
type Options struct {
	DB       *sqlx.DB
	Tenants  *tenancy.Directory
	Registry *schema.Registry
	// MaxBodyBytes bounds a request body; zero means 1 MiB.
	MaxBodyBytes int64
	// BaseDomain, when set, makes {alias}.<BaseDomain>/graphql serve that
	// tenant.
	BaseDomain string
	// Users finds callers by API token or session; required.
	Users *identity.Store
	// Sessions keeps browser sessions; nil turns cookie sign-in off.
	Sessions *scs.SessionManager
	// Admin is the built admin API; nil leaves /admin/graphql out.
	Admin *schema.Built
	// PublicURL is the server's address as browsers see it, e.g.
	// https://graph.example.com; its origin is trusted for cookie requests.
	PublicURL string
	// OIDC configures "Sign in with Google" (or another provider); nil or
	// without a client id turns it off.
	OIDC *OIDCConfig
	// Metrics, when set, are updated and served at /metrics.
	Metrics *Metrics
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
}

// Check reports configuration mistakes New would otherwise have to guess
// around: a relative public URL, or OpenID Connect without sessions.
func (o Options) Check() error {
	if o.PublicURL != "" {
		if _, err := oidcRedirectURL(o.PublicURL); err != nil {
			return err
		}
	}
	if o.OIDC.Enabled() && (o.Sessions == nil || o.PublicURL == "") {
		return errors.New("OpenID Connect sign-in needs sessions and a public URL")
	}
	return nil
}

// New returns a Server with every route registered. Call opts.Check first:
// New leaves out what is misconfigured.
func New(opts Options) *Server {
	s := &Server{
		db:         opts.DB,
		logger:     opts.Logger,
		mux:        http.NewServeMux(),
		tenants:    opts.Tenants,
		registry:   opts.Registry,
		maxBody:    opts.MaxBodyBytes,
		baseDomain: strings.ToLower(strings.TrimPrefix(opts.BaseDomain, ".")),
		users:      opts.Users,
		sessions:   opts.Sessions,
		admin:      opts.Admin,
		metrics:    opts.Metrics,
	}
	if u, err := url.Parse(opts.PublicURL); err == nil && u.Scheme != "" && u.Host != "" {
		s.publicOrigin = u.Scheme + "://" + u.Host
	}
	if redirect, err := oidcRedirectURL(opts.PublicURL); err == nil && opts.OIDC.Enabled() && s.sessions != nil {
		s.oidc = &oidcClient{cfg: *opts.OIDC, redirectURL: redirect}
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = 1 << 20
	}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("/country/{alias}/graphql", s.graphql)
	s.mux.HandleFunc("/graphql", s.graphql)
	s.mux.HandleFunc("GET /country/{alias}/schema.graphql", s.sdl)
	s.routeGraphiQL()
	if s.admin != nil {
		s.mux.HandleFunc("/admin/graphql", s.adminGraphQL)
	}
	if s.metrics != nil {
		s.mux.Handle("GET /metrics", s.metrics.Handler())
	}
	if s.sessions != nil {
		s.mux.HandleFunc("GET /login", s.loginPage)
		s.mux.HandleFunc("POST /auth/login", s.login)
		s.mux.HandleFunc("POST /auth/logout", s.logout)
	}
	if s.oidc != nil {
		s.mux.HandleFunc("GET /auth/oidc/login", s.oidcLogin)
		s.mux.HandleFunc("GET /auth/oidc/callback", s.oidcCallback)
	}
	s.handler = s.logRequests(s.recoverPanics(s.withSessions(s.authenticate(recordRoute(s.mux)))))
	return s
}

// withSessions loads and saves the browser session around next.
func (s *Server) withSessions(next http.Handler) http.Handler {
	if s.sessions == nil {
		return next
	}
	return s.sessions.LoadAndSave(next)
}

// Handle registers h for pattern on the server's mux; it lets the wiring
// add routes owned by other packages.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// ServeHTTP runs the middleware chain and the routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when the database answers and every migration,
// administration and tenant, is applied.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	ok, err := migrations.Current(ctx, s.db.DB)
	switch {
	case err != nil:
		s.logger.Warn("not ready", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
	case !ok:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "migrations pending"})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
	requestInfoKey
)

// requestInfo is what inner handlers learn about a request for its log
// line and metrics. Middleware between the logger and the mux (sessions,
// authentication) hands on copies of the request, and the mux writes the
// route and path values only onto the copy it gets, so they report back
// through this shared record instead.
type requestInfo struct {
	route  string // the mux pattern that matched
	tenant string // the alias of the country served
}

// infoFrom returns the request's record, or nil outside logRequests.
func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey).(*requestInfo)
	return info
}

// recordRoute notes the pattern the mux matched.
func recordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if info := infoFrom(r.Context()); info != nil {
				info.route = r.Pattern
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// RequestID returns the id the logging middleware gave the request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests gives each request an id and writes one line when it ends.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var b [8]byte
		rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w}
		info := &requestInfo{}
		ctx := context.WithValue(context.WithValue(r.Context(), requestIDKey, id), requestInfoKey, info)
		r = r.WithContext(ctx)
		next.ServeHTTP(rec, r)
		s.metrics.observe(info.route, time.Since(start))
		s.logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int("bytes", rec.bytes),
			slog.Duration("duration", time.Since(start)),
			slog.String("tenant", info.tenant),
			slog.String("request_id", id),
		)
	})
}

// recoverPanics turns a panic in a handler into a 500 and a log line, so
// one bad request never takes the process down.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.Error("panic", "path", r.URL.Path, "panic", v)
				writeJSON(w, http.StatusInternalServerError, map[string]any{
					"errors": []map[string]any{{
						"message":    "internal server error",
						"extensions": map[string]any{"code": "INTERNAL_SERVER_ERROR"},
					}},
				})
			}
		}()
		next.ServeHTTP(w, r)
	})
}
