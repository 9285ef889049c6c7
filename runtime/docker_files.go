package runtime

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/reconcile"
)

// copyFiles writes spec.Files into the created container id, as compose v2
// writes configs and secrets with inline content (injectFileReferences):
// one tar extracted at /, each file 0444 unless a mode is given, owned by
// its uid and gid when one is given.
func (d *Docker) copyFiles(ctx context.Context, id string, files []reconcile.File) error {
	if len(files) == 0 {
		return nil
	}
	archive, owned, err := filesTar(files)
	if err != nil {
		return err
	}
	d.call()
	_, err = d.cli.CopyToContainer(ctx, id, client.CopyToContainerOptions{
		DestinationPath: "/", Content: archive, CopyUIDGID: owned,
	})
	if err != nil {
		return fmt.Errorf("write configs and secrets: %w", classify(err))
	}
	return nil
}

// filesTar is the tar of files, and whether one of them names an owner.
func filesTar(files []reconcile.File) (*bytes.Buffer, bool, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	owned := false
	now := time.Now()
	for _, f := range files {
		mode := int64(0o444)
		if f.Mode != 0 {
			mode = int64(f.Mode)
		}
		h := &tar.Header{Name: f.Target, Size: int64(len(f.Content)), Mode: mode, ModTime: now, Typeflag: tar.TypeReg}
		for _, id := range []struct {
			s   string
			dst *int
		}{{f.UID, &h.Uid}, {f.GID, &h.Gid}} {
			if id.s == "" {
				continue
			}
			n, err := strconv.Atoi(id.s)
			if err != nil {
				return nil, false, fmt.Errorf("file %s: uid and gid must be numbers: %q", f.Target, id.s)
			}
			*id.dst = n
			owned = true
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, false, err
		}
		if _, err := tw.Write([]byte(f.Content)); err != nil {
			return nil, false, err
		}
	}
	return &b, owned, tw.Close()
}
