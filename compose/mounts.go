package compose

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/moor-dev/moor/reconcile"
)

// mounts maps volumes, configs and secrets onto sorted mounts; two mounts
// on one target are an error.
func (m mapper) mounts(s *types.ServiceConfig) ([]reconcile.Mount, error) {
	var out []reconcile.Mount
	var errs []error
	for i, v := range s.Volumes {
		mt, err := m.volumeMount(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.written.entry(s.Name, "volumes", i, len(s.Volumes), m.volumeName(v)), err))
			continue
		}
		out = append(out, mt)
	}
	for _, r := range fileRefs(s) {
		obj, err := m.fileObject(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if obj.File == "" {
			continue // inline: see inlineFiles
		}
		if r.ref.UID != "" || r.ref.GID != "" || r.ref.Mode != nil {
			m.warn(s, "uid, gid and mode of %s %s have no effect on a %s from a file", r.kind, r.ref.Source, r.kind)
		}
		mt, err := m.fileMount(r.kind, r.ref, obj)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, mt)
	}
	slices.SortStableFunc(out, func(a, b reconcile.Mount) int { return cmp.Compare(a.Target, b.Target) })
	for i := 1; i < len(out); i++ {
		if out[i].Target == out[i-1].Target {
			errs = append(errs, fmt.Errorf("two mounts on %s", out[i].Target))
		}
	}
	return out, errors.Join(errs...)
}

// fileRef is a service's reference to a config or a secret.
type fileRef struct {
	kind string // "config" or "secret"
	ref  types.FileReferenceConfig
}

// fileRefs are the service's configs, then its secrets.
func fileRefs(s *types.ServiceConfig) []fileRef {
	refs := make([]fileRef, 0, len(s.Configs)+len(s.Secrets))
	for _, c := range s.Configs {
		refs = append(refs, fileRef{"config", types.FileReferenceConfig(c)})
	}
	for _, c := range s.Secrets {
		refs = append(refs, fileRef{"secret", types.FileReferenceConfig(c)})
	}
	return refs
}

// fileObject returns the declared config or secret a reference names, once
// checked that moor can give it: from a file, or inline (content: or
// environment:).
func (m mapper) fileObject(r fileRef) (types.FileObjectConfig, error) {
	var obj types.FileObjectConfig
	var ok bool
	kind, ref := r.kind, r.ref
	if kind == "config" {
		var c types.ConfigObjConfig
		c, ok = m.project.Configs[ref.Source]
		obj = types.FileObjectConfig(c)
	} else {
		var c types.SecretConfig
		c, ok = m.project.Secrets[ref.Source]
		obj = types.FileObjectConfig(c)
	}
	switch {
	case !ok:
		return obj, fmt.Errorf("%s %q is not declared", kind, ref.Source)
	case bool(obj.External):
		return obj, fmt.Errorf("%s %s: external %ss exist only in swarm: %w", kind, ref.Source, kind, ErrUnsupported)
	case obj.Driver != "" || obj.TemplateDriver != "" || len(obj.DriverOpts) > 0:
		return obj, fmt.Errorf("%s %s: drivers exist only in swarm: %w", kind, ref.Source, ErrUnsupported)
	case obj.File == "" && obj.Content == "" && obj.Environment == "":
		return obj, fmt.Errorf("%s %s: no file", kind, ref.Source)
	}
	return obj, nil
}

// volumeName names a volume entry in messages, a bind source relative to
// the snapshot.
func (m mapper) volumeName(v types.ServiceVolumeConfig) string {
	src := v.Source
	if v.Type == types.VolumeTypeBind {
		src = m.sd.rel(src)
	}
	if src == "" {
		return v.Target
	}
	return src + ":" + v.Target
}

func (m mapper) volumeMount(v types.ServiceVolumeConfig) (reconcile.Mount, error) {
	mt := reconcile.Mount{Type: v.Type, Target: v.Target, ReadOnly: v.ReadOnly}
	switch v.Type {
	case types.VolumeTypeVolume:
		if v.Volume != nil {
			mt.NoCopy = v.Volume.NoCopy
			mt.Subpath = v.Volume.Subpath
			mt.VolumeLabels = cloneMap(v.Volume.Labels)
		}
		if v.Source == "" {
			return mt, nil // anonymous
		}
		decl, ok := m.project.Volumes[v.Source]
		if !ok {
			return mt, fmt.Errorf("volume %q is not declared in the top-level volumes", v.Source)
		}
		mt.Source = decl.Name
		mt.Legacy = v.Volume == nil || !v.Volume.NoCopy && len(v.Volume.Labels) == 0 && v.Volume.Subpath == ""
		return mt, nil
	case types.VolumeTypeBind:
		mt.Legacy = true
		if v.Bind != nil {
			mt.Propagation = v.Bind.Propagation
			mt.CreateHostPath = bool(v.Bind.CreateHostPath)
			mt.SELinux = v.Bind.SELinux
			if v.Bind.Recursive != "enabled" {
				mt.Recursive = v.Bind.Recursive
			}
			mt.Legacy = mt.CreateHostPath && v.Bind.Propagation == "" && v.Bind.Recursive == ""
		}
		src, content, err := m.bindSource(v.Source, mt.CreateHostPath)
		if err != nil {
			return mt, err
		}
		mt.Source, mt.Content = src, content
		if m.sops.decrypted(src) {
			mt.ReadOnly = true // a decrypted file is never written back
		}
		if content != "" {
			// The source is in the repository and exists: how a missing
			// one would be handled does not matter, and must not make the
			// short and the long syntax hash differently.
			mt.CreateHostPath = false
		}
		return mt, nil
	case types.VolumeTypeTmpfs:
		if v.Tmpfs != nil {
			mt.TmpfsSize = int64(v.Tmpfs.Size)
			mt.TmpfsMode = v.Tmpfs.Mode
		}
		return mt, nil
	}
	if v.Type == types.VolumeTypeImage {
		return mt, fmt.Errorf("field \"volumes.type\" %q is %w (it needs Docker Engine 28, API 1.48): bake the content into the service's image, or use a volume", v.Type, ErrUnsupported)
	}
	return mt, fmt.Errorf("field \"volumes.type\" %q is %w", v.Type, ErrUnsupported)
}

// bindSource returns the absolute host path of a bind and, for a path the
// repository holds, the digest of its content. A path that leaves the
// repository, as written or through a symlink, is a host path: moor
// neither reads nor hashes it. A path of the source's directory points
// into the stack directories, which mirror it: what the repository holds
// there (its digest in the hash, so a change of content replaces the
// container and its path does not), or else a directory the containers
// write (./data), made when create says so.
func (m mapper) bindSource(src string, create bool) (string, string, error) {
	if !filepath.IsAbs(src) {
		src = filepath.Join(m.sd.Dir, src)
	}
	src = filepath.Clean(src)
	rel, err := m.repo.resolve(src)
	switch {
	case errors.Is(err, ErrOutside):
		return src, "", nil // a host path
	case errors.Is(err, fs.ErrNotExist):
		host, err := m.dataDir(src, create)
		return host, "", err
	case err != nil:
		return "", "", fmt.Errorf("bind source %s: %w", m.sd.rel(src), err)
	}
	if host, digest, ok, err := m.sops.file(m.repo, src); ok || err != nil {
		if err != nil {
			return "", "", fmt.Errorf("bind source %s: %w", m.sd.rel(src), err)
		}
		return host, digest, nil
	}
	digest, err := m.contentDigest(rel)
	if err != nil {
		return "", "", fmt.Errorf("bind source %s: %w", m.sd.rel(src), err)
	}
	host, err := m.hostBind(src, rel)
	if err != nil {
		return "", "", fmt.Errorf("bind source %w", err)
	}
	return host, digest, nil
}

// fileMount maps a service's config or secret from a file onto a read-only
// bind of it; one given inline is written into the container instead
// (inlineFiles).
func (m mapper) fileMount(kind string, ref types.FileReferenceConfig, obj types.FileObjectConfig) (reconcile.Mount, error) {
	// The file is part of the repository: a config or secret from the
	// host would change without the container knowing.
	src := filepath.Clean(obj.File)
	rel, err := m.repo.resolve(src)
	if err != nil {
		return reconcile.Mount{}, fmt.Errorf("%s %s: file %q: %w", kind, ref.Source, m.sd.rel(src), describe(err))
	}
	if host, digest, ok, err := m.sops.file(m.repo, src); err != nil {
		return reconcile.Mount{}, fmt.Errorf("%s %s: file %q: %w", kind, ref.Source, m.sd.rel(src), err)
	} else if ok {
		return reconcile.Mount{Type: reconcile.MountBind, Source: host, Target: fileTarget(kind, ref), ReadOnly: true, Content: digest}, nil
	}
	content, err := m.contentDigest(rel)
	if err != nil {
		return reconcile.Mount{}, fmt.Errorf("%s %s: file %q: %w", kind, ref.Source, m.sd.rel(src), err)
	}
	host, err := m.hostBind(src, rel)
	if err != nil {
		return reconcile.Mount{}, fmt.Errorf("%s %s: file %w", kind, ref.Source, err)
	}
	return reconcile.Mount{
		Type:     reconcile.MountBind,
		Source:   host,
		Target:   fileTarget(kind, ref),
		ReadOnly: true,
		Content:  content,
	}, nil
}

// fileTarget is where compose mounts a config (/NAME) or a secret
// (/run/secrets/NAME); a relative target is taken under the same directory.
func fileTarget(kind string, ref types.FileReferenceConfig) string {
	dir := "/"
	if kind == "secret" {
		dir = "/run/secrets"
	}
	t := ref.Target
	if t == "" {
		t = ref.Source
	}
	if !path.IsAbs(t) {
		t = path.Join(dir, t)
	}
	return path.Clean(t)
}

// contentDigest is "sha256:<hex>" over a file or a directory tree of the
// repository (rel, relative to its real root, symlinks resolved): every
// entry's relative path (sorted), type and permission bits, and the
// contents of files or the target of symlinks. Symlinks inside a tree are
// never followed, so the walk stays in the repository; what it reads counts
// against the stack's HashBytes and HashEntries.
func (m mapper) contentDigest(rel string) (string, error) {
	h := sha256.New()
	root := m.repo.root
	fi, err := root.Lstat(rel)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return "", ErrNotRegular
		}
		if err := m.hashEntry(h, rel, ".", fi); err != nil {
			return "", err
		}
		return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
	}
	err = fs.WalkDir(root.FS(), filepath.ToSlash(rel), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := m.budget.ctx.Err(); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		r, err := filepath.Rel(rel, filepath.FromSlash(p))
		if err != nil {
			return err
		}
		return m.hashEntry(h, filepath.FromSlash(p), filepath.ToSlash(r), info)
	})
	if err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// hashEntry hashes the entry p (relative to the repository's real root),
// named rel in the digest.
func (m mapper) hashEntry(h io.Writer, p, rel string, fi fs.FileInfo) error {
	b := m.budget
	if b.hashEntries++; b.hashEntries > b.lim.HashEntries {
		return overLimit("binds, configs and secrets of a stack may hold %d files, directories and symlinks together", b.lim.HashEntries)
	}
	mode := fi.Mode()
	fmt.Fprintf(h, "%q %s\n", rel, mode.String())
	switch {
	case mode.IsDir():
		return nil
	case mode&fs.ModeSymlink != 0:
		target, err := m.repo.root.Readlink(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "-> %q\n", target)
		return nil
	case mode.IsRegular():
		if b.hashBytes += fi.Size(); b.hashBytes > b.lim.HashBytes {
			return overLimit("binds, configs and secrets of a stack may hold %s together", size(b.lim.HashBytes))
		}
		f, err := m.repo.root.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if now, err := f.Stat(); err != nil {
			return err
		} else if !now.Mode().IsRegular() || now.Size() != fi.Size() {
			return fmt.Errorf("%s changed while it was read", filepath.ToSlash(p))
		}
		fmt.Fprintf(h, "%d\n", fi.Size())
		n, err := io.Copy(h, io.LimitReader(f, fi.Size()))
		if err == nil && n != fi.Size() {
			err = fmt.Errorf("%s changed while it was read", filepath.ToSlash(p))
		}
		return err
	}
	return fmt.Errorf("%s is neither a file, a directory nor a symlink", filepath.ToSlash(p))
}
