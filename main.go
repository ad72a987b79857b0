// Command tenantgraph serves a GraphQL API per tenant (country) over
// schema-per-tenant PostgreSQL and manages those tenants.
//
// Usage:
//
//	tenantgraph serve     run the HTTP server
//	tenantgraph migrate   migrate the administration schema and every tenant
//	tenantgraph tenant    create, list, drop or refresh tenants
//	tenantgraph demo      create the demo countries and sample rows
//
// Every flag has an environment fallback; see the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Config is every setting of the binary. DefaultConfig fills in the
// defaults; flags override them, and environment variables override the
// defaults of flags.
type Config struct {
	DatabaseURL      string
	ListenAddr       string
	LogLevel         string
	LogFormat        string
	StatementTimeout time.Duration
	DDLLockTimeout   time.Duration
	MaxBodyBytes     int64
	MaxDepth         int
	BaseDomain       string
	ShutdownTimeout  time.Duration
	CheckInterval    time.Duration
	MaxSchemas       int
	PublicURL        string
	OIDCIssuer       string
	OIDCClientID     string
	// OIDCClientSecret comes from the environment only, never a flag.
	OIDCClientSecret string
	AdminEmails      string
	AuthCacheTTL     time.Duration
}

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{
		DatabaseURL:      "postgres://postgres@127.0.0.1:5432/tenantgraph?sslmode=disable",
		ListenAddr:       "127.0.0.1:8080",
		LogLevel:         "info",
		LogFormat:        "text",
		StatementTimeout: 5 * time.Second,
		DDLLockTimeout:   2 * time.Second,
		MaxBodyBytes:     1 << 20,
		MaxDepth:         15,
		ShutdownTimeout:  10 * time.Second,
		CheckInterval:    30 * time.Second,
		MaxSchemas:       2000,
	}
}

// bindCommon registers the flags every subcommand shares.
func (c *Config) bindCommon(fs *flag.FlagSet) {
	fs.StringVar(&c.DatabaseURL, "database-url", env("DATABASE_URL", c.DatabaseURL), "PostgreSQL connection string (env DATABASE_URL)")
	fs.StringVar(&c.LogLevel, "log-level", env("LOG_LEVEL", c.LogLevel), "debug, info, warn or error (env LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("LOG_FORMAT", c.LogFormat), "text or json (env LOG_FORMAT)")
	fs.DurationVar(&c.DDLLockTimeout, "ddl-lock-timeout", envDuration("DDL_LOCK_TIMEOUT", c.DDLLockTimeout), "longest wait for a table lock before a schema change gives up (env DDL_LOCK_TIMEOUT)")
}

// bindServe registers the flags of `serve`.
func (c *Config) bindServe(fs *flag.FlagSet) {
	c.bindCommon(fs)
	fs.StringVar(&c.ListenAddr, "listen-addr", env("LISTEN_ADDR", c.ListenAddr), "address to listen on (env LISTEN_ADDR)")
	fs.DurationVar(&c.StatementTimeout, "statement-timeout", envDuration("STATEMENT_TIMEOUT", c.StatementTimeout), "longest a GraphQL request's SQL statement may run (env STATEMENT_TIMEOUT)")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", envInt64("MAX_BODY_BYTES", c.MaxBodyBytes), "largest request body accepted (env MAX_BODY_BYTES)")
	fs.IntVar(&c.MaxDepth, "max-depth", int(envInt64("MAX_DEPTH", int64(c.MaxDepth))), "deepest nesting of a GraphQL document (env MAX_DEPTH)")
	fs.StringVar(&c.BaseDomain, "base-domain", env("BASE_DOMAIN", c.BaseDomain), "serve {alias}.<base-domain>/graphql as that tenant (env BASE_DOMAIN)")
	fs.DurationVar(&c.CheckInterval, "check-interval", envDuration("CHECK_INTERVAL", c.CheckInterval), "how often to compare every tenant's schema version, covering missed notifications (env CHECK_INTERVAL)")
	fs.StringVar(&c.PublicURL, "public-url", env("PUBLIC_URL", c.PublicURL), "the server's address as browsers see it; default http://<listen-addr> (env PUBLIC_URL)")
	fs.StringVar(&c.OIDCIssuer, "oidc-issuer", env("OIDC_ISSUER", "https://accounts.google.com"), "OpenID Connect issuer (env OIDC_ISSUER)")
	fs.StringVar(&c.OIDCClientID, "oidc-client-id", env("OIDC_CLIENT_ID", ""), "OpenID Connect client id; empty turns Google sign-in off (env OIDC_CLIENT_ID; the secret comes from env OIDC_CLIENT_SECRET only)")
	fs.StringVar(&c.AdminEmails, "admin-emails", env("ADMIN_EMAILS", ""), "comma-separated emails made admin at their first OpenID Connect sign-in (env ADMIN_EMAILS)")
	c.OIDCClientSecret = os.Getenv("OIDC_CLIENT_SECRET")
	fs.DurationVar(&c.AuthCacheTTL, "auth-cache-ttl", envDuration("AUTH_CACHE_TTL", c.AuthCacheTTL), "keep a token's or session user's roles this long between checks (off by default); changes made through the API clear it on every replica at once, but a change made directly in SQL waits out the TTL (env AUTH_CACHE_TTL)")
	fs.IntVar(&c.MaxSchemas, "max-schemas", int(envInt64("MAX_SCHEMAS", int64(c.MaxSchemas))), "most tenant schemas kept built; the least recently used are dropped (env MAX_SCHEMAS)")
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
		fmt.Fprintf(os.Stderr, "ignoring %s=%q: not a duration like 2s\n", key, v)
	}
	return def
}

func envInt64(key string, def int64) int64 {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
		fmt.Fprintf(os.Stderr, "ignoring %s=%q: not an integer\n", key, v)
	}
	return def
}

// newLogger builds the process's slog logger from the configuration.
func (c *Config) newLogger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", c.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(c.LogFormat) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", c.LogFormat)
}

const usage = `tenantgraph: a GraphQL server for schema-per-tenant PostgreSQL

Commands:
  serve                 run the HTTP server
  migrate [--parallel N]
                        migrate the administration schema, then every tenant
  tenant create --name NAME --alias XX [--official-name NAME] [--area-code N]
  tenant list
  tenant drop --alias XX --confirm XX
  tenant refresh --alias XX
                        make every replica rebuild the tenant's API after a
                        change made outside it (psql)
  user create --email EMAIL --name NAME [--admin]
                        add a user; the password is read from stdin, or
                        generated and printed once when stdin is empty
  demo                  create the demo countries US and MX with sample rows
                        and the demo users

Run "tenantgraph COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tenantgraph:", err)
		os.Exit(1)
	}
}

// run dispatches a command line; tests call it like main does.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cfg := DefaultConfig()
	switch args[0] {
	case "serve":
		return runServe(ctx, cfg, args[1:], stderr)
	case "migrate":
		return runMigrate(ctx, cfg, args[1:], stdout, stderr)
	case "tenant":
		return runTenant(ctx, cfg, args[1:], stdout, stderr)
	case "user":
		return runUser(ctx, cfg, args[1:], stdin, stdout, stderr)
	case "demo":
		return runDemo(ctx, cfg, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
