package runtime

import (
	"fmt"
	"os"
	"strings"

	"github.com/moby/moby/api/types/mount"

	"github.com/moor-dev/moor/reconcile"
)

// mounts translates volume, bind and tmpfs mounts. A Legacy mount goes
// into Binds, as docker compose gives it; the others into Mounts.
func mounts(ms []reconcile.Mount) ([]mount.Mount, []string, error) {
	var out []mount.Mount
	var binds []string
	for _, m := range ms {
		if m.Legacy && (m.Type == reconcile.MountBind || m.Type == reconcile.MountVolume && m.Source != "") {
			binds = append(binds, bindSpec(m))
			continue
		}
		switch m.Type {
		case reconcile.MountVolume:
			mm := mount.Mount{Type: mount.TypeVolume, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
			if m.NoCopy || m.Subpath != "" || len(m.VolumeLabels) > 0 {
				mm.VolumeOptions = &mount.VolumeOptions{NoCopy: m.NoCopy, Subpath: m.Subpath, Labels: m.VolumeLabels}
			}
			out = append(out, mm)
		case reconcile.MountBind:
			// Only Binds relabel for SELinux, as in compose's short
			// syntax; they cannot say bind.recursive.
			if m.SELinux != "" && m.Recursive != "" {
				return nil, nil, fmt.Errorf("bind %s: bind.selinux and bind.recursive cannot go together: the engine relabels only binds without recursive", m.Target)
			}
			if m.CreateHostPath || m.SELinux != "" {
				// Only Binds creates a missing source on every API
				// version (BindOptions.CreateMountpoint needs 1.42), on
				// the engine's own filesystem.
				binds = append(binds, bindSpec(m))
				continue
			}
			mm := mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
			if m.Propagation != "" || m.Recursive != "" {
				mm.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(m.Propagation)}
				switch m.Recursive {
				case "", "enabled":
				case "disabled":
					mm.BindOptions.NonRecursive = true
				case "writable":
					mm.BindOptions.ReadOnlyNonRecursive = true
				case "readonly":
					mm.BindOptions.ReadOnlyForceRecursive = true
				default:
					return nil, nil, fmt.Errorf("bind %s: bind.recursive %q: use enabled, disabled, writable or readonly", m.Target, m.Recursive)
				}
			}
			out = append(out, mm)
		case reconcile.MountTmpfs:
			mm := mount.Mount{Type: mount.TypeTmpfs, Target: m.Target, ReadOnly: m.ReadOnly}
			if m.TmpfsSize != 0 || m.TmpfsMode != 0 {
				mm.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: m.TmpfsSize, Mode: os.FileMode(m.TmpfsMode)}
			}
			out = append(out, mm)
		default:
			return nil, nil, fmt.Errorf("mount %s: unknown type %q", m.Target, m.Type)
		}
	}
	return out, binds, nil
}

// bindSpec writes a mount in the "SRC:DST:MODE[,OPTS]" form of
// HostConfig.Binds, as docker compose writes it.
func bindSpec(m reconcile.Mount) string {
	opts := []string{"rw"}
	if m.ReadOnly {
		opts[0] = "ro"
	}
	if m.SELinux != "" {
		opts = append(opts, m.SELinux)
	}
	if m.Propagation != "" {
		opts = append(opts, m.Propagation)
	}
	if m.NoCopy {
		opts = append(opts, "nocopy")
	}
	return m.Source + ":" + m.Target + ":" + strings.Join(opts, ",")
}
