// Command scale measures tenantgraph with many tenants: it creates N
// tenants in bulk in a fresh database, starts the server, and reports the
// time until /readyz answers, the latency of the first request to each
// tenant, the server's resident memory once every tenant has served a
// request, `migrate` with nothing pending and with one new tenant
// migration, and the time to create one tenant the normal way.
//
//	go run ./bench/scale -n 1000 -bin bin/tenantgraph -database-url postgres://...
//
// Tenants are made in bulk by running the real tenant migration SQL, with
// goose's version rows, for many schemas per transaction: far faster than
// one `tenant create` each, and the same tables.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing/fstest"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"tenantgraph/identity"
	"tenantgraph/migrations"
	"tenantgraph/tenancy"
)

func main() {
	n := flag.Int("n", 1000, "tenants to create")
	bin := flag.String("bin", "bin/tenantgraph", "the tenantgraph binary")
	dsn := flag.String("database-url", os.Getenv("DATABASE_URL"), "a database to create the scale database next to")
	dbName := flag.String("db", "tenantgraph_scale", "database to (re)create for the run")
	migrateN := flag.Int("migrate-tenants", 1000, "measure migrate only up to this many tenants (0: skip)")
	flag.Parse()
	if err := run(*n, *bin, *dsn, *dbName, *migrateN); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func run(n int, bin, baseDSN, dbName string, migrateN int) error {
	ctx := context.Background()
	dsn, err := freshDatabase(ctx, baseDSN, dbName)
	if err != nil {
		return err
	}
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if out, err := exec.Command(bin, "migrate", "--database-url", dsn).CombinedOutput(); err != nil {
		return fmt.Errorf("migrate: %v\n%s", err, out)
	}

	start := time.Now()
	if err := bulkCreate(ctx, db, n); err != nil {
		return err
	}
	fmt.Printf("created %d tenants in bulk in %s\n", n, time.Since(start).Round(time.Millisecond))

	users := identity.NewStore(db)
	u, err := users.CreateUser(ctx, "scale@example.com", "Scale", "scale-password-1", true)
	if err != nil {
		return err
	}
	token, _, err := users.CreateToken(ctx, u.ID, "scale", nil)
	if err != nil {
		return err
	}

	// Start the server and time /readyz.
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "serve", "--database-url", dsn, "--listen-addr", addr)
	cmd.Env = append(os.Environ(), "LOG_LEVEL=warn", "MAX_SCHEMAS="+strconv.Itoa(2*n+10))
	cmd.Stderr = os.Stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Process.Kill()
	base := "http://" + addr
	if err := waitReady(base, 30*time.Second); err != nil {
		return err
	}
	ready := time.Since(t0)
	fmt.Printf("/readyz ready %s after start (N=%d)\n", ready.Round(time.Millisecond), n)
	rssStart, _ := rss(cmd.Process.Pid)

	// First request to every tenant, none used before.
	aliases, err := tenantAliases(ctx, db)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	var lat []time.Duration
	for _, a := range aliases {
		d, err := query(client, base, a, token)
		if err != nil {
			return fmt.Errorf("tenant %s: %w", a, err)
		}
		lat = append(lat, d)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("first request to an unused tenant: p50 %s p99 %s max %s (N=%d)\n",
		pct(lat, 50), pct(lat, 99), lat[len(lat)-1].Round(time.Microsecond), len(lat))
	rssAll, err := rss(cmd.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Printf("resident memory: %d MiB at start, %d MiB after every tenant served a request (N=%d)\n",
		rssStart>>20, rssAll>>20, n)
	cmd.Process.Kill()
	cmd.Wait()

	if migrateN > 0 && n <= migrateN {
		if err := measureMigrate(ctx, db, bin, dsn, n); err != nil {
			return err
		}
	}

	// Creating one tenant the normal way, median of 10.
	store := tenancy.NewStore(db, dsn)
	var creates []time.Duration
	for i := 0; i < 10; i++ {
		t1 := time.Now()
		if _, err := store.Create(ctx, tenancy.NewTenant{Name: fmt.Sprintf("Extra %d", i), Alias: fmt.Sprintf("XT%d", i)}); err != nil {
			return err
		}
		creates = append(creates, time.Since(t1))
	}
	sort.Slice(creates, func(i, j int) bool { return creates[i] < creates[j] })
	fmt.Printf("create one tenant: median %s (10 runs, N=%d existing)\n", pct(creates, 50), n)
	return nil
}

// measureMigrate times `tenantgraph migrate` with nothing pending, then an
// extra tenant migration applied to every tenant.
func measureMigrate(ctx context.Context, db *sqlx.DB, bin, dsn string, n int) error {
	t := time.Now()
	if out, err := exec.Command(bin, "migrate", "--database-url", dsn).CombinedOutput(); err != nil {
		return fmt.Errorf("migrate: %v\n%s", err, out)
	}
	fmt.Printf("migrate, nothing pending: %s (N=%d)\n", time.Since(t).Round(time.Millisecond), n)

	fsys := fstest.MapFS{}
	err := fs.WalkDir(migrations.TenantFS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(migrations.TenantFS, p)
		fsys[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		return err
	}
	fsys["99999_scale_probe.sql"] = &fstest.MapFile{Data: []byte(
		"-- +goose Up\nCREATE INDEX toyota_model_idx ON toyota (model);\n-- +goose Down\nDROP INDEX toyota_model_idx;\n")}
	t = time.Now()
	res, err := migrations.MigrateTenants(ctx, db.DB, dsn, migrations.TenantOptions{FS: fsys, Parallel: 4})
	if err != nil {
		return err
	}
	fmt.Printf("migrate, one new tenant migration: %s for %d tenants (parallel 4)\n", time.Since(t).Round(time.Millisecond), len(res))
	return nil
}

// bulkCreate makes n tenants named Scale 1..n by running the tenant
// migration SQL for a batch of schemas per transaction.
func bulkCreate(ctx context.Context, db *sqlx.DB, n int) error {
	up, err := tenantUpSQL()
	if err != nil {
		return err
	}
	latest, err := migrations.Latest(migrations.TenantFS)
	if err != nil {
		return err
	}
	const batch = 50
	for from := 1; from <= n; from += batch {
		var b strings.Builder
		b.WriteString("BEGIN;\n")
		for i := from; i < from+batch && i <= n; i++ {
			alias := fmt.Sprintf("S%d", i)
			ns, err := tenancy.Namespace(fmt.Sprintf("Scale %d", i), alias)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "CREATE SCHEMA %s;\nSET LOCAL search_path TO %s;\n%s\n", ns, ns, up)
			fmt.Fprintf(&b, `CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (%d, true);
INSERT INTO administration.countries (name, official_name, alias, schema_name, migration_version, ready)
VALUES ('Scale %d', 'Scale %d', '%s', '%s', %d, true);
`, latest, i, i, alias, ns, latest)
		}
		b.WriteString("COMMIT;\n")
		if _, err := db.ExecContext(ctx, b.String()); err != nil {
			return fmt.Errorf("bulk create from %d: %w", from, err)
		}
	}
	return nil
}

// tenantUpSQL is the Up part of every tenant migration, in order.
func tenantUpSQL() (string, error) {
	names, err := fs.Glob(migrations.TenantFS, "*.sql")
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	var out strings.Builder
	for _, name := range names {
		data, err := fs.ReadFile(migrations.TenantFS, name)
		if err != nil {
			return "", err
		}
		up, _, _ := strings.Cut(string(data), "-- +goose Down")
		out.WriteString(up)
	}
	return out.String(), nil
}

func freshDatabase(ctx context.Context, baseDSN, name string) (string, error) {
	u, err := url.Parse(baseDSN)
	if err != nil || u.Scheme == "" {
		return "", errors.New("-database-url must be a postgres:// URL")
	}
	admin := *u
	admin.Path = "/postgres"
	db, err := sql.Open("postgres", admin.String())
	if err != nil {
		return "", err
	}
	defer db.Close()
	quoted := `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+quoted+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+quoted); err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func tenantAliases(ctx context.Context, db *sqlx.DB) ([]string, error) {
	var out []string
	err := db.SelectContext(ctx, &out, `SELECT alias FROM administration.countries WHERE ready ORDER BY id`)
	return out, err
}

func query(c *http.Client, base, alias, token string) (time.Duration, error) {
	body := []byte(`{"query":"{ toyotaList(limit: 1) { items { id model } } }"}`)
	req, _ := http.NewRequest(http.MethodPost, base+"/country/"+alias+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	t := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t)
	var out struct {
		Errors []json.RawMessage `json:"errors"`
	}
	json.Unmarshal(data, &out)
	if resp.StatusCode != http.StatusOK || len(out.Errors) > 0 {
		return 0, fmt.Errorf("status %d: %s", resp.StatusCode, data)
	}
	return d, nil
}

func waitReady(base string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return errors.New("server not ready in time")
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// rss reads a process's resident set size in bytes.
func rss(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted) - 1) * p / 100
	return sorted[i].Round(time.Microsecond)
}
