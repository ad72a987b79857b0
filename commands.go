package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"tenantgraph/admin"
	"tenantgraph/ddl"
	"tenantgraph/identity"
	"tenantgraph/migrations"
	"tenantgraph/schema"
	"tenantgraph/server"
	"tenantgraph/tenancy"
)

// openDB connects to PostgreSQL and checks that it answers. It asks lib/pq
// for binary_parameters, which sends a parameterised query's parse, bind
// and execute in one round trip instead of two.
func openDB(ctx context.Context, dsn string) (*sqlx.DB, error) {
	fast, err := migrations.WithParam(dsn, "binary_parameters", "yes")
	if err != nil {
		return nil, err
	}
	db, err := sqlx.Open("postgres", fast)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return db, nil
}

// serveGCPercent is serve's garbage collection target unless GOGC is set.
const serveGCPercent = 400

func runServe(ctx context.Context, cfg Config, args []string, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	cfg.bindServe(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	logger, err := cfg.newLogger(stderr)
	if err != nil {
		return err
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		// A request allocates about 150 KB that is garbage at once, over a
		// live heap of a few tens of MiB: collecting at 4x the live heap
		// instead of 2x gave 10-35% more requests per second on two
		// cores (Q1 of make bench under wrk: 1,900-1,960 req/s at GOGC=100,
		// 2,150-2,630 at 400; RSS 25 -> 38 MiB). GOGC in the environment
		// wins.
		debug.SetGCPercent(serveGCPercent)
	}
	app, err := NewApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer app.Close()

	go func() {
		if err := app.Watcher.Run(ctx, cfg.DatabaseURL); err != nil {
			logger.Error("change listener stopped; replicas' changes reach this server only by its periodic check", "err", err)
		}
	}()

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: app.Handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func runMigrate(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", stderr)
	cfg.bindCommon(fs)
	parallel := fs.Int("parallel", 4, "tenants migrated at once")
	fs.rule("parallel", atLeast(parallel, 1))
	if err := fs.parse(args); err != nil {
		return err
	}
	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	return migrateAll(ctx, db, cfg.DatabaseURL, *parallel, stdout)
}

// migrateAll migrates the administration schema, then every tenant,
// printing a line per tenant.
func migrateAll(ctx context.Context, db *sqlx.DB, dsn string, parallel int, stdout io.Writer) error {
	n, err := migrations.MigrateAdmin(ctx, db.DB)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "administration: applied %d\n", n)
	results, err := migrations.MigrateTenants(ctx, db.DB, dsn, migrations.TenantOptions{
		Parallel: parallel,
		Report:   func(r migrations.TenantResult) { fmt.Fprintln(stdout, r) },
	})
	if err != nil {
		return err
	}
	if len(results) == 0 {
		fmt.Fprintln(stdout, "tenants: all current")
	}
	return nil
}

func runTenant(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("tenant: want create, list, drop or refresh")
	}
	fs := newFlagSet("tenant "+args[0], stderr)
	cfg.bindCommon(fs)
	var in tenancy.NewTenant
	var confirm string
	switch args[0] {
	case "create":
		fs.StringVar(&in.Name, "name", "", "country name, e.g. Mexico")
		fs.StringVar(&in.OfficialName, "official-name", "", "official name, e.g. United Mexican States; default the name")
		fs.StringVar(&in.Alias, "alias", "", "short alias, 2 to 10 letters or digits, e.g. MX")
		fs.StringVar(&in.AreaCode, "area-code", "", "telephone area code, 1 to 4 digits, e.g. 52")
		fs.rule("name", required(&in.Name))
		fs.rule("alias", checkAlias(&in.Alias))
		fs.rule("area-code", func() error {
			if tenancy.ValidateAreaCode(strings.TrimSpace(in.AreaCode)) != nil {
				return errors.New("must be 1 to 4 digits, like 52 (no + or spaces)")
			}
			return nil
		})
	case "drop":
		fs.StringVar(&in.Alias, "alias", "", "alias of the country to drop")
		fs.StringVar(&confirm, "confirm", "", "the alias again: dropping destroys the country's data")
		fs.rule("alias", required(&in.Alias))
		fs.rule("confirm", required(&confirm))
	case "refresh":
		fs.StringVar(&in.Alias, "alias", "", "alias of the country whose API to rebuild")
		fs.rule("alias", required(&in.Alias))
	case "list":
	default:
		return fmt.Errorf("tenant: unknown subcommand %q; want create, list, drop or refresh", args[0])
	}
	if err := fs.parse(args[1:]); err != nil {
		return err
	}
	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	store := tenancy.NewStore(db, cfg.DatabaseURL)

	switch args[0] {
	case "create":
		start := time.Now()
		t, err := store.Create(ctx, in)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s (%s) in schema %s in %s\n", t.Name, t.Alias, t.Namespace, time.Since(start).Round(time.Millisecond))
	case "list":
		ts, err := store.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ALIAS\tNAME\tOFFICIAL NAME\tAREA CODE\tSCHEMA\tVERSION")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", t.Alias, t.Name, t.OfficialName, t.AreaCode, t.Namespace, t.SchemaVersion)
		}
		return tw.Flush()
	case "drop":
		if err := store.Drop(ctx, in.Alias, confirm); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "dropped %s\n", in.Alias)
	case "refresh":
		v, err := store.Refresh(ctx, in.Alias)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s is now at schema version %d; every replica rebuilds it\n", in.Alias, v)
	}
	return nil
}

// checkAlias is a rule: *p must be a country alias.
func checkAlias(p *string) func() error {
	return func() error {
		if *p == "" {
			return errRequired
		}
		if tenancy.ValidateAlias(*p) != nil {
			return errors.New("must be 2 to 10 letters or digits, like MX")
		}
		return nil
	}
}

// App is the wired server: what `serve` runs and what end-to-end tests
// start.
type App struct {
	DB       *sqlx.DB
	Tenants  *tenancy.Store
	Users    *identity.Store
	Registry *schema.Registry
	Watcher  *schema.Watcher
	Handler  http.Handler
	closers  []func() error
}

// NewApp connects to the database and wires every part of the server.
func NewApp(ctx context.Context, cfg Config, logger *slog.Logger) (*App, error) {
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + cfg.ListenAddr
	}
	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	app := &App{DB: db, closers: []func() error{db.Close}}

	// scs's store names its table without a schema, so it gets a pool of
	// its own whose search_path is the administration schema.
	sessDSN, err := migrations.WithSearchPath(cfg.DatabaseURL, migrations.AdminSchema)
	if err != nil {
		app.Close()
		return nil, err
	}
	sessDB, err := openDB(ctx, sessDSN)
	if err != nil {
		app.Close()
		return nil, err
	}
	sessDB.SetMaxOpenConns(8)
	sessions, sessStore := server.NewSessions(sessDB.DB, cfg.PublicURL)
	app.closers = append(app.closers, func() error { sessStore.StopCleanup(); return sessDB.Close() })

	app.Tenants = tenancy.NewStore(db, cfg.DatabaseURL)
	app.Tenants.Logger = logger
	app.Users = identity.NewStore(db)
	app.Users.EnableCache(cfg.AuthCacheTTL)
	opts := &schema.Options{
		StatementTimeout: cfg.StatementTimeout,
		RequestTimeout:   cfg.RequestTimeout,
		MaxDepth:         cfg.MaxDepth,
		Changer:          ddl.NewChanger(db, cfg.DDLLockTimeout),
		UserID: func(ctx context.Context) (int64, bool) {
			p := identity.FromContext(ctx)
			return p.UserIDOrZero(), p != nil
		},
		Logger: logger,
	}
	app.Registry = schema.NewRegistry(db, opts, cfg.MaxSchemas)
	dir := tenancy.NewDirectory(app.Tenants)
	app.Watcher = &schema.Watcher{Registry: app.Registry, Directory: dir, Interval: cfg.CheckInterval,
		OnIdentityChange: app.Users.ClearCache}

	adminAPI := &admin.API{Tenants: app.Tenants, Users: app.Users}
	adminBuilt, _, err := adminAPI.Build(opts)
	if err != nil {
		app.Close()
		return nil, err
	}
	// The pool's metrics carry the name of the database it connects to.
	var dbName string
	if err := db.GetContext(ctx, &dbName, `SELECT current_database()`); err != nil {
		app.Close()
		return nil, fmt.Errorf("read database name: %w", err)
	}
	metrics := server.NewMetrics(db.DB, dbName, app.Registry.Len)
	app.Registry.OnBuild = func(_ string, d time.Duration, err error, swapped bool) { metrics.Build(d, err, swapped) }
	app.Watcher.OnEvent = metrics.ListenerEvent
	sopts := server.Options{
		Metrics:      metrics,
		DB:           db,
		Tenants:      dir,
		Registry:     app.Registry,
		MaxBodyBytes: cfg.MaxBodyBytes,
		BaseDomain:   cfg.BaseDomain,
		Users:        app.Users,
		Sessions:     sessions,
		Admin:        adminBuilt,
		PublicURL:    cfg.PublicURL,
		Logger:       logger,
	}
	if cfg.OIDCClientID != "" {
		sopts.OIDC = &server.OIDCConfig{
			Issuer:       cfg.OIDCIssuer,
			ClientID:     cfg.OIDCClientID,
			ClientSecret: cfg.OIDCClientSecret,
			AdminEmails:  strings.Split(cfg.AdminEmails, ","),
		}
	}
	if err := sopts.Check(); err != nil {
		app.Close()
		return nil, err
	}
	srv := server.New(sopts)
	adminAPI.OnRoleChange = srv.RenewSession
	app.Handler = srv
	return app, nil
}

// Close releases what NewApp acquired.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	return errors.Join(errs...)
}
