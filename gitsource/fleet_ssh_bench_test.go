package gitsource_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/moor-dev/moor/gitsource"
	"github.com/moor-dev/moor/internal/scalerepo"
	"github.com/moor-dev/moor/internal/testkit"
)

// BenchmarkFleetSSH is BenchmarkFleet's polls and one host's fetch of a
// new commit over SSH: OpenSSH's sshd (testkit.SSHD, git-shell) behind a
// TCP proxy that counts bytes. The server's CPU is sshd's: its own and
// that of its finished children (the per-connection sshd processes,
// git-upload-pack, pack-objects), read from /proc. Recorded in
// BENCHMARKS.md ("Scale: many stacks, many hosts").
//
//	go test -run '^$' -bench FleetSSH -benchtime 5x ./gitsource/
//
// Poll/at-once also reports the polls that failed (failed/op): sshd
// drops unauthenticated connections beyond its MaxStartups (10:30:100 by
// default).
func BenchmarkFleetSSH(b *testing.B) {
	hosts := benchEnv("MOOR_BENCH_HOSTS", 100)
	l := scalerepo.Layout{Stacks: benchEnv("MOOR_BENCH_STACKS", 1000)}
	repo := testkit.NewRepo(b)
	if err := scalerepo.Write(repo.Dir, l); err != nil {
		b.Fatal(err)
	}
	repo.Commit(fmt.Sprintf("%d stacks", l.Stacks))
	bare := filepath.FromSlash(strings.TrimPrefix(repo.Bare(), "file://"))
	if out, err := exec.Command("git", "-C", bare, "repack", "-a", "-d", "-q").CombinedOutput(); err != nil {
		b.Fatalf("repack: %v\n%s", err, out)
	}
	srv := testkit.SSHD(b)
	sshd := childNamed(b, "sshd")
	proxy := countingProxy(b, srv.Addr())
	url := fmt.Sprintf("ssh://%s@%s%s", srv.User, proxy.addr, filepath.ToSlash(bare))
	kh := filepath.Join(b.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(proxy.addr)}, srv.HostKey)+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	auth, err := gitsource.Credentials{SSHKeyFile: srv.ClientKeyFile, KnownHostsFile: kh}.Method(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	sources := make([]*gitsource.Source, hosts)
	for i := range sources {
		sources[i] = newSource(b, url, "main")
		sources[i].Auth = auth
	}
	// A connection's sshd process counts in sshd's CPU once sshd reaped
	// it, just after the client is done.
	settled := func(b *testing.B) {
		testkit.Eventually(b, 10*time.Second, "sshd's connections ended", func() bool { return !hasChild(sshd) })
	}
	measure := func() func(b *testing.B, n int, what string) {
		settled(b)
		in, out, cpu := proxy.in.Load(), proxy.out.Load(), procCPU(b, sshd)
		return func(b *testing.B, n int, what string) {
			settled(b)
			u := serverUse{in: proxy.in.Load() - in, out: proxy.out.Load() - out, cpu: procCPU(b, sshd) - cpu}
			u.report(b, n, what)
		}
	}

	b.Run("Poll/one", func(b *testing.B) {
		report := measure()
		for b.Loop() {
			if _, err := sources[0].Resolve(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
		report(b, b.N, "poll")
	})

	b.Run(fmt.Sprintf("Poll/at-once-%d", hosts), func(b *testing.B) {
		report := measure()
		var lat []time.Duration
		failed := 0
		for b.Loop() {
			var mu sync.Mutex
			var wg sync.WaitGroup
			for _, s := range sources {
				wg.Go(func() {
					start := time.Now()
					_, err := s.Resolve(b.Context())
					took := time.Since(start)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						failed++
						return
					}
					lat = append(lat, took)
				})
			}
			wg.Wait()
		}
		report(b, len(lat), "poll") // per poll that succeeded
		reportLatency(b, lat)
		b.ReportMetric(float64(failed)/float64(b.N), "failed/op")
	})

	// One host's fetch of a new commit, as moor run does it: Checkout,
	// then IsAncestor of the revision it had.
	n := 0 // commits made, over every run of the sub-benchmark
	b.Run("Commit/one", func(b *testing.B) {
		s := sources[0]
		old, err := s.Resolve(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		report := measure()
		for b.Loop() {
			b.StopTimer()
			n++
			if _, err := scalerepo.Change(repo.Dir, l, n*37%l.Stacks, n); err != nil {
				b.Fatal(err)
			}
			head := repo.Commit("change")
			repo.Push() // to the bare repository's path: not through sshd
			b.StartTimer()
			if _, err := s.Checkout(b.Context(), gitsource.Revision{Ref: "main", Commit: head}); err != nil {
				b.Fatal(err)
			}
			if ok, err := s.IsAncestor(b.Context(), old.Commit, head); err != nil || !ok {
				b.Fatalf("IsAncestor(%s, %s) = %v, %v; want true", old.Commit, head, ok, err)
			}
			old = gitsource.Revision{Ref: "main", Commit: head}
		}
		report(b, b.N, "commit")
	})
}

// hasChild reports whether process pid has a child process.
func hasChild(pid int) bool {
	dirs, _ := os.ReadDir("/proc")
	parent := strconv.Itoa(pid)
	for _, d := range dirs {
		if p, err := strconv.Atoi(d.Name()); err == nil {
			if f := statFields(p); len(f) > 2 && f[2] == parent {
				return true
			}
		}
	}
	return false
}

// childNamed returns the pid of this process's child whose command is
// name.
func childNamed(b *testing.B, name string) int {
	b.Helper()
	self := strconv.Itoa(os.Getpid())
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		f := statFields(pid)
		if len(f) > 2 && f[0] == "("+name+")" && f[2] == self {
			return pid
		}
	}
	b.Fatalf("no child process %s of %s", name, self)
	return 0
}

// statFields returns /proc/PID/stat from its command on, split by spaces
// (the command of sshd holds none).
func statFields(pid int) []string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(stat)
	return strings.Fields(s[strings.Index(s, " ")+1:])
}

// procCPU returns the CPU time of process pid and of its finished
// children (utime, stime, cutime, cstime), at clock-tick resolution.
func procCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	f := statFields(pid)
	if len(f) < 15 {
		b.Fatalf("/proc/%d/stat: %v", pid, f)
	}
	var ticks int64
	for _, i := range []int{12, 13, 14, 15} { // utime stime cutime cstime, from the command on
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			b.Fatalf("/proc/%d/stat field %d: %v", pid, i, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ is 100 on Linux
}

// tcpProxy forwards connections to an address and counts the bytes.
type tcpProxy struct {
	addr    string
	in, out countingTotals
}

type countingTotals struct {
	mu sync.Mutex
	n  int64
}

func (c *countingTotals) Add(n int64) {
	c.mu.Lock()
	c.n += n
	c.mu.Unlock()
}

func (c *countingTotals) Load() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func countingProxy(b *testing.B, target string) *tcpProxy {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p := &tcpProxy{addr: ln.Addr().String()}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c, target)
		}
	}()
	return p
}

func (p *tcpProxy) forward(c net.Conn, target string) {
	defer c.Close()
	t, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer t.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(t, countingReader{c, &p.in})
		_ = t.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	_, _ = io.Copy(c, countingReader{t, &p.out})
	_ = c.(*net.TCPConn).CloseWrite()
	<-done
}

// countingReader counts the bytes read before they are passed on.
type countingReader struct {
	r io.Reader
	n *countingTotals
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n.Add(int64(n))
	return n, err
}
