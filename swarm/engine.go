package swarm

import (
	"context"
	"errors"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"go.uber.org/zap"

	"github.com/moor-dev/moor/fault"
)

// Engine is the swarm behind a source with runtime: swarm: the Engine API
// of a manager node.
type Engine struct {
	cli *client.Client
	Log *zap.Logger
	// UpdateTimeout bounds the wait for one service's update or creation
	// to settle (its tasks running, healthy, on the new spec); zero: 5m.
	UpdateTimeout time.Duration
	// Poll is how often a wait asks the engine again; zero: 250ms.
	Poll time.Duration
	// Parallel bounds the services an apply creates, updates or removes
	// at once; zero: DefaultParallel.
	Parallel int
}

// NewEngine connects to the engine as the docker CLI does (DOCKER_HOST,
// ...), pings it and negotiates the API version down to the engine's.
func NewEngine(ctx context.Context) (*Engine, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker engine at %s: %w", cli.DaemonHost(), fault.Mark(fault.ErrEngineUnavailable, err))
	}
	return &Engine{cli: cli, Log: zap.NewNop()}, nil
}

// Close releases the client's connections.
func (e *Engine) Close() error { return e.cli.Close() }

// ErrNotManager is returned by CheckManager for an engine that cannot
// deploy services: it is not a manager of an active swarm.
var ErrNotManager = errors.New("this Docker engine is not a swarm manager")

// CheckManager returns ErrNotManager (refused: a configuration problem)
// unless the engine is a manager of an active swarm.
func (e *Engine) CheckManager(ctx context.Context) error {
	info, err := e.cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return classify(fmt.Errorf("engine info: %w", err))
	}
	sw := info.Info.Swarm
	if sw.LocalNodeState == swarm.LocalNodeStateActive && sw.ControlAvailable {
		return nil
	}
	state := string(sw.LocalNodeState)
	if sw.LocalNodeState == swarm.LocalNodeStateActive && !sw.ControlAvailable {
		state = "a worker"
	}
	return fault.Mark(fault.ErrRefused, fmt.Errorf("runtime swarm: %w (swarm: %s); run `docker swarm init` on it, or run moor on a manager", ErrNotManager, state))
}

// Observe lists the swarm's services and networks, and its configs,
// secrets and this node's volumes of stacks (filtered by the namespace
// label): one list call per kind.
func (e *Engine) Observe(ctx context.Context) (*Observed, error) {
	f := client.Filters{}.Add("label", LabelNamespace)
	// Every service: one that is not of a stack but holds a name a stack
	// wants is a conflict.
	svcs, err := e.cli.ServiceList(ctx, client.ServiceListOptions{Status: true})
	if err != nil {
		return nil, classify(fmt.Errorf("list services: %w", err))
	}
	nets, err := e.cli.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, classify(fmt.Errorf("list networks: %w", err))
	}
	cfgs, err := e.cli.ConfigList(ctx, client.ConfigListOptions{Filters: f})
	if err != nil {
		return nil, classify(fmt.Errorf("list configs: %w", err))
	}
	secs, err := e.cli.SecretList(ctx, client.SecretListOptions{Filters: f})
	if err != nil {
		return nil, classify(fmt.Errorf("list secrets: %w", err))
	}
	vols, err := e.cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return nil, classify(fmt.Errorf("list volumes: %w", err))
	}
	o := &Observed{}
	for _, v := range vols.Items {
		o.Volumes = append(o.Volumes, ObservedObject{ID: v.Name, Name: v.Name, Owner: ownershipOf(v.Labels)})
	}
	netName := map[string]string{}
	for _, n := range nets.Items {
		netName[n.ID] = n.Name
		// Every network, of a stack or not, local or not: one that holds
		// a name a stack wants (docker compose's STACK_default bridge)
		// is a conflict, never a second network of the same name.
		o.Networks = append(o.Networks, ObservedObject{ID: n.ID, Name: n.Name, Owner: ownershipOf(n.Labels)})
	}
	for _, s := range svcs.Items {
		spec := s.Spec
		spec.TaskTemplate.Networks = namedNetworks(spec.TaskTemplate.Networks, netName)
		os := ObservedService{ID: s.ID, Version: s.Version.Index, Spec: spec, Owner: ownershipOf(s.Spec.Labels)}
		if st := s.ServiceStatus; st != nil {
			os.Running, os.Desired = int(st.RunningTasks), int(st.DesiredTasks)
		}
		if u := s.UpdateStatus; u != nil {
			os.Update, os.UpdateMessage = string(u.State), u.Message
		}
		o.Services = append(o.Services, os)
	}
	for _, c := range cfgs.Items {
		o.Configs = append(o.Configs, ObservedObject{ID: c.ID, Name: c.Spec.Name, Owner: ownershipOf(c.Spec.Labels)})
	}
	for _, c := range secs.Items {
		o.Secrets = append(o.Secrets, ObservedObject{ID: c.ID, Name: c.Spec.Name, Owner: ownershipOf(c.Spec.Labels)})
	}
	return o, nil
}

// namedNetworks puts the networks' names in place of the IDs Swarm stores.
func namedNetworks(in []swarm.NetworkAttachmentConfig, names map[string]string) []swarm.NetworkAttachmentConfig {
	out := make([]swarm.NetworkAttachmentConfig, len(in))
	for i, a := range in {
		if n, ok := names[a.Target]; ok {
			a.Target = n
		}
		out[i] = a
	}
	return out
}

// classify marks an engine that cannot be reached, once, at the adapter.
func classify(err error) error {
	if client.IsErrConnectionFailed(err) {
		return fault.Mark(fault.ErrEngineUnavailable, err)
	}
	return err
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

func isConflict(err error) bool { return cerrdefs.IsConflict(err) || cerrdefs.IsAlreadyExists(err) }
