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
	"net"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lib/pq"
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
	RequestTimeout   time.Duration
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
		RequestTimeout:   30 * time.Second,
		DDLLockTimeout:   2 * time.Second,
		MaxBodyBytes:     1 << 20,
		MaxDepth:         15,
		ShutdownTimeout:  10 * time.Second,
		CheckInterval:    30 * time.Second,
		MaxSchemas:       2000,
		AuthCacheTTL:     10 * time.Second,
		OIDCIssuer:       "https://accounts.google.com",
	}
}

// bindCommon registers the flags every subcommand shares.
func (c *Config) bindCommon(fs *flagSet) {
	fs.stringVar(&c.DatabaseURL, "database-url", "DATABASE_URL", "PostgreSQL connection string")
	fs.stringVar(&c.LogLevel, "log-level", "LOG_LEVEL", "debug, info, warn or error")
	fs.stringVar(&c.LogFormat, "log-format", "LOG_FORMAT", "text or json")
	fs.durationVar(&c.DDLLockTimeout, "ddl-lock-timeout", "DDL_LOCK_TIMEOUT", "longest wait for a table lock before a schema change gives up")

	// A connection string may hold a password: errors never repeat it.
	fs.secret("database-url")
	fs.rule("database-url", checkDatabaseURL(&c.DatabaseURL))
	fs.rule("log-level", oneOf(&c.LogLevel, "debug", "info", "warn", "error"))
	fs.rule("log-format", oneOf(&c.LogFormat, "text", "json"))
	// PostgreSQL counts lock_timeout in milliseconds, and 0 means no limit.
	fs.rule("ddl-lock-timeout", durationIn(&c.DDLLockTimeout, time.Millisecond, 24*time.Hour))
}

// bindServe registers the flags of `serve`.
func (c *Config) bindServe(fs *flagSet) {
	c.bindCommon(fs)
	fs.stringVar(&c.ListenAddr, "listen-addr", "LISTEN_ADDR", "address to listen on, host:port")
	fs.durationVar(&c.StatementTimeout, "statement-timeout", "STATEMENT_TIMEOUT", "longest a GraphQL request's SQL statement may run")
	fs.durationVar(&c.RequestTimeout, "request-timeout", "REQUEST_TIMEOUT", "longest a whole GraphQL request may run, all its statements together")
	fs.int64Var(&c.MaxBodyBytes, "max-body-bytes", "MAX_BODY_BYTES", "largest request body accepted")
	fs.intVar(&c.MaxDepth, "max-depth", "MAX_DEPTH", "deepest nesting of a GraphQL document")
	fs.stringVar(&c.BaseDomain, "base-domain", "BASE_DOMAIN", "serve {alias}.<base-domain>/graphql as that tenant")
	fs.durationVar(&c.CheckInterval, "check-interval", "CHECK_INTERVAL", "how often to compare every tenant's schema version, covering missed notifications")
	fs.stringVar(&c.PublicURL, "public-url", "PUBLIC_URL", "the server's address as browsers see it; default http://<listen-addr>")
	fs.stringVar(&c.OIDCIssuer, "oidc-issuer", "OIDC_ISSUER", "OpenID Connect issuer")
	fs.stringVar(&c.OIDCClientID, "oidc-client-id", "OIDC_CLIENT_ID", "OpenID Connect client id; empty turns Google sign-in off; the secret comes from env OIDC_CLIENT_SECRET only")
	fs.stringVar(&c.AdminEmails, "admin-emails", "ADMIN_EMAILS", "comma-separated emails made admin at their first OpenID Connect sign-in")
	c.OIDCClientSecret = os.Getenv("OIDC_CLIENT_SECRET")
	fs.durationVar(&c.AuthCacheTTL, "auth-cache-ttl", "AUTH_CACHE_TTL", "keep a token's or session user's roles this long between checks (0 turns the cache off); changes made through the API clear it on every replica at once, but a change made directly in SQL waits out the TTL")
	fs.intVar(&c.MaxSchemas, "max-schemas", "MAX_SCHEMAS", "most tenant schemas kept built; the least recently used are dropped")

	fs.rule("listen-addr", checkListenAddr(&c.ListenAddr))
	// PostgreSQL counts statement_timeout in milliseconds, and 0 means no
	// limit.
	fs.rule("statement-timeout", durationIn(&c.StatementTimeout, time.Millisecond, 24*time.Hour))
	fs.rule("request-timeout", durationIn(&c.RequestTimeout, time.Millisecond, 24*time.Hour))
	fs.rule("max-body-bytes", atLeast(&c.MaxBodyBytes, 1))
	fs.rule("max-depth", atLeast(&c.MaxDepth, 1))
	fs.rule("base-domain", checkBaseDomain(&c.BaseDomain))
	fs.rule("check-interval", durationIn(&c.CheckInterval, time.Second, 0))
	fs.rule("public-url", checkHTTPURL(&c.PublicURL, true))
	fs.rule("oidc-issuer", checkHTTPURL(&c.OIDCIssuer, false))
	fs.rule("admin-emails", checkEmails(&c.AdminEmails))
	fs.rule("auth-cache-ttl", durationIn(&c.AuthCacheTTL, 0, 0))
	fs.rule("max-schemas", atLeast(&c.MaxSchemas, 1))
}

// flagSet is one subcommand's flags. A flag may fall back on an
// environment variable and carry a rule its value must meet; parse applies
// both, so a command starts only with settings that make sense.
type flagSet struct {
	*flag.FlagSet
	env     map[string]string // flag name -> environment variable
	secrets map[string]bool   // flags whose value errors leave out
	fromEnv map[string]bool   // flags parse set from their variable
	rules   []flagRule
}

type flagRule struct {
	name  string
	check func() error
}

// errRequired is what a rule returns for a flag that must be given.
var errRequired = errors.New("is required")

func newFlagSet(name string, stderr io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &flagSet{FlagSet: fs, env: map[string]string{}, secrets: map[string]bool{}, fromEnv: map[string]bool{}}
}

// stringVar registers a string flag whose default is *p, or the
// environment variable key when that is set and not empty.
func (fs *flagSet) stringVar(p *string, name, key, usage string) {
	fs.StringVar(p, name, *p, usage+" (env "+key+")")
	fs.env[name] = key
}

// durationVar is stringVar for a duration.
func (fs *flagSet) durationVar(p *time.Duration, name, key, usage string) {
	fs.DurationVar(p, name, *p, usage+" (env "+key+")")
	fs.env[name] = key
}

// intVar is stringVar for an int.
func (fs *flagSet) intVar(p *int, name, key, usage string) {
	fs.IntVar(p, name, *p, usage+" (env "+key+")")
	fs.env[name] = key
}

// int64Var is stringVar for an int64.
func (fs *flagSet) int64Var(p *int64, name, key, usage string) {
	fs.Int64Var(p, name, *p, usage+" (env "+key+")")
	fs.env[name] = key
}

// secret keeps the flag's value out of error messages.
func (fs *flagSet) secret(name string) { fs.secrets[name] = true }

// rule adds a check that the flag's value must pass once the command line
// and the environment are read. check's error says what the value must be,
// like "must be at least 1"; parse adds the flag and the value.
func (fs *flagSet) rule(name string, check func() error) {
	fs.rules = append(fs.rules, flagRule{name, check})
}

// parse reads args, then the environment variables of the flags args left
// out, then checks every rule. Its error names the flag, or the variable the
// value came from, and the rule broken.
func (fs *flagSet) parse(args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q; settings are --flags, and a value with spaces needs quotes",
			fs.Name(), fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		v := os.Getenv(fs.env[f.Name])
		if err != nil || fs.env[f.Name] == "" || given[f.Name] || v == "" {
			return
		}
		fs.fromEnv[f.Name] = true
		if fs.Set(f.Name, v) != nil {
			err = fmt.Errorf("%s: invalid %s: %s", fs.Name(), fs.subject(f.Name), wantKind(f.Value))
		}
	})
	if err != nil {
		return err
	}
	for _, r := range fs.rules {
		err := r.check()
		switch {
		case errors.Is(err, errRequired):
			return fmt.Errorf("%s: --%s %v", fs.Name(), r.name, err)
		case err != nil:
			return fmt.Errorf("%s: invalid %s: %v", fs.Name(), fs.subject(r.name), err)
		}
	}
	return nil
}

// subject names a flag and its value as it was given: --max-depth "-1", or
// MAX_DEPTH="-1" (for --max-depth) when it came from the environment.
func (fs *flagSet) subject(name string) string {
	key := fs.env[name]
	switch {
	case fs.fromEnv[name] && fs.secrets[name]:
		return key + " (for --" + name + ")"
	case fs.fromEnv[name]:
		return fmt.Sprintf("%s=%q (for --%s)", key, os.Getenv(key), name)
	case fs.secrets[name]:
		return "--" + name
	}
	return fmt.Sprintf("--%s %q", name, fs.Lookup(name).Value.String())
}

// wantKind says what a flag's value must look like to parse.
func wantKind(v flag.Value) string {
	g, _ := v.(flag.Getter)
	switch g.Get().(type) {
	case time.Duration:
		return "must be a duration like 500ms, 2s or 1m"
	case int, int64:
		return "must be a whole number"
	}
	return "cannot be read"
}

// atLeast is a rule: *p must be min or more.
func atLeast[T int | int64](p *T, min T) func() error {
	return func() error {
		if *p < min {
			return fmt.Errorf("must be at least %d", min)
		}
		return nil
	}
}

// durationIn is a rule: *p must be from min to max; max 0 means no upper
// bound.
func durationIn(p *time.Duration, min, max time.Duration) func() error {
	return func() error {
		switch {
		case max > 0 && (*p < min || *p > max):
			return fmt.Errorf("must be from %s to %s", shortDuration(min), shortDuration(max))
		case *p < min && min == 0:
			return errors.New("must not be negative")
		case *p < min:
			return fmt.Errorf("must be at least %s", shortDuration(min))
		}
		return nil
	}
}

// shortDuration writes d without zero minutes and seconds: 24h, not
// 24h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// oneOf is a rule: *p must be one of values, in any letter case.
func oneOf(p *string, values ...string) func() error {
	return func() error {
		for _, v := range values {
			if strings.EqualFold(*p, v) {
				return nil
			}
		}
		last := len(values) - 1
		return fmt.Errorf("must be %s or %s", strings.Join(values[:last], ", "), values[last])
	}
}

// required is a rule: *p must not be blank.
func required(p *string) func() error {
	return func() error {
		if strings.TrimSpace(*p) == "" {
			return errRequired
		}
		return nil
	}
}

// checkDatabaseURL is a rule: *p must be a connection string lib/pq can
// read, a postgres:// URL or key=value pairs. Its errors leave the string
// out: it may hold a password.
func checkDatabaseURL(p *string) func() error {
	return func() error {
		dsn := *p
		if strings.TrimSpace(dsn) == "" {
			return errors.New("must be a postgres:// URL or key=value pairs, not empty")
		}
		if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") && strings.Contains(dsn, "://") {
			return errors.New("must be a postgres:// or postgresql:// URL, or key=value pairs")
		}
		if _, err := pq.NewConfig(dsn); err != nil {
			// A url.Error repeats the whole URL.
			var uerr *url.Error
			if errors.As(err, &uerr) {
				err = uerr.Err
			}
			return fmt.Errorf("must be a postgres:// URL or key=value pairs: %v", err)
		}
		return nil
	}
}

// checkListenAddr is a rule: *p must be host:port with a port from 1 to
// 65535; without a host (":8080") the server listens on every address.
func checkListenAddr(p *string) func() error {
	return func() error {
		_, port, err := net.SplitHostPort(*p)
		if err != nil {
			return errors.New("must be host:port, like 127.0.0.1:8080 or :8080")
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return errors.New("must end in a port from 1 to 65535, like 127.0.0.1:8080")
		}
		return nil
	}
}

var hostLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// checkBaseDomain is a rule: *p must be empty or a domain name, without
// scheme, port or path. A leading dot is allowed, as the server drops it.
func checkBaseDomain(p *string) func() error {
	return func() error {
		if *p == "" {
			return nil
		}
		d := strings.ToLower(strings.TrimPrefix(*p, "."))
		if len(d) > 253 {
			return errors.New("must be a domain name of at most 253 characters")
		}
		for _, label := range strings.Split(d, ".") {
			if !hostLabelRE.MatchString(label) {
				return errors.New("must be a domain name like example.com, without scheme, port or path")
			}
		}
		return nil
	}
}

// checkHTTPURL is a rule: *p must be an absolute http or https URL without
// user, query or fragment; empty passes when optional is set.
func checkHTTPURL(p *string, optional bool) func() error {
	return func() error {
		if *p == "" && optional {
			return nil
		}
		u, err := url.Parse(*p)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return errors.New("must be an absolute http:// or https:// URL, like https://graph.example.com")
		}
		return nil
	}
}

// checkEmails is a rule: *p must be emails separated by commas; blanks
// around the commas are allowed.
func checkEmails(p *string) func() error {
	return func() error {
		for _, e := range strings.Split(*p, ",") {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			local, domain, ok := strings.Cut(e, "@")
			if !ok || local == "" || domain == "" || strings.ContainsAny(local+domain, "@ \t<>") {
				return fmt.Errorf("%q is not an email; want emails separated by commas", e)
			}
		}
		return nil
	}
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
