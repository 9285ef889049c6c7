package swarm_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/reconcile"
)

// TestSwarmSignedCommits: a swarm source with verify.mode head deploys a
// commit signed by a trusted key, and an unsigned commit after it changes
// no service: the run is refused, naming the commit, and the service
// keeps the signed revision's spec. moor status shows the service from
// the state dir, as the last run saw it.
func TestSwarmSignedCommits(t *testing.T) {
	cli := testkit.Swarm(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupSwarmStack(t, stack)
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen is not installed")
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "release")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "release", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	signers := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(signers, []byte("release@example.com "+strings.TrimSpace(string(pub))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	h := newHarness(t, "swarmsigned")
	h.configure = func(s *config.Source) {
		s.Verify = config.Verify{Mode: config.VerifyHead, SSHAllowedSigners: signers}
	}
	write := func(version string) {
		h.repo.Write(stack+"/compose.yaml", "services:\n  web:\n    image: "+img+"\n    environment: {VERSION: \""+version+"\"}\n")
		h.repo.Git("add", "-A")
	}
	write("1")
	h.repo.Git("-c", "gpg.format=ssh", "-c", "user.signingkey="+key, "commit", "--quiet", "-S", "-m", "signed release 1")
	if out, err := h.apply(); err != nil {
		t.Fatalf("signed release 1: %v\n%s", err, out.Plan)
	}
	env := func() []string {
		svc, err := cli.ServiceInspect(t.Context(), stack+"_web", client.ServiceInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return svc.Service.Spec.TaskTemplate.ContainerSpec.Env
	}
	if got := env(); !slices.Equal(got, []string{"VERSION=1"}) {
		t.Fatalf("after the signed release: environment %q", got)
	}
	// moor status, a process of its own, shows the swarm's services as
	// the last run saw them.
	reports, err := controller.ReadReports(h.state, &reconcile.Observed{}, time.Now())
	if err != nil || len(reports) != 1 {
		t.Fatalf("ReadReports: %v, %d reports", err, len(reports))
	}
	var status bytes.Buffer
	controller.WriteReport(&status, reports, time.Now())
	if svc := reports[0].Services; len(svc) != 1 || svc[0].Service != "web" || svc[0].State != controller.StateInSync ||
		!strings.Contains(status.String(), stack+"_web") {
		t.Errorf("moor status of a swarm source: services %+v\n%s", svc, status.String())
	}

	write("2")
	unsigned := h.repo.Commit("unsigned release 2")
	_, err = h.apply()
	if !errors.Is(err, controller.ErrRefused) || !strings.Contains(err.Error(), unsigned[:12]) {
		t.Fatalf("unsigned commit: err = %v, want refused naming %s", err, unsigned[:12])
	}
	if got := env(); !slices.Equal(got, []string{"VERSION=1"}) {
		t.Errorf("an unsigned commit changed the service: environment %q", got)
	}
}
