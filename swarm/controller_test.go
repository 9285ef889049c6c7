package swarm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"go.uber.org/zap"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/internal/hammer"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/swarm"
)

// harness is a controller of a runtime: swarm source on a real git
// repository and the test's swarm.
type harness struct {
	t      *testing.T
	repo   *testkit.Repo
	state  string
	ledger *ledger.Ledger
	ctl    *controller.Controller
	source string
	// configure, when set, changes the source before the controller is
	// built.
	configure func(*config.Source)
}

func newHarness(t *testing.T, source string) *harness {
	t.Helper()
	h := &harness{t: t, repo: testkit.NewRepo(t), state: t.TempDir(), source: source}
	l, err := ledger.Open(filepath.Join(h.state, "ledger.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	h.ledger = l
	return h
}

// start builds the controller once the repository has a commit.
func (h *harness) start() {
	src := config.Source{Name: h.source, Repo: h.repo.Dir, Ref: "main", Runtime: config.RuntimeSwarm, Timeout: 3 * time.Minute}
	if h.configure != nil {
		h.configure(&src)
	}
	h.ctl = controller.New(src, h.state, nil, h.ledger, zap.NewNop())
	h.ctl.Swarm = engine(h.t)
	h.ctl.Swarm.UpdateTimeout = 2 * time.Minute
}

func (h *harness) commit(msg string, files map[string]string) string {
	h.t.Helper()
	for p, content := range files {
		if content == "" {
			h.repo.Remove(p)
		} else {
			h.repo.Write(p, content)
		}
	}
	return "main@sha1:" + h.repo.Commit(msg)
}

func (h *harness) apply() (*controller.Outcome, error) {
	h.t.Helper()
	if h.ctl == nil {
		h.start()
	}
	return h.ctl.Apply(h.t.Context())
}

func (h *harness) records() []ledger.Record {
	h.t.Helper()
	recs, _, err := ledger.Read(filepath.Join(h.state, "ledger.jsonl"))
	if err != nil {
		h.t.Fatal(err)
	}
	return recs
}

// webStack is a stack whose web service serves VERSION on an attachable
// overlay network, with a config and a secret, updated start-first. It
// is resolved by DNS round robin (endpoint_mode: dnsrr): the engine in
// the test sandbox has no IPVS, so a service's virtual IP (and the
// ingress routing mesh) does not route; task addresses do.
func webStack(img, version string) string {
	return `
services:
  web:
    image: ` + img + `
    environment: {VERSION: "` + version + `"}
    networks: [front]
    volumes: [data:/data]
    configs: [{source: site, target: /etc/site.conf}]
    secrets: [token]
    healthcheck: {test: ["CMD", "/testapp", "health"], interval: 1s, timeout: 2s, retries: 2}
    stop_grace_period: 5s
    deploy:
      replicas: 2
      endpoint_mode: dnsrr
      update_config: {order: start-first, monitor: 3s}
networks:
  front: {attachable: true}
volumes:
  data: {}
configs:
  site: {content: "version ` + version + `"}
secrets:
  token: {file: ./token.txt}
`
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestSwarmStackLifecycle deploys a stack (services, an overlay network,
// a config, a secret) from git, shows it to docker stack ps and services,
// updates it under load with no failed request, puts back a service
// changed and one removed by hand, and prunes a stack removed from git,
// never touching a container moor does not own.
func TestSwarmStackLifecycle(t *testing.T) {
	cli := testkit.Swarm(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	other := stack + "-b"
	testkit.CleanupSwarmStack(t, stack)
	testkit.CleanupSwarmStack(t, other)
	bystander := testkit.Unrelated(t, stack)
	h := newHarness(t, "swarmsrc")

	rev1 := h.commit("release 1", map[string]string{
		stack + "/compose.yaml": webStack(img, "1"),
		stack + "/token.txt":    "s3cret\n",
		other + "/compose.yaml": "services:\n  worker:\n    image: " + img + "\n",
	})
	out, err := h.apply()
	if err != nil {
		t.Fatalf("release 1: %v\n%s", err, out.Plan)
	}
	wantPlan := strings.Join([]string{
		"create network " + stack + "_front (missing)",
		"create network " + other + "_default (missing)",
		"create config " + stack + "_site-",
		"create secret " + stack + "_token-",
		"create service " + stack + "_web (missing)",
		"create service " + other + "_worker (missing)",
	}, "\n")
	for _, line := range strings.Split(wantPlan, "\n") {
		if !strings.Contains(out.Plan.String(), line) {
			t.Errorf("release 1's plan lacks %q:\n%s", line, out.Plan)
		}
	}
	if rem := out.Remaining.String(); rem != "" {
		t.Errorf("after release 1, the plan is not empty:\n%s", rem)
	}
	st, err := controller.ReadStatus(h.state, h.source)
	if err != nil || st.Applied != rev1 || st.Result == "" {
		t.Fatalf("status after release 1: %v %+v", err, st)
	}
	var states []string
	for _, sr := range h.ctl.Report().Services {
		states = append(states, fmt.Sprintf("%s/%s %s %d/%d", sr.Stack, sr.Service, sr.State, sr.Up, sr.Replicas))
	}
	slices.Sort(states)
	if want := []string{other + "/worker in-sync 1/1", stack + "/web in-sync 2/2"}; !slices.Equal(states, want) {
		t.Errorf("status services: %q, want %q", states, want)
	}
	if recs := h.records(); len(recs) != 1 || recs[0].Revision != rev1 || len(recs[0].Ops) != 6 {
		t.Errorf("ledger after release 1: %+v", recs)
	}

	// docker stack sees moor's stack.
	if ls := docker(t, "stack", "ls"); !strings.Contains(ls, stack+" ") {
		t.Errorf("docker stack ls does not list %s:\n%s", stack, ls)
	}
	if svcs := docker(t, "stack", "services", stack, "--format", "{{.Name}} {{.Replicas}}"); strings.TrimSpace(svcs) != stack+"_web 2/2" {
		t.Errorf("docker stack services %s: %q, want %s_web 2/2", stack, svcs, stack)
	}
	ps := docker(t, "stack", "ps", stack, "--filter", "desired-state=running", "--format", "{{.Name}} {{.CurrentState}}")
	if n := strings.Count(ps, "Running"); n != 2 {
		t.Errorf("docker stack ps %s shows %d running tasks, want 2:\n%s", stack, n, ps)
	}

	// Release 2 under load: not one request fails.
	hb := startHammer(t, cli, stack+"_front", "http://web:8080/")
	hb.waitRequests(100)
	rev2 := h.commit("release 2", map[string]string{stack + "/compose.yaml": webStack(img, "2")})
	out, err = h.apply()
	if err != nil {
		t.Fatalf("release 2: %v\n%s", err, out.Plan)
	}
	want := "update service " + stack + "_web (config changed: configs, environment) [start-first, rollback on failure]"
	if !strings.Contains(out.Plan.String(), want) || !strings.Contains(out.Plan.String(), "remove config "+stack+"_site-") {
		t.Errorf("release 2's plan: want %q and the old config removed:\n%s", want, out.Plan)
	}
	logOps(t, out)
	hb.waitRequests(hb.requests() + 200)
	sum := hb.stop()
	t.Logf("the hammer saw %+v", sum)
	if sum.Failed != 0 {
		t.Errorf("%d of %d requests failed during the update: %q", sum.Failed, sum.Requests, sum.Errors)
	}
	if sum.Versions["1"] == 0 || sum.Versions["2"] == 0 {
		t.Errorf("versions served: %v; want 1 then 2", sum.Versions)
	}
	if st, _ := controller.ReadStatus(h.state, h.source); st.Applied != rev2 {
		t.Errorf("status after release 2: applied %s, want %s", st.Applied, rev2)
	}
	if cfgs := docker(t, "config", "ls", "--filter", "label=com.docker.stack.namespace="+stack, "--format", "{{.Name}}"); strings.Count(cfgs, "\n") != 1 {
		t.Errorf("configs of %s after release 2: want only the new one:\n%s", stack, cfgs)
	}

	// Drift: an environment changed by hand, a service removed by hand.
	docker(t, "service", "update", "--detach", "--env-add", "VERSION=hand", stack+"_web")
	docker(t, "service", "rm", other+"_worker")
	out, err = h.apply()
	if err != nil {
		t.Fatalf("repair: %v\n%s", err, out.Plan)
	}
	for _, want := range []string{
		"create service " + other + "_worker (missing)",
		"update service " + stack + "_web (changed by hand: environment) [start-first, rollback on failure]",
	} {
		if !strings.Contains(out.Plan.String(), want) {
			t.Errorf("repair plan lacks %q:\n%s", want, out.Plan)
		}
	}
	if rem := out.Remaining.String(); rem != "" {
		t.Errorf("after the repair, the plan is not empty:\n%s", rem)
	}

	// The stack removed from git is pruned: services, network, config,
	// secret; the other stack and the bystander stay.
	h.commit("drop the web stack", map[string]string{stack + "/compose.yaml": "", stack + "/token.txt": ""})
	out, err = h.apply()
	if err != nil {
		t.Fatalf("prune: %v\n%s", err, out.Plan)
	}
	for _, want := range []string{
		"remove service " + stack + "_web (stack removed from git)",
		"remove network " + stack + "_front (stack removed from git)",
		"remove config " + stack + "_site-",
		"remove secret " + stack + "_token-",
	} {
		if !strings.Contains(out.Plan.String(), want) {
			t.Errorf("prune plan lacks %q:\n%s", want, out.Plan)
		}
	}
	f := client.Filters{}.Add("label", "com.docker.stack.namespace="+stack)
	if l, _ := cli.ServiceList(t.Context(), client.ServiceListOptions{Filters: f}); len(l.Items) != 0 {
		t.Errorf("%d services of the removed stack remain", len(l.Items))
	}
	if l, _ := cli.NetworkList(t.Context(), client.NetworkListOptions{Filters: f}); len(l.Items) != 0 {
		t.Errorf("%d networks of the removed stack remain", len(l.Items))
	}
	if l, _ := cli.ConfigList(t.Context(), client.ConfigListOptions{Filters: f}); len(l.Items) != 0 {
		t.Errorf("%d configs of the removed stack remain", len(l.Items))
	}
	if l, _ := cli.SecretList(t.Context(), client.SecretListOptions{Filters: f}); len(l.Items) != 0 {
		t.Errorf("%d secrets of the removed stack remain", len(l.Items))
	}
	if l, _ := cli.VolumeList(t.Context(), client.VolumeListOptions{Filters: f}); len(l.Items) != 1 || l.Items[0].Name != stack+"_data" {
		t.Errorf("volumes of the removed stack: %+v; want %s_data kept (prune.volumes is off)", l.Items, stack)
	}
	if svcs := docker(t, "stack", "services", other, "--format", "{{.Name}}"); strings.TrimSpace(svcs) != other+"_worker" {
		t.Errorf("the other stack: %q", svcs)
	}
	testkit.AssertAlive(t, bystander)
}

// hammerBox runs the test app's hammer in a container on a stack's
// attachable overlay network.
type hammerBox struct {
	t   *testing.T
	cli *client.Client
	id  string
}

func startHammer(t *testing.T, cli *client.Client, network, url string) *hammerBox {
	t.Helper()
	created, err := cli.ContainerCreate(t.Context(), client.ContainerCreateOptions{
		Config: &container.Config{Image: testkit.TestImage(t), Cmd: []string{"hammer", url},
			Labels: map[string]string{testkit.LabelOwner: network}},
		HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(network)},
	})
	if err != nil {
		t.Fatalf("create hammer: %v", err)
	}
	t.Cleanup(func() {
		cli.ContainerRemove(context.Background(), created.ID, client.ContainerRemoveOptions{Force: true})
	})
	if _, err := cli.ContainerStart(t.Context(), created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start hammer: %v", err)
	}
	return &hammerBox{t: t, cli: cli, id: created.ID}
}

func (h *hammerBox) logs() (stdout, stderr string) {
	rc, err := h.cli.ContainerLogs(context.Background(), h.id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "all"})
	if err != nil {
		h.t.Fatalf("hammer logs: %v", err)
	}
	defer rc.Close()
	var out, errb bytes.Buffer
	stdcopy.StdCopy(&out, &errb, rc)
	return out.String(), errb.String()
}

// requests is how many requests the hammer reported, to the last hundred.
func (h *hammerBox) requests() int {
	_, stderr := h.logs()
	n := 0
	for _, line := range strings.Split(stderr, "\n") {
		var r, f int
		if _, err := fmtSscanf(line, &r, &f); err == nil {
			n = r
		}
	}
	return n
}

func (h *hammerBox) waitRequests(n int) {
	h.t.Helper()
	testkit.Eventually(h.t, 60*time.Second, "the hammer's requests", func() bool { return h.requests() >= n })
}

func (h *hammerBox) stop() hammer.Summary {
	h.t.Helper()
	timeout := 10
	if _, err := h.cli.ContainerStop(h.t.Context(), h.id, client.ContainerStopOptions{Signal: "SIGTERM", Timeout: &timeout}); err != nil {
		h.t.Fatalf("stop hammer: %v", err)
	}
	stdout, stderr := h.logs()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var sum hammer.Summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		h.t.Fatalf("hammer summary %q: %v\n%s", stdout, err, stderr)
	}
	return sum
}

var _ = swarm.ErrRolledBack

func fmtSscanf(line string, r, f *int) (int, error) {
	i := strings.Index(line, "hammer: requests=")
	if i < 0 {
		return 0, errNoProgress
	}
	return fmt.Sscanf(line[i:], "hammer: requests=%d failed=%d", r, f)
}

var errNoProgress = errors.New("no progress line")

// TestSwarmFailedUpdateRolledBack commits an image whose healthcheck
// fails: Swarm rolls the update back (update_config failure_action:
// rollback, moor's default), moor reports the revision failed in its
// result, ledger and status, the old version keeps serving, and the
// failure is held, not retried on the next poll. A new commit deploys.
func TestSwarmFailedUpdateRolledBack(t *testing.T) {
	cli := testkit.Swarm(t)
	img := testkit.TestImage(t)
	bad := testkit.EnvImage(t, "unhealthy", map[string]string{"UNHEALTHY": "1"})
	stack := testkit.StackName(t)
	testkit.CleanupSwarmStack(t, stack)
	h := newHarness(t, "swarmsrc")
	files := func(image, version string) map[string]string {
		return map[string]string{stack + "/compose.yaml": webStack(image, version), stack + "/token.txt": "s3cret\n"}
	}
	h.commit("release 1", files(img, "1"))
	if out, err := h.apply(); err != nil {
		t.Fatalf("release 1: %v\n%s", err, out.Plan)
	}
	hb := startHammer(t, cli, stack+"_front", "http://web:8080/")
	hb.waitRequests(100)

	rev2 := h.commit("release 2, unhealthy", files(bad, "2"))
	out, err := h.apply()
	if err == nil {
		t.Fatalf("release 2 applied without error:\n%s", out.Plan)
	}
	logOps(t, out)
	if !strings.Contains(err.Error(), "update rolled back by Swarm") {
		t.Errorf("release 2's error does not say Swarm rolled it back: %v", err)
	}
	recs := h.records()
	last := recs[len(recs)-1]
	var rolled bool
	for _, op := range last.Ops {
		rolled = rolled || op.Result == "rolled-back" && strings.HasPrefix(op.Op, "update service "+stack+"_web")
	}
	if last.Revision != rev2 || last.Result == "success" || !rolled {
		t.Errorf("ledger: want release 2 failed with the update rolled back: %+v", last)
	}
	st, err := controller.ReadStatus(h.state, h.source)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := st.Failures[stack+"/web"]; !ok || f.Revision != rev2 || st.Applied == rev2 {
		t.Errorf("status: want %s/web failed at release 2: %+v", stack, st)
	}
	if rep := h.ctl.Report(); len(rep.Services) != 1 || rep.Services[0].State != controller.StateDegraded {
		t.Errorf("status services after the rollback: want %s/web degraded: %+v", stack, rep.Services)
	}
	svc, err := cli.ServiceInspect(t.Context(), stack+"_web", client.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.Service.Spec.TaskTemplate.ContainerSpec.Image; got != img {
		t.Errorf("after the rollback the service runs %s, want %s", got, img)
	}

	// The next poll holds the failed update instead of trying it again.
	out, err = h.apply()
	if err == nil || !strings.Contains(out.Plan.String(), "held "+stack+"/web") || len(out.Plan.Ops) != 0 {
		t.Errorf("the poll after the failure: want the update held, nothing done: %v\n%s", err, out.Plan)
	}
	hb.waitRequests(hb.requests() + 100)
	sum := hb.stop()
	t.Logf("the hammer saw %+v", sum)
	if sum.Failed != 0 || sum.Versions["2"] != 0 || sum.Versions["1"] == 0 {
		t.Errorf("while release 2 failed: %d of %d requests failed, versions %v; want all served by 1", sum.Failed, sum.Requests, sum.Versions)
	}

	// A new commit resets the hold, and deploys.
	rev3 := h.commit("release 3, fixed", files(img, "3"))
	if out, err := h.apply(); err != nil {
		t.Fatalf("release 3: %v\n%s", err, out.Plan)
	}
	if st, _ := controller.ReadStatus(h.state, h.source); st.Applied != rev3 || len(st.Failures) != 0 {
		t.Errorf("status after release 3: %+v", st)
	}
}

// logOps logs how long each op of the run took.
func logOps(t *testing.T, out *controller.Outcome) {
	for _, r := range out.Result.Ops {
		t.Logf("%s: %s", r.Op, r.Duration.Round(time.Millisecond))
	}
}

// TestSwarmSuspendedStackWaits: a suspended stack's update waits, shown
// in the plan and not applied, until the stack is resumed.
func TestSwarmSuspendedStackWaits(t *testing.T) {
	cli := testkit.Swarm(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupSwarmStack(t, stack)
	h := newHarness(t, "swarmsrc")
	compose := func(version string) map[string]string {
		return map[string]string{stack + "/compose.yaml": "services:\n  web:\n    image: " + img + "\n    environment: {VERSION: \"" + version + "\"}\n"}
	}
	h.commit("release 1", compose("1"))
	if out, err := h.apply(); err != nil {
		t.Fatalf("release 1: %v\n%s", err, out.Plan)
	}
	if err := h.ctl.Suspend(stack, "an operator"); err != nil {
		t.Fatal(err)
	}
	h.commit("release 2", compose("2"))
	out, _ := h.apply()
	want := "hold update service " + stack + "_web (config changed: environment) [start-first, rollback on failure]: "
	if len(out.Plan.Ops) != 0 || !strings.Contains(out.Plan.String(), want) {
		t.Errorf("plan of a suspended stack: want no ops and %q:\n%s", want, out.Plan)
	}
	env := func() []string {
		svc, err := cli.ServiceInspect(t.Context(), stack+"_web", client.ServiceInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return svc.Service.Spec.TaskTemplate.ContainerSpec.Env
	}
	if got := env(); !slices.Equal(got, []string{"VERSION=1"}) {
		t.Errorf("the suspended service's environment changed: %q", got)
	}
	if err := h.ctl.Resume(stack); err != nil {
		t.Fatal(err)
	}
	if out, err := h.apply(); err != nil {
		t.Fatalf("after resume: %v\n%s", err, out.Plan)
	}
	if got := env(); !slices.Equal(got, []string{"VERSION=2"}) {
		t.Errorf("after resume, the environment is %q, want VERSION=2", got)
	}
}

// TestSwarmDriftReported: under drift: report, a service changed by hand
// at the applied revision is reported, not repaired, until an operator's
// apply repairs it.
func TestSwarmDriftReported(t *testing.T) {
	testkit.Swarm(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupSwarmStack(t, stack)
	h := newHarness(t, "swarmsrc")
	h.configure = func(s *config.Source) { s.Drift = config.DriftReport }
	h.commit("release 1", map[string]string{stack + "/compose.yaml": "services:\n  web:\n    image: " + img + "\n"})
	if out, err := h.apply(); err != nil {
		t.Fatalf("release 1: %v\n%s", err, out.Plan)
	}
	docker(t, "service", "scale", "--detach", stack+"_web=2")
	out, _ := h.apply()
	want := "drift update service " + stack + "_web (changed by hand: deploy.mode) [start-first, rollback on failure]\n"
	if len(out.Plan.Ops) != 0 || !strings.Contains(out.Plan.String(), want) {
		t.Errorf("plan under drift: report: want no ops and %q:\n%s", want, out.Plan)
	}
	if got := docker(t, "service", "ls", "--filter", "name="+stack+"_web", "--format", "{{.Replicas}}"); !strings.HasSuffix(strings.TrimSpace(got), "/2") {
		t.Errorf("the reported drift was repaired: replicas %q", got)
	}
	h.ctl.Explicit = true // moor apply
	if out, err := h.apply(); err != nil || len(out.Plan.Ops) != 1 || out.Remaining.String() != "" {
		t.Errorf("moor apply: want the drift repaired: %v\n%s", err, out.Plan)
	}
}

// TestSwarmLeavesOthersServices: a service made by hand under the name a
// stack wants makes the stack a conflict; the service is not changed.
func TestSwarmLeavesOthersServices(t *testing.T) {
	cli := testkit.Swarm(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupSwarmStack(t, stack)
	docker(t, "service", "create", "--detach", "--name", stack+"_web", "--label", "com.docker.stack.namespace="+stack, "--env", "VERSION=hand", img)
	h := newHarness(t, "swarmsrc")
	h.commit("release 1", map[string]string{stack + "/compose.yaml": "services:\n  web:\n    image: " + img + "\n    environment: {VERSION: \"1\"}\n"})
	out, err := h.apply()
	want := "conflict " + stack + " (service " + stack + "_web is not moor's (deployed by docker stack deploy or by hand))\n"
	if err == nil || len(out.Plan.Ops) != 0 || !strings.Contains(out.Plan.String(), want) {
		t.Errorf("want the stack a conflict and nothing done: %v\n%s", err, out.Plan)
	}
	svc, err := cli.ServiceInspect(t.Context(), stack+"_web", client.ServiceInspectOptions{})
	if err != nil || !slices.Equal(svc.Service.Spec.TaskTemplate.ContainerSpec.Env, []string{"VERSION=hand"}) || svc.Service.UpdatedAt != svc.Service.CreatedAt {
		t.Errorf("the hand-made service changed: %v %+v", err, svc.Service.Spec.TaskTemplate.ContainerSpec.Env)
	}
}
