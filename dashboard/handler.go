package dashboard

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/ledger"
)

// Config is what a dashboard shows and acts on.
type Config struct {
	Sources []Source
	// Runs reads the ledger's records; nil: no runs are shown.
	Runs func() ([]ledger.Record, error)
	// Token is the API token (api.token_file); nil: nobody can log in,
	// and there are no actions.
	Token []byte
	// Open: the listen address is a loopback one (Loopback), and the
	// pages may be read without the token (output withheld). Elsewhere
	// every page but the login form needs the token.
	Open bool
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// RunsShown is how many of each source's last runs the page lists.
const RunsShown = 10

// maxForm bounds a form's body: a token or a source and a service name.
const maxForm = 4 << 10

//go:embed templates/*.html
var files embed.FS

// pages are the templates, parsed at the first page served: every moor
// command links this package, and most never serve a page.
var pages = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{
		"short":  shortRev,
		"ago":    ago,
		"when":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"dict":   func(p view, s SourceView) sourceData { return sourceData{Page: p, Source: s} },
		"anchor": anchor,
		"dur":    func(d time.Duration) string { return d.Round(time.Millisecond).String() },
		"rev":    func(rev, url string) revLink { return revLink{Rev: rev, URL: url} },
	}).ParseFS(files, "templates/*.html"))
})

// Handler serves the dashboard:
//
//	GET  /        every source, stack and service, held failures, last runs
//	GET  /login   the login form; POST /login takes the token
//	POST /logout  ends the session
//	POST /sync    runs a source now (Trigger)
//	POST /retry   retries a held service now (Retry)
//
// The actions need a session (the login form) and its CSRF token.
type Handler struct {
	cfg  Config
	sess *sessions
	mux  *http.ServeMux
}

// New builds the dashboard's handler.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, sess: &sessions{now: cfg.Now, by: map[[32]byte]*session{}}, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /{$}", h.page)
	h.mux.HandleFunc("GET /login", h.loginForm)
	h.mux.HandleFunc("POST /login", h.login)
	h.mux.HandleFunc("POST /logout", h.logout)
	h.mux.HandleFunc("POST /sync", h.action(h.sync))
	h.mux.HandleFunc("POST /retry", h.action(h.retry))
	h.mux.HandleFunc("POST /suspend", h.action(h.suspend))
	h.mux.HandleFunc("POST /resume", h.action(h.resume))
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin") // no-referrer would make browsers send "Origin: null" with the forms
	h.mux.ServeHTTP(w, r)
}

// view is the data of the page template.
type view struct {
	Overview
	Now      time.Time
	LoggedIn bool
	CSRF     string
	HasToken bool
	Open     bool
	Message  string
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	se := h.sess.of(r)
	full := se != nil || bearer(r, h.cfg.Token)
	if !full && !h.cfg.Open {
		if h.cfg.Token == nil {
			h.render(w, http.StatusForbidden, "login.html", loginView{NoToken: true})
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	now := h.cfg.Now()
	var recs []ledger.Record
	var ledgerErr error
	if h.cfg.Runs != nil {
		recs, ledgerErr = h.cfg.Runs()
	}
	v := view{Overview: Collect(h.cfg.Sources, recs, RunsShown, full, now), Now: now,
		LoggedIn: se != nil, HasToken: h.cfg.Token != nil, Open: h.cfg.Open}
	if ledgerErr != nil {
		v.LedgerError = ledgerErr.Error()
	}
	if se != nil {
		v.CSRF = se.csrf
	}
	v.Message = h.message(r)
	h.render(w, http.StatusOK, "page.html", v)
}

// message is what the redirect after an action says was done; only names
// of sources and held services are shown.
func (h *Handler) message(r *http.Request) string {
	q := r.URL.Query()
	if src := q.Get("synced"); src != "" && h.source(src) != nil {
		return "Asked " + src + " to run now."
	}
	for _, done := range []string{"suspended", "resumed"} {
		if stack, ok := q[done]; ok && h.source(q.Get("source")) != nil {
			what := q.Get("source")
			if stack[0] != "" {
				what = "stack " + stack[0] + " of " + what
			}
			return strings.ToUpper(done[:1]) + done[1:] + " " + what + "."
		}
	}
	if svc, src := q.Get("retried"), q.Get("source"); svc != "" && h.source(src) != nil {
		if rep := h.source(src).Report(); rep != nil && rep.Status != nil {
			if _, ok := rep.Failures[svc]; ok {
				return "Asked " + src + " to retry " + svc + " now."
			}
		}
	}
	return ""
}

type loginView struct {
	NoToken bool
	Wrong   bool
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, http.StatusOK, "login.html", loginView{NoToken: h.cfg.Token == nil})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if h.cfg.Token == nil {
		h.render(w, http.StatusForbidden, "login.html", loginView{NoToken: true})
		return
	}
	if !equal(strings.TrimSpace(r.PostForm.Get("token")), h.cfg.Token) {
		h.render(w, http.StatusUnauthorized, "login.html", loginView{Wrong: true})
		return
	}
	http.SetCookie(w, sessionCookie(r, h.sess.start(), int(SessionTTL/time.Second)))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	// No CSRF check: the worst another site can do is log the user out,
	// and SameSite=Strict keeps even that from it.
	h.sess.end(r)
	http.SetCookie(w, sessionCookie(r, "", -1))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// action wraps an action's handler: it needs a session, the session's
// CSRF token in the form, and a request from the dashboard's own origin.
func (h *Handler) action(do func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r) {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		se := h.sess.of(r)
		if se == nil {
			http.Error(w, "log in with the API token first (GET /login)", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		if !equal(r.PostForm.Get("csrf"), []byte(se.csrf)) {
			http.Error(w, "stale or missing form token: reload the page", http.StatusForbidden)
			return
		}
		do(w, r)
	}
}

func (h *Handler) source(name string) Source {
	for _, s := range h.cfg.Sources {
		if rep := s.Report(); rep != nil && rep.Status != nil && rep.Source == name {
			return s
		}
	}
	return nil
}

func (h *Handler) sync(w http.ResponseWriter, r *http.Request) {
	name := r.PostForm.Get("source")
	src := h.source(name)
	if src == nil {
		http.Error(w, "no such source", http.StatusNotFound)
		return
	}
	src.Trigger()
	http.Redirect(w, r, "/?synced="+url.QueryEscape(name), http.StatusSeeOther)
}

func (h *Handler) retry(w http.ResponseWriter, r *http.Request) {
	name, svc := r.PostForm.Get("source"), r.PostForm.Get("service")
	src := h.source(name)
	if src == nil {
		http.Error(w, "no such source", http.StatusNotFound)
		return
	}
	if err := src.Retry(svc); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, controller.ErrNotHeld) {
			code = http.StatusConflict
		}
		http.Error(w, err.Error(), code)
		return
	}
	http.Redirect(w, r, "/?source="+url.QueryEscape(name)+"&retried="+url.QueryEscape(svc), http.StatusSeeOther)
}

// suspend holds a source or one of its stacks, as moor suspend does,
// recorded as the dashboard's.
func (h *Handler) suspend(w http.ResponseWriter, r *http.Request) {
	h.hold(w, r, "suspended", func(src Source, stack string) error { return src.Suspend(stack, "dashboard") })
}

// resume ends a suspension of a source or one of its stacks.
func (h *Handler) resume(w http.ResponseWriter, r *http.Request) {
	h.hold(w, r, "resumed", func(src Source, stack string) error { return src.Resume(stack) })
}

func (h *Handler) hold(w http.ResponseWriter, r *http.Request, done string, do func(Source, string) error) {
	name, stack := r.PostForm.Get("source"), r.PostForm.Get("stack")
	src := h.source(name)
	if src == nil {
		http.Error(w, "no such source", http.StatusNotFound)
		return
	}
	if stack != "" && !knowsStack(src.Report(), stack) {
		http.Error(w, "no such stack", http.StatusNotFound)
		return
	}
	if err := do(src, stack); err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	q := url.Values{"source": {name}, done: {stack}}
	http.Redirect(w, r, "/?"+q.Encode(), http.StatusSeeOther)
}

// knowsStack reports whether the source's last run knew the stack: one of
// its services, a stack that did not load, or one suspended.
func knowsStack(rep *controller.SourceReport, stack string) bool {
	if rep == nil || rep.Status == nil {
		return false
	}
	for _, s := range rep.Services {
		if s.Stack == stack {
			return true
		}
	}
	if _, ok := rep.Broken[stack]; ok {
		return true
	}
	for _, s := range rep.Suspended {
		if s.Stack == stack {
			return true
		}
	}
	return false
}

// render executes a template into a buffer first, so that a failure is a
// 500 and not half a page.
func (h *Handler) render(w http.ResponseWriter, code int, name string, data any) {
	var b bytes.Buffer
	if err := pages().ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, "the page could not be rendered: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}
