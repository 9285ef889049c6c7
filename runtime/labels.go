package runtime

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"

	"github.com/moor-dev/moor/reconcile"
)

// fromSummary is the domain's view of one container as a list call reports
// it. ExitCode and Health come from the status text, the only place a list
// carries them on every API version.
func fromSummary(s container.Summary) reconcile.Container {
	c := parseContainer(s.ID, containerName(s.Names), s.Image, s.ImageID, string(s.State), s.Labels)
	c.Created = time.Unix(s.Created, 0).UTC()
	c.ExitCode, c.Health = parseStatus(s.Status)
	c.Binds = bindSources(s.Mounts)
	return c
}

// bindSources are the host paths of a container's binds.
func bindSources(mps []container.MountPoint) []string {
	var srcs []string
	for _, m := range mps {
		if m.Type == mount.TypeBind {
			srcs = append(srcs, m.Source)
		}
	}
	return srcs
}

// fromInspect is the domain's view of one inspected container, with
// ExitCode and Health exact.
func fromInspect(r container.InspectResponse) reconcile.Container {
	var image string
	var labels map[string]string
	if r.Config != nil {
		image, labels = r.Config.Image, r.Config.Labels
	}
	var state string
	var exit int
	var health, healthOutput string
	if r.State != nil {
		state, exit = string(r.State.Status), r.State.ExitCode
		if r.State.Health != nil && r.State.Health.Status != container.NoHealthcheck {
			health = string(r.State.Health.Status)
		}
		if h := r.State.Health; h != nil && len(h.Log) > 0 && h.Log[len(h.Log)-1] != nil {
			healthOutput = strings.TrimSpace(h.Log[len(h.Log)-1].Output)
		}
	}
	c := parseContainer(r.ID, strings.TrimPrefix(r.Name, "/"), image, r.Image, state, labels)
	c.ExitCode, c.Health, c.Restarts, c.HealthOutput = exit, health, r.RestartCount, healthOutput
	c.Binds = bindSources(r.Mounts)
	if t, err := time.Parse(time.RFC3339Nano, r.Created); err == nil {
		c.Created = t.UTC()
	}
	return c
}

// parseContainer reads moor's labels into a reconcile.Container. It is the
// one place labels are interpreted, for the engine and the fake alike.
func parseContainer(id, name, image, imageID, state string, labels map[string]string) reconcile.Container {
	n, err := strconv.Atoi(labels[reconcile.LabelComposeContainerNumber])
	if err != nil || n < 0 {
		n = 0
	}
	return reconcile.Container{
		ID:             id,
		Name:           name,
		Stack:          labels[reconcile.LabelStack],
		Service:        labels[reconcile.LabelService],
		Number:         n,
		Source:         labels[reconcile.LabelSource],
		Owner:          labels[reconcile.LabelOwner],
		Revision:       labels[reconcile.LabelRevision],
		ConfigHash:     labels[reconcile.LabelConfigHash],
		Project:        labels[reconcile.LabelComposeProject],
		ComposeService: labels[reconcile.LabelComposeService],
		ComposeHash:    labels[reconcile.LabelComposeConfigHash],
		WorkingDir:     labels[reconcile.LabelComposeWorkingDir],
		Retired:        strings.HasSuffix(name, reconcile.RetiredSuffix),
		Image:          image,
		ImageID:        imageID,
		State:          state,
		Labels:         labels,
		PreStop:        reconcile.DecodeHooks(labels[reconcile.LabelPreStop]),
	}
}

// containerName picks the container's own name from a list entry's names:
// the one without a further slash (others are legacy link aliases,
// "/other/alias").
func containerName(names []string) string {
	for _, n := range names {
		if n = strings.TrimPrefix(n, "/"); !strings.Contains(n, "/") {
			return n
		}
	}
	if len(names) > 0 {
		return strings.TrimPrefix(names[0], "/")
	}
	return ""
}

var (
	// "Exited (3) 2 minutes ago", "Restarting (1) 5 seconds ago".
	exitRE = regexp.MustCompile(`^(?:Exited|Restarting) \((-?\d+)\)`)
	// "Up 3 seconds (healthy)", "Up 1 second (health: starting)".
	healthRE = regexp.MustCompile(`\((healthy|unhealthy|health: starting)\)`)
)

// parseStatus reads the exit code and health out of a list entry's status
// text. A status without them gives 0 and "".
func parseStatus(status string) (exitCode int, health string) {
	if m := exitRE.FindStringSubmatch(status); m != nil {
		exitCode, _ = strconv.Atoi(m[1])
	}
	if m := healthRE.FindStringSubmatch(status); m != nil {
		health = strings.TrimPrefix(m[1], "health: ")
	}
	return exitCode, health
}

// statusText renders a container's list status as the engine does, for the
// fake. It is what parseStatus reads.
func statusText(state string, exitCode int, health string) string {
	switch state {
	case reconcile.StateCreated:
		return "Created"
	case reconcile.StateRunning, reconcile.StatePaused:
		s := "Up 1 second"
		switch health {
		case reconcile.HealthStarting:
			s += " (health: starting)"
		case reconcile.HealthHealthy, reconcile.HealthUnhealthy:
			s += " (" + health + ")"
		}
		if state == reconcile.StatePaused {
			s += " (Paused)"
		}
		return s
	case reconcile.StateRestarting:
		return "Restarting (" + strconv.Itoa(exitCode) + ") 1 second ago"
	case reconcile.StateExited:
		return "Exited (" + strconv.Itoa(exitCode) + ") 1 second ago"
	case reconcile.StateDead:
		return "Dead"
	case reconcile.StateRemoving:
		return "Removal In Progress"
	}
	return state
}

// familiarRef writes an image reference the way reconcile.Observed.Images
// keys it: familiar form ("nginx:latest", "localhost:5000/app@sha256:…"),
// with the tag "latest" added when neither tag nor digest is given. A
// reference that does not parse is returned as it is.
func familiarRef(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.FamiliarString(reference.TagNameOnly(named))
}

// registryHost is the registry domain of ref ("docker.io" for Docker Hub
// names), the key credentials are stored under.
func registryHost(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", err
	}
	return reference.Domain(named), nil
}
