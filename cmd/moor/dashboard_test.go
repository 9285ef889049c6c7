package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/moor-dev/moor/internal/testkit"
)

var updateScreenshots = flag.Bool("update-screenshots", os.Getenv("MOOR_UPDATE_SCREENSHOTS") != "",
	"write the dashboard's screenshots to docs/img/ ($MOOR_UPDATE_SCREENSHOTS)")

// dashboardStack is one service whose health check answers 500 when
// unhealthy.
func dashboardStack(img, version string, unhealthy bool) string {
	env := ""
	if unhealthy {
		env = "\n      UNHEALTHY: \"1\""
	}
	return fmt.Sprintf(`services:
  web:
    image: %s
    environment:
      VERSION: "%s"%s
    healthcheck:
      test: ["CMD", "/testapp", "health"]
      interval: 1s
      retries: 2
    restart: unless-stopped
`, img, version, env)
}

// browser starts a headless Chromium for the test, with a modest
// viewport (the screenshots are committed).
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := testkit.Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1000, 720))
	ctx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancel := chromedp.NewContext(ctx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	return ctx
}

// act runs steps in the browser, within a minute.
func act(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Location())
		t.Fatalf("%s: %v (at %s)", what, err, loc)
	}
}

// screenshot captures the browser's viewport as a PNG, and writes it to
// docs/img/NAME with -update-screenshots.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s is no PNG", name)
	}
	if *updateScreenshots {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "img", name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDashboardInBrowser drives the dashboard of a real `moor run` in
// Chromium: anonymous on loopback it shows the state but no actions and no
// output; after login with the API token it follows a failed rollout to
// what the health check printed, and its "Sync now" deploys a new commit
// (which a POST without the session cannot).
func TestDashboardInBrowser(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	bystander := testkit.Unrelated(t, stack)
	ctx := browser(t)

	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", dashboardStack(img, "1", false))
	repo.Commit("web: v1")
	// A remote repository, polled hourly: only "Sync now" deploys (a
	// local one would be watched, and deploy every commit at once).
	root := t.TempDir()
	bare := filepath.Join(root, "deploy.git")
	repo.Git("clone", "--quiet", "--bare", repo.Dir, bare)
	git := testkit.GitHTTP(t, root, "", "")
	dir := t.TempDir()
	const token = "0123456789abcdef0123456789abcdef"
	os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600)
	port := testkit.FreePort(t)
	state := filepath.Join(dir, "state")
	runFromConfig(t, `state_dir: %s
listen: 127.0.0.1:%d
api:
  token_file: %s
sources:
  - name: %s
    repo: %s
    interval: 1h
`, state, port, filepath.Join(dir, "token"), stack, git.URL("deploy.git"))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	web := stack + "-web-1"
	testkit.Eventually(t, 60*time.Second, "v1 deployed", func() bool {
		st := runStatus(t, state, stack)
		return st != nil && st.Applied != "" && containers(t, cli, stack)[web] != ""
	})

	// A page reload that reports whether js holds.
	reload := func(js string) bool {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if chromedp.Do(ctx, chromedp.Navigate(base+"/")) != nil {
			return false
		}
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		return err == nil && ok
	}
	// Whether js holds on the page as it is.
	now := func(js string) bool {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		return err == nil && ok
	}
	has := func(sel string) string { return fmt.Sprintf("document.querySelector(%q) !== null", sel) }

	// Anonymous, on loopback: the state, no actions.
	if !reload(has("#login-link")) || !reload(has(".service .in-sync")) {
		t.Fatal("the anonymous page lacks the login link or the in-sync service")
	}
	if reload(has("button.sync")) {
		t.Fatal("the anonymous page offers Sync now")
	}

	// An unhealthy commit; a sync without the session is refused.
	repo.Write(stack+"/compose.yaml", dashboardStack(img, "2", true))
	bad := repo.Commit("web: v2, unhealthy")
	repo.Git("push", "--quiet", bare, "main")
	res, err := http.PostForm(base+"/sync", url.Values{"source": {stack}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("POST /sync without a session: %s, want 403", res.Status)
	}

	// Log in with the token, and sync.
	act(t, ctx, "log in", chromedp.Navigate(base+"/"), chromedp.Click(chromedp.CSS("#login-link")))
	act(t, ctx, "log in", chromedp.WaitVisible(chromedp.CSS("#token")), chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#login")))
	// The form's answer takes the browser to the page, logged in; a
	// navigation before it would cancel the login.
	testkit.Eventually(t, 30*time.Second, "logged in: Sync now offered", func() bool { return now(has("button.sync")) })
	act(t, ctx, "sync", chromedp.Click(chromedp.CSS("button.sync")))
	testkit.Eventually(t, 30*time.Second, "the sync asked for", func() bool { return now(has("#message")) })

	// The rollout fails; the page leads from the service to its output.
	testkit.Eventually(t, 90*time.Second, "the failed rollout of v2 on the page", func() bool {
		return reload(has(".service .degraded") + " && " + has("a.to-failure"))
	})
	act(t, ctx, "follow the failure to its output", chromedp.Click(chromedp.CSS("a.to-failure")))
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	held, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(".held:target")))
	if err != nil {
		t.Fatalf("follow the failure to its output: %v", err)
	}
	if !strings.Contains(held, "main@"+bad[:7]) || !strings.Contains(held, `health check said: "health: status 500"`) {
		t.Errorf("the held failure: %q, want its revision and what the health check printed", held)
	}
	screenshot(t, ctx, "dashboard-failure.png")

	// Without the token, the same page withholds that output.
	_, anon, err := testkit.HTTPGet(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(anon, "status 500") || !strings.Contains(anon, "(withheld)") {
		t.Errorf("the anonymous page does not withhold the output:\n%s", anon)
	}

	// A fixed commit, deployed by Sync now.
	repo.Write(stack+"/compose.yaml", dashboardStack(img, "3", false))
	good := repo.Commit("web: v3, healthy again")
	repo.Git("push", "--quiet", bare, "main")
	before := containers(t, cli, stack)[web]
	act(t, ctx, "sync v3", chromedp.Navigate(base+"/"), chromedp.Click(chromedp.CSS("button.sync")))
	testkit.Eventually(t, 30*time.Second, "the sync of v3 asked for", func() bool { return now(has("#message")) })
	testkit.Eventually(t, 90*time.Second, "v3 applied, shown on the page", func() bool {
		return reload(fmt.Sprintf("document.querySelector('.applied').textContent.includes(%q)", "main@"+good[:7])) &&
			reload(has(".service .in-sync"))
	})
	if id := containers(t, cli, stack)[web]; id == before || id == "" {
		t.Errorf("%s after v3: %q (was %q), want a new container", web, id, before)
	}
	act(t, ctx, "load the page", chromedp.Navigate(base+"/"))
	screenshot(t, ctx, "dashboard.png")
	testkit.AssertAlive(t, bystander)
}
