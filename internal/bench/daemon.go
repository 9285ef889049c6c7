package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// daemon is a `moor run` process and what its JSON log says: a run that
// changed something logs "applied", one that failed "run failed" (once,
// until its error changes); a no-op logs nothing at info.
type daemon struct {
	cmd  *exec.Cmd
	done chan error

	mu      sync.Mutex
	applies []applyLine
	tail    []string // the last lines of the log, for errors
}

type applyLine struct {
	at     time.Time
	result string
	err    string
	// stages are the run's stages as moor logs them, in milliseconds.
	stages map[string]float64
}

// startDaemon runs moor with args, talking to the engine at dockerHost.
func (b *bench) startDaemon(dockerHost string, args ...string) (*daemon, error) {
	d := &daemon{done: make(chan error, 1)}
	d.cmd = exec.Command(b.moor, args...)
	d.cmd.Env = append(os.Environ(), "DOCKER_HOST="+dockerHost)
	d.cmd.Dir = b.work
	logs, err := d.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	d.cmd.Stdout = io.Discard
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moor run: %w", err)
	}
	go d.read(logs)
	return d, nil
}

func (d *daemon) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var entry struct {
			Msg    string             `json:"msg"`
			Error  string             `json:"error"`
			Stages map[string]float64 `json:"stages_ms"`
		}
		json.Unmarshal([]byte(line), &entry)
		d.mu.Lock()
		switch entry.Msg {
		case "applied":
			d.applies = append(d.applies, applyLine{at: time.Now(), result: "success", stages: entry.Stages})
		case "run failed":
			d.applies = append(d.applies, applyLine{at: time.Now(), result: "failed", err: entry.Error})
		}
		d.tail = append(d.tail, line)
		if len(d.tail) > 50 {
			d.tail = d.tail[1:]
		}
		d.mu.Unlock()
	}
	d.done <- d.cmd.Wait()
}

// applied returns how many applies moor logged so far.
func (d *daemon) applied() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.applies)
}

// waitApplied waits until moor logged more than n applies and returns the
// last one, which must be a success.
func (d *daemon) waitApplied(ctx context.Context, n int, timeout time.Duration) (applyLine, error) {
	var last applyLine
	err := poll(ctx, timeout, 10*time.Millisecond, func() (bool, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if len(d.applies) <= n {
			return false, nil
		}
		last = d.applies[len(d.applies)-1]
		if last.result != "success" {
			return false, fmt.Errorf("apply %s: %s", last.result, last.err)
		}
		return true, nil
	})
	if err != nil {
		return last, fmt.Errorf("moor run: %w\n%s", err, d.log())
	}
	return last, nil
}

func (d *daemon) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.tail, "\n")
}

// stop sends SIGTERM, waits for moor to stop, and kills it after 30s.
func (d *daemon) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
	}
}

// procStat is what /proc says about a process.
type procStat struct {
	rss, hwm int64 // bytes
	cpu      time.Duration
}

// readProc reads VmRSS and VmHWM from /proc/PID/status and utime+stime from
// /proc/PID/stat.
func readProc(pid int) (procStat, error) {
	var ps procStat
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ps, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		kb, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			ps.rss = kb << 10
		case "VmHWM":
			ps.hwm = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ps, err
	}
	// The command name, in parentheses, may hold spaces: count fields after
	// its closing parenthesis. utime and stime are fields 14 and 15.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return ps, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return ps, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return ps, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ps.cpu = time.Duration(utime+stime) * time.Second / time.Duration(clockTicks())
	return ps, nil
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times.
var clockTicks = sync.OnceValue(func() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
})
