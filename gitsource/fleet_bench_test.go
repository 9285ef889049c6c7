package gitsource_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/moor-dev/moor/gitsource"
	"github.com/moor-dev/moor/internal/githttp"
	"github.com/moor-dev/moor/internal/scalerepo"
	"github.com/moor-dev/moor/internal/testkit"
)

// BenchmarkFleet measures what a fleet of MOOR_BENCH_HOSTS hosts (default
// 100) following one repository of MOOR_BENCH_STACKS stacks (default
// 1,000; internal/scalerepo, with a history of 200 commits that each
// change one stack) costs the git server: a `git http-backend` behind a
// listener that counts the bytes of every connection. Every client is
// go-git in this process, so the CPU time of this process's finished
// children is the server's: http-backend, upload-pack and pack-objects
// (the CGI host, Go's net/http/cgi, runs in this process and is not
// counted). Recorded in BENCHMARKS.md ("Scale: many stacks, many hosts").
//
//	go test -run '^$' -bench Fleet -benchtime 5x ./gitsource/
//
// Poll/at-once: every host resolves the ref at the same moment (one
// ref listing each, as an unchanged poll of moor run); Poll/one: one host
// alone. Commit: after a commit that changes one stack, every host at once
// does what moor run does with it: Checkout (a depth-1 fetch of the ref
// into a new repository, written out as a snapshot), then IsAncestor of
// the revision it had (a depth-16 fetch), each reported on its own.
// Clone/full and Fetch/incremental are for comparison, one host: a full
// clone of the history, and the fetch of the new commit into a repository
// that kept everything it fetched before (what moor does not do).
func BenchmarkFleet(b *testing.B) {
	hosts := benchEnv("MOOR_BENCH_HOSTS", 100)
	l := scalerepo.Layout{Stacks: benchEnv("MOOR_BENCH_STACKS", 1000)}
	repo := testkit.NewRepo(b)
	if err := scalerepo.Write(repo.Dir, l); err != nil {
		b.Fatal(err)
	}
	repo.Commit(fmt.Sprintf("%d stacks", l.Stacks))
	changes := 0
	change := func() string {
		changes++
		if _, err := scalerepo.Change(repo.Dir, l, (changes*37)%l.Stacks, changes); err != nil {
			b.Fatal(err)
		}
		return repo.Commit(fmt.Sprintf("change %d", changes))
	}
	for range 200 {
		change()
	}
	bare := filepath.FromSlash(strings.TrimPrefix(repo.Bare(), "file://"))
	// A server's repository is packed; the commits of the benchmark
	// arrive by push, as they would.
	if out, err := exec.Command("git", "-C", bare, "repack", "-a", "-d", "-q").CombinedOutput(); err != nil {
		b.Fatalf("repack: %v\n%s", err, out)
	}
	srv := countingGitServer(b, filepath.Dir(bare))
	url := srv.url + "/" + filepath.Base(bare)
	pack := strings.TrimSpace(string(must(exec.Command("git", "-C", bare, "count-objects", "-vH").Output())))
	b.Logf("%d stacks, %d services, %d commits; %s", l.Stacks, l.Services(), changes+1, strings.ReplaceAll(pack, "\n", ", "))

	sources := make([]*gitsource.Source, hosts)
	for i := range sources {
		sources[i] = newSource(b, url, "main")
	}

	b.Run("Poll/one", func(b *testing.B) {
		m := srv.measure()
		for b.Loop() {
			if _, err := sources[0].Resolve(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
		m.report(b, b.N, "poll")
	})

	// A ref listing carries every branch and tag of the repository:
	// go-git speaks git's protocol v0/v1, whose ref advertisement the
	// server sends whole (protocol v2's ls-refs with a prefix would not).
	b.Run("Poll/one-with-1000-tags", func(b *testing.B) {
		var refs strings.Builder
		head := strings.TrimSpace(string(must(exec.Command("git", "-C", bare, "rev-parse", "main").Output())))
		for i := range 1000 {
			fmt.Fprintf(&refs, "create refs/tags/release-%04d %s\n", i, head)
		}
		upd := exec.Command("git", "-C", bare, "update-ref", "--stdin")
		upd.Stdin = strings.NewReader(refs.String())
		if out, err := upd.CombinedOutput(); err != nil {
			b.Fatalf("tags: %v\n%s", err, out)
		}
		b.Cleanup(func() {
			del := exec.Command("git", "-C", bare, "update-ref", "--stdin")
			del.Stdin = strings.NewReader(strings.ReplaceAll(refs.String(), "create ", "delete "))
			if out, err := del.CombinedOutput(); err != nil {
				b.Errorf("remove tags: %v\n%s", err, out)
			}
		})
		m := srv.measure()
		for b.Loop() {
			if _, err := sources[0].Resolve(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
		m.report(b, b.N, "poll")
	})

	b.Run(fmt.Sprintf("Poll/at-once-%d", hosts), func(b *testing.B) {
		m := srv.measure()
		var lat []time.Duration
		for b.Loop() {
			lat = append(lat, fanOut(b, sources, func(s *gitsource.Source) error {
				_, err := s.Resolve(b.Context())
				return err
			})...)
		}
		m.report(b, len(lat), "poll")
		reportLatency(b, lat)
	})

	b.Run(fmt.Sprintf("Commit/at-once-%d", hosts), func(b *testing.B) {
		old, err := sources[0].Resolve(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		// A host's snapshot of the old revision plays no part: Checkout
		// fetches into a new repository.
		var checkout, ancestry *serverUse
		var latCheckout, latAncestry []time.Duration
		for b.Loop() {
			b.StopTimer()
			head := change()
			repo.Push()
			rev := gitsource.Revision{Ref: "main", Commit: head}
			b.StartTimer()
			m := srv.measure()
			latCheckout = append(latCheckout, fanOut(b, sources, func(s *gitsource.Source) error {
				snap, err := s.Checkout(b.Context(), rev)
				if err == nil && snap.Revision.Commit != head {
					err = fmt.Errorf("checked out %s, want %s", snap.Revision.Commit, head)
				}
				return err
			})...)
			checkout = checkout.add(m.since())
			m = srv.measure()
			latAncestry = append(latAncestry, fanOut(b, sources, func(s *gitsource.Source) error {
				if ok, err := s.IsAncestor(b.Context(), old.Commit, head); err != nil || !ok {
					return fmt.Errorf("IsAncestor(%s, %s) = %v, %v; want true", old.Commit, head, ok, err)
				}
				return nil
			})...)
			ancestry = ancestry.add(m.since())
			b.StopTimer()
			for _, s := range sources {
				if err := s.Prune(map[string]bool{head: true}); err != nil {
					b.Fatal(err)
				}
			}
			old = rev
			b.StartTimer()
		}
		checkout.report(b, len(latCheckout), "checkout")
		ancestry.report(b, len(latAncestry), "ancestry")
		b.ReportMetric(percentile(latCheckout, 50), "checkout-p50-ms")
		b.ReportMetric(percentile(latCheckout, 100), "checkout-max-ms")
	})

	b.Run("Clone/full", func(b *testing.B) {
		m := srv.measure()
		for b.Loop() {
			if _, err := git.Clone(memory.NewStorage(), nil, &git.CloneOptions{URL: url, SingleBranch: true, Tags: git.NoTags}); err != nil {
				b.Fatal(err)
			}
		}
		m.report(b, b.N, "clone")
	})

	b.Run("Fetch/incremental", func(b *testing.B) {
		kept, err := git.Clone(memory.NewStorage(), nil, &git.CloneOptions{URL: url, SingleBranch: true, Tags: git.NoTags})
		if err != nil {
			b.Fatal(err)
		}
		var use *serverUse
		n := 0
		for b.Loop() {
			b.StopTimer()
			change()
			repo.Push()
			b.StartTimer()
			m := srv.measure()
			if err := kept.FetchContext(b.Context(), &git.FetchOptions{Tags: git.NoTags}); err != nil {
				b.Fatal(err)
			}
			use = use.add(m.since())
			n++
		}
		use.report(b, n, "fetch")
	})
}

// gitServer is git http-backend on 127.0.0.1 behind a listener that
// counts bytes.
type gitServer struct {
	url     string
	in, out atomic.Int64 // bytes read from clients, written to them
}

func countingGitServer(b *testing.B, root string) *gitServer {
	b.Helper()
	backend, err := githttp.Backend(root, os.Stderr)
	if err != nil {
		b.Skip(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &gitServer{url: "http://" + ln.Addr().String()}
	hs := &http.Server{Handler: backend}
	go hs.Serve(countingListener{Listener: ln, s: s})
	b.Cleanup(func() { hs.Close() })
	return s
}

type countingListener struct {
	net.Listener
	s *gitServer
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, s: l.s}, nil
}

type countingConn struct {
	net.Conn
	s *gitServer
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.s.in.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.s.out.Add(int64(n))
	return n, err
}

// serverUse is what the server spent between two points: bytes in and
// out, and the CPU time of the git processes it ran.
type serverUse struct {
	in, out int64
	cpu     time.Duration
}

type serverMark struct {
	s   *gitServer
	at  serverUse
	cpu time.Duration
}

func (s *gitServer) measure() *serverMark {
	return &serverMark{s: s, at: serverUse{in: s.in.Load(), out: s.out.Load()}, cpu: childrenCPU()}
}

func (m *serverMark) since() serverUse {
	return serverUse{in: m.s.in.Load() - m.at.in, out: m.s.out.Load() - m.at.out, cpu: childrenCPU() - m.cpu}
}

func (m *serverMark) report(b *testing.B, n int, what string) {
	u := m.since()
	u.report(b, n, what)
}

func (u *serverUse) add(v serverUse) *serverUse {
	if u == nil {
		u = &serverUse{}
	}
	u.in, u.out, u.cpu = u.in+v.in, u.out+v.out, u.cpu+v.cpu
	return u
}

// report reports the use per one of n requests of what: server CPU ms,
// KB sent to the client, KB received from it.
func (u *serverUse) report(b *testing.B, n int, what string) {
	if u == nil || n == 0 {
		return
	}
	b.ReportMetric(float64(u.cpu.Microseconds())/1000/float64(n), "server-cpu-ms/"+what)
	b.ReportMetric(float64(u.out)/1000/float64(n), "KB-sent/"+what)
	b.ReportMetric(float64(u.in)/1000/float64(n), "KB-received/"+what)
}

// childrenCPU is the user and system time of this process's finished
// children (and theirs).
func childrenCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fanOut runs do for every source at once and returns how long each took.
func fanOut(b *testing.B, sources []*gitsource.Source, do func(*gitsource.Source) error) []time.Duration {
	lat := make([]time.Duration, len(sources))
	errs := make([]error, len(sources))
	var wg sync.WaitGroup
	for i, s := range sources {
		wg.Go(func() {
			start := time.Now()
			errs[i] = do(s)
			lat[i] = time.Since(start)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return lat
}

func reportLatency(b *testing.B, lat []time.Duration) {
	for _, p := range []int{50, 90, 99, 100} {
		name := fmt.Sprintf("p%d-ms", p)
		if p == 100 {
			name = "max-ms"
		}
		b.ReportMetric(percentile(lat, p), name)
	}
}

// percentile returns the p-th percentile of lat in ms (nearest rank).
func percentile(lat []time.Duration, p int) float64 {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	i := max((len(s)*p+99)/100-1, 0)
	return float64(s[i].Microseconds()) / 1000
}

func benchEnv(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err != nil || n <= 0 {
		return def
	}
	return n
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
