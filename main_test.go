package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// unreachableDB is a connection string nothing answers at: a command that
// got past its flags would fail to connect instead of naming the flag.
const unreachableDB = "postgres://nobody@127.0.0.1:1/none?sslmode=disable"

func TestRun_InvalidFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"tenant", "create", "--name", "Test", "--alias", "T1", "--area-code", "abc"},
			`tenant create: invalid --area-code "abc": must be 1 to 4 digits`},
		{[]string{"tenant", "create", "--name", "Test", "--alias", "T1", "--area-code", "12345"},
			`invalid --area-code "12345": must be 1 to 4 digits`},
		{[]string{"tenant", "create", "--name", "Test", "--alias", "T-1"},
			`invalid --alias "T-1": must be 2 to 10 letters or digits`},
		{[]string{"tenant", "create", "--alias", "T1"}, "tenant create: --name is required"},
		{[]string{"tenant", "create", "--name", "Test"}, "tenant create: --alias is required"},
		{[]string{"tenant", "create", "--name", "United", "States", "--alias", "US"},
			`tenant create: unexpected argument "States"`},
		{[]string{"tenant", "drop", "--alias", "US"}, "tenant drop: --confirm is required"},
		{[]string{"tenant", "refresh"}, "tenant refresh: --alias is required"},
		{[]string{"user", "create", "--email", "a@example.com"}, "user create: --name is required"},
		{[]string{"migrate", "--log-level", "bogus"}, `migrate: invalid --log-level "bogus": must be debug, info, warn or error`},
		{[]string{"demo", "--log-format", "xml"}, `invalid --log-format "xml": must be text or json`},
		{[]string{"migrate", "--parallel", "-3"}, `migrate: invalid --parallel "-3": must be at least 1`},
		{[]string{"migrate", "--parallel", "0"}, `migrate: invalid --parallel "0": must be at least 1`},
		{[]string{"migrate", "--ddl-lock-timeout", "0s"}, `invalid --ddl-lock-timeout "0s": must be from 1ms to 24h`},
		{[]string{"migrate", "--ddl-lock-timeout", "500us"}, `invalid --ddl-lock-timeout "500µs": must be from 1ms to 24h`},
		{[]string{"serve", "--max-depth", "-1"}, `serve: invalid --max-depth "-1": must be at least 1`},
		{[]string{"serve", "--max-body-bytes", "0"}, `serve: invalid --max-body-bytes "0": must be at least 1`},
		{[]string{"serve", "--max-schemas", "0"}, `invalid --max-schemas "0": must be at least 1`},
		{[]string{"serve", "--statement-timeout", "-1s"}, `invalid --statement-timeout "-1s": must be from 1ms to 24h`},
		{[]string{"serve", "--check-interval", "0s"}, `invalid --check-interval "0s": must be at least 1s`},
		{[]string{"serve", "--auth-cache-ttl", "-1m"}, `invalid --auth-cache-ttl "-1m0s": must not be negative`},
		{[]string{"serve", "--listen-addr", "8080"}, `invalid --listen-addr "8080": must be host:port`},
		{[]string{"serve", "--listen-addr", "127.0.0.1:70000"}, `must end in a port from 1 to 65535`},
		{[]string{"serve", "--listen-addr", "127.0.0.1:0"}, `must end in a port from 1 to 65535`},
		{[]string{"serve", "--public-url", "graph.example.com"}, `invalid --public-url "graph.example.com": must be an absolute http:// or https:// URL`},
		{[]string{"serve", "--public-url", "ftp://graph.example.com"}, `must be an absolute http:// or https:// URL`},
		{[]string{"serve", "--oidc-issuer", ""}, `invalid --oidc-issuer "": must be an absolute http:// or https:// URL`},
		{[]string{"serve", "--base-domain", "https://example.com"}, `invalid --base-domain "https://example.com": must be a domain name`},
		{[]string{"serve", "--base-domain", "example.com:8080"}, `must be a domain name like example.com`},
		{[]string{"serve", "--admin-emails", "a@example.com, bob"}, `invalid --admin-emails "a@example.com, bob": "bob" is not an email`},
		{[]string{"serve", "--database-url", ""}, "serve: invalid --database-url: must be a postgres:// URL or key=value pairs, not empty"},
		{[]string{"serve", "--database-url", "mysql://root:hunter2@db/app"}, "serve: invalid --database-url: must be a postgres:// or postgresql:// URL"},
		{[]string{"serve", "--database-url", "postgres://root:hunter2@db:5x/app"}, "serve: invalid --database-url: must be a postgres:// URL or key=value pairs: "},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			args := tt.args
			if !containsFlag(args, "--database-url") {
				args = append(args, "--database-url", unreachableDB)
			}
			var out, errOut bytes.Buffer
			err := run(context.Background(), args, strings.NewReader(""), &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run = %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q repeats the password", err)
			}
			if out.Len() > 0 {
				t.Errorf("stdout %q, want nothing: the command must not start", out.String())
			}
		})
	}
}

func containsFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name {
			return true
		}
	}
	return false
}

// The environment is the process's, so these subtests do not run in
// parallel with anything.
func TestRun_InvalidEnv(t *testing.T) {
	tests := []struct {
		env, value string
		args       []string
		want       string
	}{
		{"MAX_DEPTH", "-1", []string{"serve"}, `serve: invalid MAX_DEPTH="-1" (for --max-depth): must be at least 1`},
		{"MAX_DEPTH", "abc", []string{"serve"}, `serve: invalid MAX_DEPTH="abc" (for --max-depth): must be a whole number`},
		{"MAX_BODY_BYTES", "0", []string{"serve"}, `invalid MAX_BODY_BYTES="0" (for --max-body-bytes): must be at least 1`},
		{"STATEMENT_TIMEOUT", "5", []string{"serve"}, `invalid STATEMENT_TIMEOUT="5" (for --statement-timeout): must be a duration like 500ms, 2s or 1m`},
		{"LOG_LEVEL", "bogus", []string{"demo"}, `demo: invalid LOG_LEVEL="bogus" (for --log-level): must be debug, info, warn or error`},
		{"DATABASE_URL", "mysql://root:hunter2@db/app", []string{"migrate"}, `migrate: invalid DATABASE_URL (for --database-url): must be a postgres:// or postgresql:// URL`},
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			t.Setenv(tt.env, tt.value)
			args := tt.args
			if tt.env != "DATABASE_URL" {
				t.Setenv("DATABASE_URL", unreachableDB)
			}
			var out, errOut bytes.Buffer
			err := run(context.Background(), args, strings.NewReader(""), &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run = %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q repeats the password", err)
			}
		})
	}
}

func TestFlagSet_Parse(t *testing.T) {
	parse := func(t *testing.T, args ...string) Config {
		t.Helper()
		cfg := DefaultConfig()
		fs := newFlagSet("serve", &bytes.Buffer{})
		cfg.bindServe(fs)
		if err := fs.parse(args); err != nil {
			t.Fatalf("parse %v: %v", args, err)
		}
		return cfg
	}

	t.Run("OK", func(t *testing.T) {
		cfg := parse(t, "--max-depth", "3", "--statement-timeout", "250ms", "--listen-addr", ":9000",
			"--public-url", "https://graph.example.com/api", "--base-domain", ".Example.com",
			"--admin-emails", "a@example.com, b@example.com,", "--log-level", "WARN")
		if cfg.MaxDepth != 3 || cfg.StatementTimeout != 250*time.Millisecond || cfg.ListenAddr != ":9000" {
			t.Errorf("config %+v does not hold the flags' values", cfg)
		}
	})

	t.Run("EnvReplacesDefault", func(t *testing.T) {
		t.Setenv("MAX_DEPTH", "7")
		t.Setenv("CHECK_INTERVAL", "2m")
		t.Setenv("LISTEN_ADDR", "") // empty counts as unset
		cfg := parse(t)
		if cfg.MaxDepth != 7 || cfg.CheckInterval != 2*time.Minute {
			t.Errorf("MaxDepth, CheckInterval = %d, %s; want 7, 2m from the environment", cfg.MaxDepth, cfg.CheckInterval)
		}
		if want := DefaultConfig().ListenAddr; cfg.ListenAddr != want {
			t.Errorf("ListenAddr = %q, want the default %q", cfg.ListenAddr, want)
		}
	})

	t.Run("FlagWinsOverEnv", func(t *testing.T) {
		// The variable's value is wrong, but the command line replaces it.
		t.Setenv("MAX_DEPTH", "-1")
		cfg := parse(t, "--max-depth", "4")
		if cfg.MaxDepth != 4 {
			t.Errorf("MaxDepth = %d, want 4 from the flag", cfg.MaxDepth)
		}
	})
}
