package testkit

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// SMTPServer is a real SMTP server on 127.0.0.1 that accepts every mail
// and keeps it: Python's standard-library smtpd debugging server (Python
// 3.11 and older; python3 is in .ci/run's install list).
type SMTPServer struct {
	Port int
	mu   sync.Mutex
	out  bytes.Buffer
}

// SMTP starts an SMTP server until the test ends. A missing python3 or
// smtpd module is a skip locally and a failure in CI.
func SMTP(t testing.TB) *SMTPServer {
	t.Helper()
	if err := exec.Command("python3", "-c", "import smtpd").Run(); err != nil {
		skipOrFail(t, fmt.Errorf("an SMTP server (python3 with the smtpd module, Python 3.11 or older): %w", err))
	}
	s := &SMTPServer{Port: FreePort(t)}
	cmd := exec.Command("python3", "-u", "-W", "ignore", "-m", "smtpd", "-n", "-c", "DebuggingServer", fmt.Sprintf("127.0.0.1:%d", s.Port))
	cmd.Stdout, cmd.Stderr = s, s
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	Eventually(t, 20*time.Second, "the SMTP server listening", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return s
}

func (s *SMTPServer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

// Received is every mail the server got, headers and bodies, as it
// printed them.
func (s *SMTPServer) Received() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}
