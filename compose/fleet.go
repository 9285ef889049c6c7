package compose

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/reconcile"
)

// A fleet is many hosts deploying from one repository. Besides the stacks
// every host runs (PATH/STACK/), the source's path may hold
//
//	hosts/NAME/STACK/compose.yaml         the stacks of the host NAME
//	groups/KEY=VALUE/STACK/compose.yaml   the stacks of the hosts labelled KEY=VALUE
//	hosts/NAME/variables.env              interpolation variables of the host
//	groups/KEY=VALUE/variables.env        interpolation variables of the group
//
// and a stack's x-moor may say which hosts it is for (hosts, host_labels).
// Only this host's directories are read: another host's or group's is
// never opened. A directory named hosts or groups that holds a compose
// file is a stack like any other. See docs/fleet.md.

// Host is the identity stacks are selected by (config.Host).
type Host struct {
	Name   string
	Labels map[string]string
}

// The fleet directories and the variables file of a host or group.
const (
	HostsDir      = "hosts"
	GroupsDir     = "groups"
	VariablesFile = "variables.env"
)

// Variables are the host's identity as interpolation variables:
// MOOR_HOST_NAME, and MOOR_HOST_LABEL_KEY for each label (the key in upper
// case, '.' and '-' as '_').
func (h *Host) Variables() map[string]string {
	if h == nil {
		return nil
	}
	vars := map[string]string{"MOOR_HOST_NAME": h.Name}
	for _, k := range slices.Sorted(maps.Keys(h.Labels)) {
		vars[LabelVariable(k)] = h.Labels[k]
	}
	return vars
}

// LabelVariable is the interpolation variable of the host label key.
func LabelVariable(key string) string {
	return "MOOR_HOST_LABEL_" + strings.NewReplacer(".", "_", "-", "_").Replace(strings.ToUpper(key))
}

// fleetDir is one of the host's directories: hosts/NAME or groups/K=V.
type fleetDir struct{ rel, abs string }

// fleet adds to shared, the stacks of the source's path, those of the
// host's hosts/ and groups/ directories. A stack given twice for the host
// is kept once, with an Err that names every place it is given.
func (d discovery) fleet(shared []StackDir, h *Host) ([]StackDir, error) {
	dirs, err := d.fleetDirs(h)
	if err != nil {
		return nil, err
	}
	others, err := d.othersOf(h)
	if err != nil {
		return nil, err
	}
	all := slices.Clone(shared)
	var groupVars []string
	hostVars := ""
	for _, fd := range dirs {
		file, _, err := d.composeFile(fd.abs)
		if err != nil {
			return nil, err
		}
		if file != "" {
			return nil, fmt.Errorf("%s holds %s: a host's or group's directory holds stack directories (%s/STACK/compose.yaml)", fd.rel, filepath.Base(file), fd.rel)
		}
		stacks, err := d.children(fd.abs, fd.rel)
		if err != nil {
			return nil, err
		}
		all = append(all, stacks...)
		vf := filepath.Join(fd.abs, VariablesFile)
		if _, err := os.Lstat(vf); err == nil {
			if strings.HasPrefix(fd.rel, HostsDir+"/") {
				hostVars = vf
			} else {
				groupVars = append(groupVars, vf)
			}
		}
	}
	byName := map[string][]StackDir{}
	for _, sd := range all {
		byName[sd.Name] = append(byName[sd.Name], sd)
	}
	var out []StackDir
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		given := byName[name]
		sd := given[0]
		if len(given) > 1 {
			var where []string
			for _, g := range given {
				where = append(where, g.rel(g.File))
			}
			sd.Err = fmt.Errorf("given %d times for host %s (%s): a stack is given once per host; none of them is deployed until the others are removed",
				len(given), h.Name, strings.Join(where, ", "))
		}
		sd.groupVars, sd.hostVars, sd.others = groupVars, hostVars, others
		out = append(out, sd)
	}
	return out, nil
}

// ErrOtherHost marks a path in the directory of another host or of a
// group the host is not in: it is never read.
var ErrOtherHost = errors.New("in another host's directory: a host reads the shared files and its own hosts/ and groups/ directories only")

// othersOf says, of a path relative to the repository's real root, whether
// it lies in a fleet directory that is not h's.
func (d discovery) othersOf(h *Host) (func(rel string) error, error) {
	fleetDirs := map[string]bool{}
	for _, name := range []string{HostsDir, GroupsDir} {
		fleetDirs[name] = d.isFleetDir(name)
	}
	real, err := filepath.EvalSymlinks(d.root)
	if err != nil {
		return nil, fmt.Errorf("discover stacks in %s: %w", d.root, err)
	}
	base, err := filepath.Rel(d.repo.real, real)
	if err != nil {
		return nil, fmt.Errorf("discover stacks in %s: %w", d.root, err)
	}
	return func(rel string) error {
		r, err := filepath.Rel(base, rel)
		if err != nil {
			return nil
		}
		parts := strings.Split(filepath.ToSlash(r), "/")
		if len(parts) < 2 || !fleetDirs[parts[0]] {
			return nil
		}
		switch parts[0] {
		case HostsDir:
			if parts[1] == h.Name {
				return nil
			}
		case GroupsDir:
			if k, v, ok := strings.Cut(parts[1], "="); ok && h.Labels[k] == v {
				if _, has := h.Labels[k]; has {
					return nil
				}
			}
		}
		return ErrOtherHost
	}, nil
}

// isFleetDir reports whether root/name is a fleet directory: a directory
// holding no compose file itself.
func (d discovery) isFleetDir(name string) bool {
	p := filepath.Join(d.root, name)
	if fi, err := d.repo.stat(p); err != nil || !fi.IsDir() {
		return false
	}
	file, _, err := d.composeFile(p)
	return err == nil && file == ""
}

// fleetDirs lists the host's directories that exist: its groups in the
// order of their names, then hosts/NAME. Only the names in groups/ are
// read, and nothing of hosts/ but the host's own.
func (d discovery) fleetDirs(h *Host) ([]fleetDir, error) {
	var dirs []fleetDir
	if d.isFleetDir(GroupsDir) {
		entries, err := os.ReadDir(filepath.Join(d.root, GroupsDir))
		if err != nil {
			return nil, fmt.Errorf("discover stacks in %s: %w", GroupsDir, err)
		}
		for _, e := range entries {
			abs := filepath.Join(d.root, GroupsDir, e.Name())
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if fi, err := d.repo.stat(abs); err != nil || !fi.IsDir() {
				continue // a README
			}
			rel := GroupsDir + "/" + e.Name()
			k, v, ok := strings.Cut(e.Name(), "=")
			if !ok {
				return nil, fmt.Errorf("%s: a group's directory is named LABEL=VALUE (%s/role=web)", rel, GroupsDir)
			}
			if err := config.CheckHostLabel(k, v); err != nil {
				return nil, fmt.Errorf("%s: %w", rel, err)
			}
			if got, has := h.Labels[k]; has && got == v {
				dirs = append(dirs, fleetDir{rel: rel, abs: abs})
			}
		}
	}
	if d.isFleetDir(HostsDir) {
		abs := filepath.Join(d.root, HostsDir, h.Name)
		fi, err := d.repo.stat(abs)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("%s/%s: %w", HostsDir, h.Name, describe(err))
		case fi.IsDir():
			dirs = append(dirs, fleetDir{rel: HostsDir + "/" + h.Name, abs: abs})
		}
	}
	return dirs, nil
}

// selectFor keeps the stacks whose x-moor hosts and host_labels take
// h, and says why each other one is left out. Only x-moor is read of a
// compose file here; a stack whose x-moor cannot be read is kept, with
// the reason as its Err.
func (d discovery) selectFor(stacks []StackDir, h *Host) ([]StackDir, map[string]string) {
	var out []StackDir
	notHere := map[string]string{}
	for _, sd := range stacks {
		if sd.Err == nil {
			sel, err := d.selector(sd)
			if err != nil {
				sd.Err = err
			} else if why := sel.excludes(h); why != "" {
				notHere[sd.Name] = why
				continue
			}
		}
		out = append(out, sd)
	}
	return out, notHere
}

// selector reads x-moor hosts and host_labels of sd's compose file. A
// file that cannot be read or parsed gives no selector: its load says why.
func (d discovery) selector(sd StackDir) (selector, error) {
	lim := Limits{}.withDefaults()
	data, err := d.repo.read(sd.File, lim.ComposeBytes)
	if err != nil {
		return selector{}, nil
	}
	if _, err := scanYAML(data, lim.Depth); err != nil {
		return selector{}, nil
	}
	var doc struct {
		Moor any `yaml:"x-moor"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return selector{}, nil
	}
	return parseSelector(doc.Moor)
}

// selector is which hosts a stack is for: with hosts, only those named;
// with labels, only those carrying every one of them.
type selector struct {
	hosts  []string
	labels map[string]string
}

// parseSelector reads x-moor.hosts and x-moor.host_labels of raw, the
// value of x-moor. The values are taken as written (no interpolation).
func parseSelector(raw any) (selector, error) {
	var sel selector
	m, ok := raw.(map[string]any)
	if !ok {
		return sel, nil // stackNeeds says what x-moor must be
	}
	if v, ok := m["hosts"]; ok {
		field := extMoor + ".hosts"
		list, ok := v.([]any)
		switch {
		case v == nil || ok && len(list) == 0:
			return sel, fmt.Errorf("%s: empty: no host would run the stack; name its hosts or remove the key", field)
		case !ok:
			return sel, fmt.Errorf("%s: must be a list of host names, not %s", field, yamlKind(v))
		}
		for i, item := range list {
			name, ok := item.(string)
			if !ok {
				return sel, fmt.Errorf("%s[%d]: must be a host name, not %s", field, i, yamlKind(item))
			}
			if err := config.CheckHostName(name); err != nil {
				return sel, fmt.Errorf("%s[%d]: %w", field, i, err)
			}
			if slices.Contains(sel.hosts, name) {
				return sel, fmt.Errorf("%s[%d] %q: listed twice", field, i, name)
			}
			sel.hosts = append(sel.hosts, name)
		}
		slices.Sort(sel.hosts)
	}
	if v, ok := m["host_labels"]; ok {
		field := extMoor + ".host_labels"
		lm, ok := v.(map[string]any)
		switch {
		case v == nil || ok && len(lm) == 0:
			return sel, fmt.Errorf("%s: empty: remove the key, or give the labels the hosts must carry (role: web)", field)
		case !ok:
			return sel, fmt.Errorf("%s: must be a mapping of label: value (role: web), not %s", field, yamlKind(v))
		}
		sel.labels = map[string]string{}
		for _, k := range slices.Sorted(maps.Keys(lm)) {
			val, ok := lm[k].(string)
			if !ok {
				return sel, fmt.Errorf("%s.%s: must be a string, not %s (quote it)", field, k, yamlKind(lm[k]))
			}
			if err := config.CheckHostLabel(k, val); err != nil {
				return sel, fmt.Errorf("%s.%s: %w", field, k, err)
			}
			sel.labels[k] = val
		}
	}
	return sel, nil
}

// excludes says why the stack is not for h, or "" if it is.
func (s selector) excludes(h *Host) string {
	if len(s.hosts) > 0 && !slices.Contains(s.hosts, h.Name) {
		return fmt.Sprintf("%s.hosts names %s, not %s", extMoor, strings.Join(s.hosts, ", "), h.Name)
	}
	for _, k := range slices.Sorted(maps.Keys(s.labels)) {
		got, has := h.Labels[k]
		switch {
		case !has:
			return fmt.Sprintf("%s.host_labels wants %s=%s; host %s has no label %s", extMoor, k, s.labels[k], h.Name, k)
		case got != s.labels[k]:
			return fmt.Sprintf("%s.host_labels wants %s=%s; host %s has %s=%s", extMoor, k, s.labels[k], h.Name, k, got)
		}
	}
	return ""
}

// checkSelector checks x-moor hosts and host_labels of a loaded stack,
// whatever the host (moor validate without --host).
func checkSelector(raw any) error {
	_, err := parseSelector(raw)
	return err
}

// DiscoverFor is Discover for host in a fleet: the shared stacks, those of
// its hosts/ and groups/ directories, only those meant for it; notHere
// says why each stack left out is. A nil host is Discover.
func DiscoverFor(root string, host *Host) (stacks []StackDir, notHere map[string]string, err error) {
	return discoverFor(root, root, host)
}

// NeedsNotHere finds the stacks that need (x-moor.depends_on) a stack
// left out of the host, naming it and why it is left out. Check it
// before CheckOrder, which would call that stack missing.
func NeedsNotHere(stacks map[string]*reconcile.Stack, notHere map[string]string, h *Host) map[string]error {
	return needsNotHere(stacks, notHere, h)
}

// needsNotHere finds the stacks that need (x-moor.depends_on) a stack
// left out of this host, saying why it is.
func needsNotHere(stacks map[string]*reconcile.Stack, notHere map[string]string, h *Host) map[string]error {
	out := map[string]error{}
	for _, name := range slices.Sorted(maps.Keys(stacks)) {
		for _, need := range stacks[name].DependsOn {
			if why, ok := notHere[need]; ok {
				out[name] = orderError(stacks[name], "needs stack %s, which is not for host %s (%s): it is left as it runs", need, h.Name, why)
				break
			}
		}
	}
	return out
}

// fleetVariables are the interpolation variables of a stack of the host,
// lowest first: its groups' variables.env (two groups that set one
// variable differently are an error naming both), its host's
// variables.env, the source's variables, the host's identity
// (Host.Variables). The stack's .env lies below them all
// (interpolationEnv).
func (g *guard) fleetVariables(opts Options) (map[string]string, error) {
	sd := g.sd
	if opts.Host == nil && len(sd.groupVars) == 0 && sd.hostVars == "" {
		return opts.Variables, nil
	}
	top := maps.Clone(opts.Variables)
	if top == nil {
		top = map[string]string{}
	}
	maps.Copy(top, opts.Host.Variables())
	vars := map[string]string{}
	from := map[string]string{}
	read := func(f string) (map[string]string, error) {
		data, err := g.budget.readEnv(g.repo, f)
		if err == nil {
			data, _, err = g.sops.env(f, data)
		}
		got := map[string]string{}
		if err == nil {
			err = g.budget.parseEnv(data, f, "", got, lookupIn(top))
		}
		if err != nil {
			return nil, fmt.Errorf("variables file %q: %w", sd.rel(f), err)
		}
		return got, nil
	}
	for _, f := range sd.groupVars {
		got, err := read(f)
		if err != nil {
			return nil, err
		}
		for _, k := range slices.Sorted(maps.Keys(got)) {
			if prev, ok := from[k]; ok && vars[k] != got[k] {
				return nil, fmt.Errorf("variable %s is set differently by %q and %q: the host is in both groups; set it in one of them, or in %s/%s/%s",
					k, sd.rel(prev), sd.rel(f), HostsDir, opts.hostName(), VariablesFile)
			}
			vars[k], from[k] = got[k], f
		}
	}
	if sd.hostVars != "" {
		got, err := read(sd.hostVars)
		if err != nil {
			return nil, err
		}
		maps.Copy(vars, got)
	}
	maps.Copy(vars, top)
	return vars, nil
}

// lookupIn looks a variable up in m.
func lookupIn(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func (o Options) hostName() string {
	if o.Host == nil {
		return "NAME"
	}
	return o.Host.Name
}
