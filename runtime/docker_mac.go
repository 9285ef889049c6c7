package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/containerd/errdefs/pkg/errhttp"
	"github.com/containerd/platforms"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// createLegacyMAC creates a container on an engine before API 1.44 with
// the container-wide MAC address such engines read from the create
// request (Config.MacAddress), as compose v2 sends it to them. The engine
// client moor uses no longer has that field, so this one create is sent by
// hand, over the client's own connection to the engine.
func (d *Docker) createLegacyMAC(ctx context.Context, opts client.ContainerCreateOptions, mac string) (client.ContainerCreateResult, error) {
	b, err := json.Marshal(container.CreateRequest{Config: opts.Config, HostConfig: opts.HostConfig, NetworkingConfig: opts.NetworkingConfig})
	if err != nil {
		return client.ContainerCreateResult{}, err
	}
	if b, err = withField(b, "MacAddress", mac); err != nil {
		return client.ContainerCreateResult{}, err
	}
	query := url.Values{}
	query.Set("name", opts.Name)
	if opts.Platform != nil {
		query.Set("platform", platforms.Format(*opts.Platform))
	}
	dial := d.cli.Dialer()
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
	}}
	defer hc.CloseIdleConnections()
	u := "http://docker/v" + d.cli.ClientVersion() + "/containers/create?" + query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return client.ContainerCreateResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return client.ContainerCreateResult{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return client.ContainerCreateResult{}, err
	}
	if resp.StatusCode/100 != 2 {
		var msg struct{ Message string }
		if json.Unmarshal(body, &msg) != nil || msg.Message == "" {
			msg.Message = strings.TrimSpace(string(body))
		}
		return client.ContainerCreateResult{}, fmt.Errorf("%w: %s", errhttp.ToNative(resp.StatusCode), msg.Message)
	}
	var created container.CreateResponse
	if err := json.Unmarshal(body, &created); err != nil {
		return client.ContainerCreateResult{}, fmt.Errorf("container create answer: %w", err)
	}
	if created.ID == "" {
		return client.ContainerCreateResult{}, errors.New("container create answered no ID")
	}
	return client.ContainerCreateResult{ID: created.ID, Warnings: created.Warnings}, nil
}

// withField adds the top-level field name = value to the JSON object b.
func withField(b []byte, name string, value any) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, err
	}
	v, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	obj[name] = v
	return json.Marshal(obj)
}
