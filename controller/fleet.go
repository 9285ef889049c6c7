package controller

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/gitsource"
	"github.com/moor-dev/moor/reconcile"
)

// composeHost is the host whose stacks the source's revisions are loaded
// for (compose/fleet.go); nil, when the controller was given no host
// name, reads no fleet directory.
func (c *Controller) composeHost() *compose.Host {
	if c.Host.Name == "" {
		return nil
	}
	return &compose.Host{Name: c.Host.Name, Labels: c.Host.Labels}
}

// fleetListed are the directories whose entries each snapshot lists for
// the view of a host (hostView): the source path's hosts/ and groups/,
// and with them every directory above.
func fleetListed(src string) []string {
	return []string{path.Join("/", src, compose.HostsDir)[1:], path.Join("/", src, compose.GroupsDir)[1:]}
}

// fleetOmit leaves the directories of other hosts, and of groups the host
// is not in, out of the snapshots of a source at srcPath (gitsource
// Source.Omit): a load for the host never reads them, and a fleet of a
// hundred hosts is a hundred times the files of one.
func fleetOmit(srcPath string, h *compose.Host) func(gitsource.Trees) []string {
	p := path.Join("/", srcPath)[1:]
	return func(t gitsource.Trees) []string {
		top, ok := t.Entries(p)
		if h == nil || !ok || holdsCompose(top) {
			return nil
		}
		var out []string
		for _, name := range []string{compose.HostsDir, compose.GroupsDir} {
			sub, ok := t.Entries(path.Join(p, name))
			if !ok || !isDir(top[name]) || holdsCompose(sub) {
				continue
			}
			for _, e := range slices.Sorted(maps.Keys(sub)) {
				if isDir(sub[e]) && !mine(name, e, h) {
					out = append(out, path.Join(p, name, e))
				}
			}
		}
		return out
	}
}

// mine reports whether the entry of the fleet directory dir (hosts or
// groups) is the host's.
func mine(dir, entry string, h *compose.Host) bool {
	if dir == compose.HostsDir {
		return entry == h.Name
	}
	k, v, ok := strings.Cut(entry, "=")
	got, has := h.Labels[k]
	return ok && has && got == v
}

func isDir(entry string) bool { return strings.HasPrefix(entry, "0040000 ") }

// holdsCompose reports whether a directory's entries hold a compose file:
// it is a stack, not a fleet directory.
func holdsCompose(entries map[string]string) bool {
	return slices.ContainsFunc(compose.FileNames, func(n string) bool { _, ok := entries[n]; return ok })
}

// hostView is a digest of what a load of snap for host h may read: the
// whole tree of the commit but the hosts/ and groups/ directories of
// other hosts, which the load never opens. Two revisions with the same
// view load the same stacks, so a commit that touches only other hosts'
// directories is not loaded again (Controller.load). It is computed from
// the tree entries the snapshot listed, without reading a file; "" when
// the snapshot did not list them or there is no host.
func hostView(snap *gitsource.Snapshot, srcPath string, h *compose.Host) string {
	if snap == nil || snap.Trees == nil || h == nil {
		return ""
	}
	p := path.Join("/", srcPath)[1:]
	sum := sha256.New()
	write := func(parts ...string) { fmt.Fprintln(sum, strings.Join(parts, "\x00")) }
	// Above the source's path: every entry but the way down, which the
	// next level stands for.
	var chain []string
	for d := p; d != ""; d = path.Dir(d) {
		chain = append(chain, d)
		if path.Dir(d) == "." {
			break
		}
	}
	chain = append(chain, "")
	slices.Reverse(chain)
	for i, dir := range chain[:len(chain)-1] {
		entries, ok := snap.Trees.Entries(dir)
		if !ok {
			return ""
		}
		down := path.Base(chain[i+1])
		for _, name := range slices.Sorted(maps.Keys(entries)) {
			if name != down {
				write("above", dir, name, entries[name])
			}
		}
	}
	top, ok := snap.Trees.Entries(p)
	if !ok {
		return ""
	}
	single := holdsCompose(top)
	for _, name := range slices.Sorted(maps.Keys(top)) {
		if single || (name != compose.HostsDir && name != compose.GroupsDir) || !isDir(top[name]) {
			write("path", name, top[name])
			continue
		}
		sub, ok := snap.Trees.Entries(path.Join(p, name))
		if !ok {
			return ""
		}
		if holdsCompose(sub) {
			write("path", name, top[name]) // a stack named hosts or groups
			continue
		}
		for _, e := range slices.Sorted(maps.Keys(sub)) {
			switch {
			case mine(name, e, h):
				write(name, e, sub[e])
			case name == compose.GroupsDir:
				write(name, e) // its name alone, which the load checks
			}
		}
	}
	return hex.EncodeToString(sum.Sum(nil))
}

// viewKey is the key under which a load by this controller of a
// revision with the view is kept in memory: the view and the options,
// but for the snapshot's path, which differs for each revision.
func viewKey(view string, opts compose.Options) string {
	if view == "" {
		return ""
	}
	opts.Repo, opts.Secrets = "", compose.Secrets{}
	b, err := json.Marshal(opts)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(append(b, view...))
	return hex.EncodeToString(sum[:])
}

// portable reports whether stacks loaded from the snapshot of commit
// hold nothing of it (its directory is named after the commit) but the
// revision of their files, and may stand for another revision with the
// same view.
func portable(d *reconcile.Desired, commit string) bool {
	b, err := json.Marshal(atRevision(d, "").Stacks)
	return err == nil && commit != "" && !bytes.Contains(b, []byte(commit))
}

// atRevision is d, loaded for another revision with the same view, as
// the load of rev: the stacks' files are rev's. d is not modified.
func atRevision(d *reconcile.Desired, rev string) *reconcile.Desired {
	out := *d
	out.Revision = rev
	out.Stacks = make(map[string]*reconcile.Stack, len(d.Stacks))
	for name, st := range d.Stacks {
		if st.Files != nil {
			cp, files := *st, *st.Files
			files.Revision = rev
			cp.Files = &files
			st = &cp
		}
		out.Stacks[name] = st
	}
	return &out
}

// sameView returns the last revision's stacks as the load of snap when
// the host's view of both is the same (a commit that touched only other
// hosts' directories, or nothing this host reads): nothing is loaded.
func (c *Controller) sameView(snap *gitsource.Snapshot, opts compose.Options) (*reconcile.Desired, bool) {
	if c.WorkDir != "" || c.loaded.view == "" || c.loaded.desired == nil {
		return nil, false
	}
	if viewKey(hostView(snap, c.Source.Path, opts.Host), opts) != c.loaded.view {
		return nil, false
	}
	rev := snap.Revision.String()
	d := atRevision(c.loaded.desired, rev)
	c.loaded.rev, c.loaded.desired = rev, d
	c.Log.Debug("the revision changes nothing this host reads: its stacks are the last revision's", zap.String("revision", rev))
	if err := writeDesired(c.StateDir, d, c.driftReport(), ""); err != nil {
		c.Log.Warn("record desired state for moor status", zap.Error(err))
	}
	return d, true
}

// keepView notes the view of snap, which d was loaded from, so that a
// later revision with the same view takes d (sameView); d must hold
// nothing of the snapshot's own (its path, its commit).
func (c *Controller) keepView(snap *gitsource.Snapshot, opts compose.Options, d *reconcile.Desired) {
	c.loaded.view = ""
	if key := viewKey(hostView(snap, c.Source.Path, opts.Host), opts); key != "" && portable(d, snap.Revision.Commit) {
		c.loaded.view = key
	}
}
