package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/jmoiron/sqlx"

	"tenantgraph/identity"
	"tenantgraph/tenancy"
	"tenantgraph/tenancy/tenancytest"
)

// chromiumPath is Debian's Chromium; `make test` installs it. Nothing here
// downloads a browser.
const chromiumPath = "/usr/bin/chromium"

// TestBrowser_GraphiQL drives GraphiQL in Chromium as an administrator
// would: sign in, add a field with a mutation, query it and find it in the
// documentation, all without reloading the page. Set
// TENANTGRAPH_SCREENSHOTS to a directory to keep a screenshot of each step;
// a failing run always leaves one and logs where.
func TestBrowser_GraphiQL(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("this test drives Chromium at %s, which is missing: "+
			"install it with `apt-get install -y chromium` (make test does): %v", chromiumPath, err)
	}
	a := newTestApp(t, nil)
	tn := tenancytest.NewTenant(t, a.DB)
	admin := a.newUser(t, "graphiql", identity.RoleAdmin, "")

	// One row, so that the query has an item to show the new field on.
	err := tenancy.InTx(context.Background(), a.DB, tn.Namespace, tenancy.TxOptions{}, func(tx *sqlx.Tx) error {
		_, err := tx.Exec(`INSERT INTO toyota (model) VALUES ('Corolla')`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	base := "/country/" + url.PathEscape(tn.Alias)
	pagePath := base + "/graphiql"

	// A browser opening the GraphQL URL itself is sent to sign in and
	// brought back to it, where it gets GraphiQL.
	req := a.browser(t).newRequest("GET", base+"/graphql", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	resp, _ := a.browser(t).do(req)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/login?return="+url.QueryEscape(base+"/graphql") {
		t.Fatalf("GET %s/graphql as a page: status %d, Location %q; want 303 to sign-in", base, resp.StatusCode, loc)
	}

	b := startChromium(t, a.URL)

	b.step("open GraphiQL signed out",
		chromedp.Navigate(a.URL+pagePath),
		chromedp.WaitVisible(chromedp.ID("email")),
	)
	if loc := b.location(); loc != a.URL+"/login?return="+url.QueryEscape(pagePath) {
		t.Fatalf("signed out, GraphiQL sent the browser to %s; want the sign-in page", loc)
	}
	b.step("fill in the sign-in form",
		chromedp.SendKeys(chromedp.ID("email"), admin.Email),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
	)
	if _, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.ID("signin"))); err != nil {
		b.fatalf("sign in: %v", err)
	}
	if loc := b.location(); loc != a.URL+pagePath {
		b.fatalf("after signing in the browser is at %s; want %s", loc, a.URL+pagePath)
	}

	// The documentation explorer lists the root types once GraphiQL has
	// the schema.
	b.step("load GraphiQL and its schema",
		chromedp.WaitVisible(chromedp.CSS(".graphiql-query-editor .monaco-editor")),
		chromedp.Click(chromedp.CSS(`button[aria-label="Show Documentation Explorer"]`)),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-doc-explorer-root-type")),
	)
	b.step("mark the page", b.eval(`window.tenantgraphNoReload = true`))
	b.shot("loaded")

	b.step("run createExtra",
		b.typeQuery(`mutation { createExtra(input: {brand: "toyota", name: "trim_level", displayName: "Trim level", type: CHAR, required: true, default: "base"}) { id name } }`),
		chromedp.Click(chromedp.CSS(".graphiql-execute-button")),
	)
	b.waitText("the mutation's result", ".result-window", `"name": "trim_level"`)
	b.shot("created")

	b.step("run the query", b.typeQuery(`{ toyotaList { items { id trim_level } } }`),
		chromedp.Click(chromedp.CSS(".graphiql-execute-button")),
	)
	b.waitText("the query's result", ".result-window", `"trim_level": "base"`)
	b.shot("queried")

	// Only a schema fetched again after the mutation has the field.
	b.step("search the docs", chromedp.SendKeys(chromedp.CSS(".graphiql-doc-explorer-search-input input"), "trim_level"))
	b.waitText("the field in the docs search", `[data-cy="doc-explorer-list"]`, "Toyota.trim_level")
	b.step("open the field's docs", chromedp.Click(chromedp.JSPath(
		`[...document.querySelectorAll('[data-cy="doc-explorer-list"] [role="option"]')].find(o => o.innerText.includes('Toyota.trim_level'))`)))
	b.waitText("the field's documentation", ".graphiql-doc-explorer", "Trim level")
	b.shot("docs")

	b.waitText("the query editor, kept", ".graphiql-query-editor", "toyotaList")
	if ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.tenantgraphNoReload === true`)); err != nil || !ok {
		b.fatalf("the page was reloaded (marker %v, %v)", ok, err)
	}

	// The admin API has its GraphiQL too, with editors of its own.
	b.step("open the admin GraphiQL",
		chromedp.Navigate(a.URL+"/admin/graphiql"),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-query-editor .monaco-editor")),
		chromedp.Click(chromedp.CSS(`button[aria-label="Show Documentation Explorer"]`)),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-doc-explorer-root-type")),
	)
	b.shot("admin")
	if text, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector(".graphiql-query-editor").innerText`)); err != nil || strings.Contains(text, "toyotaList") {
		b.fatalf("the admin GraphiQL shows the country's query (%v):\n%s", err, text)
	}
	b.checkPolicy()
}

// chromium is a headless Chromium tab on the server at origin, with what
// the tab did that the test checks at the end.
type chromium struct {
	t      *testing.T
	ctx    context.Context
	origin string
	shots  string

	mu       sync.Mutex
	requests int
	offHost  []string
	problems []string
}

// startChromium starts a fresh Chromium that keeps nothing and fetches
// nothing on its own. Its steps share one deadline; a failed test leaves a
// screenshot behind.
func startChromium(t *testing.T, origin string) *chromium {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
	})
	b := &chromium{t: t, origin: origin, shots: os.Getenv("TENANTGRAPH_SCREENSHOTS")}
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	if err := chromedp.Listen(browserCtx, b.record); err != nil {
		t.Fatalf("listen to Chromium: %v", err)
	}

	// About 10 s on an idle machine; the rest is room for a busy one.
	ctx, cancel := context.WithTimeout(browserCtx, 90*time.Second)
	t.Cleanup(cancel)
	b.ctx = ctx
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		sctx, cancel := context.WithTimeout(browserCtx, 10*time.Second)
		defer cancel()
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Logf("no screenshot: %v", err)
			return
		}
		dir := b.shots
		if dir == "" {
			dir = os.TempDir()
		}
		name := filepath.Join(dir, fmt.Sprintf("%s-%d-failed.png", t.Name(), time.Now().Unix()))
		if err := os.WriteFile(name, png, 0o644); err != nil {
			t.Logf("no screenshot: %v", err)
			return
		}
		t.Logf("screenshot of the failure: %s", name)
	})
	return b
}

// record notes requests to other hosts, Content-Security-Policy
// violations and uncaught exceptions. It runs on chromedp's reading
// goroutine, so it only appends.
func (b *chromium) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests++
		u := ev.Request.URL
		if !strings.HasPrefix(u, b.origin+"/") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "blob:") {
			b.offHost = append(b.offHost, u)
		}
	case *cdplog.EventEntryAdded:
		if strings.Contains(ev.Entry.Text, "Content Security Policy") {
			b.problems = append(b.problems, "CSP: "+ev.Entry.Text)
		}
	case *runtime.EventConsoleAPICalled:
		for _, arg := range ev.Args {
			if strings.Contains(string(arg.Value), "Content Security Policy") {
				b.problems = append(b.problems, "CSP: "+string(arg.Value))
			}
		}
	case *runtime.EventExceptionThrown:
		b.problems = append(b.problems, "uncaught: "+(&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
	}
}

// checkPolicy fails the test if the page fetched from another host, broke
// its Content-Security-Policy or threw.
func (b *chromium) checkPolicy() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.requests == 0 {
		b.t.Error("Chromium reported no requests: the checks below see nothing")
	}
	for _, u := range b.offHost {
		b.t.Errorf("the page fetched from another host: %s", u)
	}
	for _, p := range b.problems {
		b.t.Errorf("page: %s", p)
	}
}

func (b *chromium) fatalf(format string, args ...any) {
	b.t.Helper()
	b.t.Fatalf(format, args...)
}

// step runs actions, failing the test with what it was doing.
func (b *chromium) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.fatalf("%s: %v", what, err)
	}
}

func (b *chromium) eval(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](js)
}

func (b *chromium) location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.fatalf("read the location: %v", err)
	}
	return loc
}

// typeQuery replaces the query editor's text as a person would: focus it,
// select all, delete and type. The text goes in as one insertion, so Monaco's
// auto-closing brackets and suggestions don't add to it.
func (b *chromium) typeQuery(q string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Focus(chromedp.CSS(".graphiql-query-editor .monaco-editor textarea")),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		// Typing "{" over a selection would wrap it in braces.
		chromedp.KeyEvent(kb.Backspace),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: q})
			return err
		}),
	)
}

// waitText waits until the element sel shows want. Monaco draws spaces as
// no-break spaces, which count as spaces here.
func (b *chromium) waitText(what, sel, want string) {
	b.t.Helper()
	text := fmt.Sprintf(`(document.querySelector(%q)?.innerText ?? "").replace(/\u00a0/g, " ")`, sel)
	_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](text+`.includes(`+fmt.Sprintf("%q", want)+`)`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		got, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](text))
		b.fatalf("%s: %s never showed %q (%v); it shows:\n%s", what, sel, want, err, got)
	}
}

// shot saves a screenshot of the step when TENANTGRAPH_SCREENSHOTS names a
// directory.
func (b *chromium) shot(step string) {
	if b.shots == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(b.shots, step+".png"), png, 0o644)
	}
	if err != nil {
		b.t.Logf("screenshot %s: %v", step, err)
	}
}
