package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/posdrill/posdrill/iso"
)

// adminClient talks to a running acquirer's admin API (posdrill fault, and the trainer
// panel of posdrill train --host --admin).
type adminClient struct {
	base  string // scheme://host[:port][/prefix], no trailing slash
	token string
	http  *http.Client
}

// newAdminClient accepts HOST:PORT (http is assumed) or an http(s) URL.
func newAdminClient(addr, token string) (*adminClient, error) {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	base = strings.TrimRight(base, "/")
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("admin API address %q: want HOST:PORT or a URL like http://127.0.0.1:8584", addr)
	}
	return &adminClient{base: base, token: token, http: &http.Client{Timeout: 10 * time.Second}}, nil
}

// do sends a request (body, when not nil, as JSON) and decodes a JSON answer into out (when
// not nil). Non-2xx answers become errors carrying the server's message, masked.
func (c *adminClient) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin API %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("admin API %s %s: reading answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return fmt.Errorf("admin API %s %s: %s: %s", method, path, resp.Status, iso.MaskText(msg))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("admin API %s %s: decoding answer: %w", method, path, err)
		}
	}
	return nil
}
