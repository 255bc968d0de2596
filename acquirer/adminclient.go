package acquirer

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

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
)

// AdminClient talks to a running acquirer's admin API (Admin): posdrill fault, the trainer
// panel of posdrill train --host --admin, and any tool that drives an acquirer from outside
// use it, so the paths and the error handling live next to the server that answers them.
type AdminClient struct {
	base  string // scheme://host[:port][/prefix], no trailing slash
	token string
	http  *http.Client
}

// NewAdminClient accepts HOST:PORT (http is assumed) or an http(s) URL; token, when not
// empty, is sent as a bearer token.
func NewAdminClient(addr, token string) (*AdminClient, error) {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	base = strings.TrimRight(base, "/")
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("admin API address %q: want HOST:PORT or a URL like http://127.0.0.1:8584", addr)
	}
	return &AdminClient{base: base, token: token, http: &http.Client{Timeout: 10 * time.Second}}, nil
}

// Base is the URL every request path is appended to.
func (c *AdminClient) Base() string { return c.base }

// AdminError is an answer of the admin API other than 2xx. A 4xx means the request was
// refused (a rule that does not validate, a wrong token, an unknown card): the caller's input.
type AdminError struct {
	Status int
	Msg    string // masked
}

func (e *AdminError) Error() string { return e.Msg }

// Refused reports whether the API refused the request (4xx) rather than failed (5xx).
func (e *AdminError) Refused() bool { return e.Status >= 400 && e.Status < 500 }

// Balance is one card's balance.
func (c *AdminClient) Balance(ctx context.Context, card string) (Balance, error) {
	var b Balance
	err := c.Do(ctx, http.MethodGet, "/cards/"+url.PathEscape(card), nil, &b)
	return b, err
}

// Transactions is the acquirer's transaction journal, oldest first.
func (c *AdminClient) Transactions(ctx context.Context) ([]Txn, error) {
	return c.TransactionsOf(ctx, Filter{})
}

// TransactionsOf is the part of the transaction journal f selects (the admin API's
// terminal, card, stan, since and limit parameters), oldest first.
func (c *AdminClient) TransactionsOf(ctx context.Context, f Filter) ([]Txn, error) {
	q := url.Values{}
	for k, v := range map[string]string{"terminal": f.Terminal, "card": f.Card, "stan": f.STAN} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if f.Limit > 0 {
		q.Set("limit", fmt.Sprint(f.Limit))
	}
	path := "/transactions"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var txns []Txn
	err := c.Do(ctx, http.MethodGet, path, nil, &txns)
	return txns, err
}

// Journal is the acquirer's message journal for one terminal and STAN (either may be
// empty: any), oldest first.
func (c *AdminClient) Journal(ctx context.Context, terminal, stan string) ([]Entry, error) {
	q := url.Values{}
	if terminal != "" {
		q.Set("terminal", terminal)
	}
	if stan != "" {
		q.Set("stan", stan)
	}
	var entries []Entry
	err := c.Do(ctx, http.MethodGet, "/journal?"+q.Encode(), nil, &entries)
	return entries, err
}

// AddFaults adds rules (all or none: a rule that does not validate refuses the lot) and
// returns their ids.
func (c *AdminClient) AddFaults(ctx context.Context, rules ...fault.Rule) ([]string, error) {
	var out struct {
		IDs []string `json:"ids"`
	}
	err := c.Do(ctx, http.MethodPost, "/faults", rules, &out)
	return out.IDs, err
}

// Faults lists the running rules with their match and fire counts.
func (c *AdminClient) Faults(ctx context.Context) ([]fault.Rule, error) {
	var rules []fault.Rule
	err := c.Do(ctx, http.MethodGet, "/faults", nil, &rules)
	return rules, err
}

// ClearFaults removes the rule with id, or every rule when id is "".
func (c *AdminClient) ClearFaults(ctx context.Context, id string) error {
	path := "/faults"
	if id != "" {
		path += "/" + url.PathEscape(id)
	}
	return c.Do(ctx, http.MethodDelete, path, nil, nil)
}

// Reset puts the ledger back to the fixtures and empties the journal, transactions and
// batches (Acquirer.Reset).
func (c *AdminClient) Reset(ctx context.Context) error {
	return c.Do(ctx, http.MethodPost, "/reset", nil, nil)
}

// Do sends a request (body, when not nil, as JSON) and decodes a JSON answer into out (when
// not nil). Non-2xx answers become errors carrying the server's message, masked.
func (c *AdminClient) Do(ctx context.Context, method, path string, body any, out any) error {
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
		return &AdminError{Status: resp.StatusCode, Msg: fmt.Sprintf("admin API %s %s: %s: %s", method, path, resp.Status, iso.MaskText(msg))}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("admin API %s %s: decoding answer: %w", method, path, err)
		}
	}
	return nil
}
