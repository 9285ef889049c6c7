package runtime

import (
	"fmt"
	"sort"
	"strings"

	"github.com/moor-dev/moor/reconcile"
)

// String renders the whole state as sorted lines, one per container,
// network, volume and image, with hashes and IDs cut to 12 hex digits:
//
//	container web-api-1 running health=healthy image=app:1 imageid=sha256:1111 hash=sha256:ab12… rev=main@sha1:0123…
//	container other exited exit=0 image=busybox:latest imageid=… unmanaged
//	network web_default stack=web
//	volume web_data stack=web
//	image app:1 sha256:1111
func (f *Fake) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var lines []string
	for _, c := range f.containers {
		lines = append(lines, c.String())
	}
	for name, n := range f.networks {
		lines = append(lines, "network "+name+owner(n.labels))
	}
	for name, v := range f.volumes {
		lines = append(lines, "volume "+name+owner(v.labels))
	}
	for ref, id := range f.images {
		lines = append(lines, "image "+ref+" "+short(id))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func (c *fakeContainer) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "container %s %s", c.name, c.state)
	switch c.state {
	case reconcile.StateExited, reconcile.StateRestarting, reconcile.StateDead:
		fmt.Fprintf(&b, " exit=%d", c.exitCode)
	case reconcile.StateRunning:
		if c.health != "" {
			fmt.Fprintf(&b, " health=%s", c.health)
		}
	}
	fmt.Fprintf(&b, " image=%s imageid=%s", c.spec.Image, short(c.imageID))
	if _, ok := c.labels[reconcile.LabelStack]; !ok {
		b.WriteString(" unmanaged")
		return b.String()
	}
	if h := c.labels[reconcile.LabelConfigHash]; h != "" {
		fmt.Fprintf(&b, " hash=%s", short(h))
	}
	if r := c.labels[reconcile.LabelRevision]; r != "" {
		fmt.Fprintf(&b, " rev=%s", short(r))
	}
	return b.String()
}

// owner renders a network's or volume's stack label.
func owner(labels map[string]string) string {
	if s, ok := labels[reconcile.LabelStack]; ok {
		return " stack=" + s
	}
	return " unmanaged"
}

// short cuts what follows the last ":" ("sha256:…", "main@sha1:…") to 12
// characters.
func short(s string) string {
	i := strings.LastIndex(s, ":") + 1
	if len(s)-i > 12 {
		return s[:i+12]
	}
	return s
}
