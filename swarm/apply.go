package swarm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"
	"go.uber.org/zap"

	"github.com/moor-dev/moor/reconcile"
)

// ErrRolledBack is the error of an update that Swarm rolled back (or
// paused): the service runs its previous spec.
var ErrRolledBack = errors.New("update rolled back")

// Apply carries the plan out in the plan's order, phase by phase: the
// networks, configs and secrets it creates; then its services' creates
// and updates, up to Parallel at once; then the services it removes, as
// many at once; then the configs, secrets, networks and volumes it
// removes. It makes no decisions: an op whose Needs failed is skipped.
// The result lists every op in the plan's order; success is then what a
// new Observe shows.
func (e *Engine) Apply(ctx context.Context, d *Desired, p *reconcile.Plan) *reconcile.Result {
	res := &reconcile.Result{Ops: make([]reconcile.OpResult, len(p.Ops))}
	var mu sync.Mutex
	failed := map[string]error{}
	run := func(i int) {
		op := p.Ops[i]
		start := time.Now()
		r := reconcile.OpResult{Op: op}
		mu.Lock()
		for _, n := range op.Needs {
			if err, ok := failed[n]; ok {
				r.Err, r.Skipped = fmt.Errorf("skipped: %s failed: %w", n, err), true
				break
			}
		}
		mu.Unlock()
		if r.Err == nil {
			r.Err = e.do(ctx, d, op)
			r.RolledBack = errors.Is(r.Err, ErrRolledBack)
		}
		r.Duration = time.Since(start)
		if r.Err != nil {
			mu.Lock()
			failed[op.Resource] = r.Err
			mu.Unlock()
			e.Log.Warn("op failed", zap.String("op", op.String()), zap.Error(r.Err))
		} else {
			e.Log.Info("op done", zap.String("op", op.String()), zap.Duration("took", r.Duration))
		}
		res.Ops[i] = r
	}
	for _, phase := range []struct {
		kinds    []reconcile.OpKind
		parallel int
	}{
		{[]reconcile.OpKind{reconcile.OpCreateSwarmNetwork, reconcile.OpCreateConfig, reconcile.OpCreateSecret}, 1},
		{[]reconcile.OpKind{reconcile.OpCreateService, reconcile.OpUpdateService}, e.parallel()},
		{[]reconcile.OpKind{reconcile.OpRemoveService}, e.parallel()},
		{[]reconcile.OpKind{reconcile.OpRemoveConfig, reconcile.OpRemoveSecret, reconcile.OpRemoveSwarmNetwork, reconcile.OpRemoveSwarmVolume}, 1},
	} {
		slots := make(chan struct{}, phase.parallel)
		var wg sync.WaitGroup
		for i, op := range p.Ops {
			if !slices.Contains(phase.kinds, op.Kind) {
				continue
			}
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-slots; wg.Done() }()
				run(i)
			}()
		}
		wg.Wait()
	}
	return res
}

// DefaultParallel is how many services an apply creates, updates or
// removes at once, unless Engine.Parallel says otherwise.
const DefaultParallel = 4

func (e *Engine) parallel() int {
	if e.Parallel > 0 {
		return e.Parallel
	}
	return DefaultParallel
}

func (e *Engine) do(ctx context.Context, d *Desired, op reconcile.Op) error {
	st := d.Stacks[op.Stack]
	switch op.Kind {
	case reconcile.OpCreateSwarmNetwork:
		n := st.Networks[op.Resource]
		_, err := e.cli.NetworkCreate(ctx, n.Name, client.NetworkCreateOptions{Driver: n.Driver, Scope: "swarm",
			Attachable: n.Attachable, Internal: n.Internal, Labels: n.Labels, Options: n.DriverOpts})
		return e.created("network", n.Name, err)
	case reconcile.OpCreateConfig:
		o := st.Configs[op.Resource]
		_, err := e.cli.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{
			Annotations: swarm.Annotations{Name: o.Name, Labels: o.Labels}, Data: o.Data}})
		return e.created("config", o.Name, err)
	case reconcile.OpCreateSecret:
		o := st.Secrets[op.Resource]
		_, err := e.cli.SecretCreate(ctx, client.SecretCreateOptions{Spec: swarm.SecretSpec{
			Annotations: swarm.Annotations{Name: o.Name, Labels: o.Labels}, Data: o.Data}})
		return e.created("secret", o.Name, err)
	case reconcile.OpCreateService, reconcile.OpUpdateService:
		return e.deploy(ctx, st.Services[op.Service], op.Kind == reconcile.OpCreateService)
	case reconcile.OpRemoveService:
		return e.removeService(ctx, op.Resource)
	case reconcile.OpRemoveConfig, reconcile.OpRemoveSecret, reconcile.OpRemoveSwarmNetwork, reconcile.OpRemoveSwarmVolume:
		return e.removeObject(ctx, op.Kind, op.Resource)
	}
	return fmt.Errorf("%s: not a swarm op", op.Kind)
}

// created is nil for an object that exists already: a create is
// idempotent.
func (e *Engine) created(kind, name string, err error) error {
	if err == nil || isConflict(err) {
		return nil
	}
	return classify(fmt.Errorf("create %s %s: %w", kind, name, err))
}

// deploy creates or updates a service, then waits until Swarm has
// settled it and its tasks run the new spec (verify).
func (e *Engine) deploy(ctx context.Context, s *Service, create bool) error {
	spec := s.Spec
	if err := checkAPI(spec, e.cli.ClientVersion()); err != nil {
		return err
	}
	if err := e.resolveRefs(ctx, &spec); err != nil {
		return err
	}
	name := spec.Name
	if create {
		if _, err := e.cli.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec}); err != nil {
			if !isConflict(err) {
				return classify(fmt.Errorf("create service %s: %w", name, err))
			}
			create = false // made meanwhile: update it
		}
	}
	if !create {
		cur, err := e.cli.ServiceInspect(ctx, name, client.ServiceInspectOptions{})
		if err != nil {
			return classify(fmt.Errorf("inspect service %s: %w", name, err))
		}
		// The plan saw it as moor's, or not at all (a service made since,
		// or without the stack's label): only moor's own is updated.
		if have, want := ownershipOf(cur.Service.Spec.Labels), ownershipOf(spec.Labels); have != want {
			return fmt.Errorf("service %s exists and is not this source's (labels %s=%q, %s=%q): %w",
				name, labelSource, have.Source, labelOwner, have.Owner, reconcile.ErrConflict)
		}
		if _, err := e.cli.ServiceUpdate(ctx, cur.Service.ID, client.ServiceUpdateOptions{Version: cur.Service.Version, Spec: spec}); err != nil {
			return classify(fmt.Errorf("update service %s: %w", name, err))
		}
	}
	return e.settle(ctx, name, spec)
}

// resolveRefs sets the IDs of the configs and secrets spec names: Swarm
// wants both.
func (e *Engine) resolveRefs(ctx context.Context, spec *swarm.ServiceSpec) error {
	cs := spec.TaskTemplate.ContainerSpec
	if len(cs.Configs) == 0 && len(cs.Secrets) == 0 {
		return nil
	}
	c := *cs
	c.Configs, c.Secrets = nil, nil
	for _, r := range cs.Configs {
		f := client.Filters{}.Add("name", r.ConfigName)
		l, err := e.cli.ConfigList(ctx, client.ConfigListOptions{Filters: f})
		if err != nil {
			return classify(fmt.Errorf("find config %s: %w", r.ConfigName, err))
		}
		i := slices.IndexFunc(l.Items, func(x swarm.Config) bool { return x.Spec.Name == r.ConfigName })
		if i < 0 {
			return fmt.Errorf("config %s: %w", r.ConfigName, reconcile.ErrNotFound)
		}
		rr := *r
		rr.ConfigID = l.Items[i].ID
		c.Configs = append(c.Configs, &rr)
	}
	for _, r := range cs.Secrets {
		f := client.Filters{}.Add("name", r.SecretName)
		l, err := e.cli.SecretList(ctx, client.SecretListOptions{Filters: f})
		if err != nil {
			return classify(fmt.Errorf("find secret %s: %w", r.SecretName, err))
		}
		i := slices.IndexFunc(l.Items, func(x swarm.Secret) bool { return x.Spec.Name == r.SecretName })
		if i < 0 {
			return fmt.Errorf("secret %s: %w", r.SecretName, reconcile.ErrNotFound)
		}
		rr := *r
		rr.SecretID = l.Items[i].ID
		c.Secrets = append(c.Secrets, &rr)
	}
	spec.TaskTemplate.ContainerSpec = &c
	return nil
}

func (e *Engine) timeout() time.Duration {
	if e.UpdateTimeout > 0 {
		return e.UpdateTimeout
	}
	return 5 * time.Minute
}

func (e *Engine) poll() time.Duration {
	if e.Poll > 0 {
		return e.Poll
	}
	return 250 * time.Millisecond
}

// settle waits, within the update timeout, until Swarm is done with the
// service's update (completed, or rolled back, or paused), then until
// verify finds its tasks running the new spec and healthy.
func (e *Engine) settle(ctx context.Context, name string, want swarm.ServiceSpec) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout())
	defer cancel()
	tick := time.NewTicker(e.poll())
	defer tick.Stop()
	var last error
	for {
		s, err := e.cli.ServiceInspect(ctx, name, client.ServiceInspectOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("service %s did not settle within %s: %w", name, e.timeout(), last)
			}
			return classify(fmt.Errorf("inspect service %s: %w", name, err))
		}
		svc := s.Service
		state, msg := "", ""
		if u := svc.UpdateStatus; u != nil {
			state, msg = string(u.State), u.Message
		}
		switch swarm.UpdateState(state) {
		case swarm.UpdateStateRollbackCompleted:
			return fmt.Errorf("service %s: %w by Swarm: %s", name, ErrRolledBack, msg)
		case swarm.UpdateStatePaused, swarm.UpdateStateRollbackPaused:
			return fmt.Errorf("service %s: update %s by Swarm: %s: %w", name, state, msg, ErrRolledBack)
		case swarm.UpdateStateUpdating, swarm.UpdateStateRollbackStarted:
			last = fmt.Errorf("update %s: %s", state, msg)
		default: // completed, or a new service
			if last = e.verify(ctx, svc, want); last == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			return fmt.Errorf("service %s did not settle within %s: %w", name, e.timeout(), last)
		case <-tick.C:
		}
	}
}

// verify checks that every task Swarm wants running is running the
// desired image, environment and command, and healthy when its container
// has a healthcheck; and that there are as many as the service asks.
func (e *Engine) verify(ctx context.Context, svc swarm.Service, want swarm.ServiceSpec) error {
	f := client.Filters{}.Add("service", svc.ID).Add("desired-state", "running")
	tasks, err := e.cli.TaskList(ctx, client.TaskListOptions{Filters: f})
	if err != nil {
		return classify(fmt.Errorf("list tasks of %s: %w", want.Name, err))
	}
	wc := want.TaskTemplate.ContainerSpec
	running := 0
	var problems []string
	for _, t := range tasks.Items {
		tc := t.Spec.ContainerSpec
		if tc == nil || tc.Image != wc.Image || normalized(tc.Env) != normalized(wc.Env) || normalized(tc.Args) != normalized(wc.Args) || normalized(tc.Command) != normalized(wc.Command) {
			problems = append(problems, fmt.Sprintf("task %s runs an older spec", shortID(t.ID)))
			continue
		}
		if t.Status.State != swarm.TaskStateRunning {
			problems = append(problems, fmt.Sprintf("task %s is %s %s", shortID(t.ID), t.Status.State, strings.TrimSpace(t.Status.Err)))
			continue
		}
		if cs := t.Status.ContainerStatus; cs != nil && cs.ContainerID != "" {
			if health := e.health(ctx, cs.ContainerID); health != "" && health != string(container.Healthy) {
				problems = append(problems, fmt.Sprintf("task %s is %s", shortID(t.ID), health))
				continue
			}
		}
		running++
	}
	if r := want.Mode.Replicated; r != nil && r.Replicas != nil && uint64(running) < *r.Replicas {
		problems = append(problems, fmt.Sprintf("%d of %d tasks running the new spec", running, *r.Replicas))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// health is the health of a task's container on this node: "" when it has
// no healthcheck or is on another node (Swarm itself only starts a task
// that is healthy there).
func (e *Engine) health(ctx context.Context, id string) string {
	c, err := e.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil || c.Container.State == nil || c.Container.State.Health == nil {
		return ""
	}
	if s := c.Container.State.Health.Status; s != container.NoHealthcheck {
		return string(s)
	}
	return ""
}

// removeService removes a service and waits until its tasks' containers
// are gone, so that its networks, configs and secrets can go next.
func (e *Engine) removeService(ctx context.Context, name string) error {
	if _, err := e.cli.ServiceRemove(ctx, name, client.ServiceRemoveOptions{}); err != nil && !isNotFound(err) {
		return classify(fmt.Errorf("remove service %s: %w", name, err))
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout())
	defer cancel()
	f := client.Filters{}.Add("label", "com.docker.swarm.service.name="+name)
	for {
		l, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
		if err == nil && len(l.Items) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("remove service %s: its containers are still there after %s", name, e.timeout())
		case <-time.After(e.poll()):
		}
	}
}

// removeObject removes a network, config or secret, waiting while a task
// that is going away still holds it.
func (e *Engine) removeObject(ctx context.Context, k reconcile.OpKind, name string) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout())
	defer cancel()
	for {
		var err error
		switch k {
		case reconcile.OpRemoveConfig:
			_, err = e.cli.ConfigRemove(ctx, name, client.ConfigRemoveOptions{})
		case reconcile.OpRemoveSecret:
			_, err = e.cli.SecretRemove(ctx, name, client.SecretRemoveOptions{})
		case reconcile.OpRemoveSwarmVolume:
			_, err = e.cli.VolumeRemove(ctx, name, client.VolumeRemoveOptions{})
		default:
			_, err = e.cli.NetworkRemove(ctx, name, client.NetworkRemoveOptions{})
		}
		if err == nil || isNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return classify(fmt.Errorf("%s %s: %w", k, name, err))
		case <-time.After(e.poll()):
		}
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// checkAPI refuses a field the engine's API version does not know: the
// engine would drop it without a word.
func checkAPI(spec swarm.ServiceSpec, api string) error {
	if hc := spec.TaskTemplate.ContainerSpec.Healthcheck; hc != nil && hc.StartInterval > 0 && versions.LessThan(api, "1.44") {
		return fmt.Errorf("service %s: healthcheck.start_interval needs Engine API 1.44; this engine speaks %s", spec.Name, api)
	}
	return nil
}
