package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxErrorBody is how much of an error response body is kept.
const maxErrorBody = 4096

// client sends writes and queries to one server over keep-alive
// connections. It is safe for concurrent use.
type client struct {
	cfg       Config
	http      *http.Client
	transport *http.Transport
	writeURL  string
	queryURL  string
}

func newClient(cfg Config) (*client, error) {
	base, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil {
		return nil, fmt.Errorf("%w: url %q: %w", ErrInvalidConfig, cfg.URL, err)
	}
	q := url.Values{}
	q.Set("db", cfg.Database)
	if cfg.RetentionPolicy != "" {
		q.Set("rp", cfg.RetentionPolicy)
	}
	if cfg.Precision != "" {
		q.Set("precision", cfg.Precision)
	}
	if cfg.Consistency != "" {
		q.Set("consistency", cfg.Consistency)
	}
	if cfg.TLS != nil && base.Scheme == "http" {
		base.Scheme = "https"
	}
	w := *base
	w.Path += "/write"
	w.RawQuery = q.Encode()
	qu := *base
	qu.Path += "/query"
	tr := newTransport(cfg.Workers, cfg.TLS)
	return &client{
		cfg:       cfg,
		http:      &http.Client{Transport: tr},
		transport: tr,
		writeURL:  w.String(),
		queryURL:  qu.String(),
	}, nil
}

// newTransport is an HTTP/1.1 transport keeping one idle keep-alive
// connection per worker, bodies not compressed.
func newTransport(workers int, tlsCfg *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConns:        workers,
		MaxIdleConnsPerHost: workers,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		TLSClientConfig:     tlsCfg,
	}
}

// close drops the idle connections.
func (c *client) close() {
	c.transport.CloseIdleConnections()
}

// write posts one body. It returns nil on a 2xx answer, an *HTTPError for
// any other status, or the transport error.
func (c *client) write(ctx context.Context, body []byte, gzipped bool) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.writeURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build write request: %w", err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	c.auth(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return readAnswer(resp, "write")
}

func (c *client) auth(req *http.Request) {
	if c.cfg.Username != "" {
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
}

// readAnswer drains and closes resp's body (so the connection is reused)
// and turns a non-2xx status into an *HTTPError.
func readAnswer(resp *http.Response, op string) error {
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return &HTTPError{Op: op, StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(b))}
}

// createDatabase sends CREATE DATABASE for the configured database to
// /query and checks the statement's result.
func (c *client) createDatabase(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	form := url.Values{}
	form.Set("q", "CREATE DATABASE "+quoteIdent(c.cfg.Database))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.queryURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("build create database request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	c.auth(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("create database: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		if len(body) > maxErrorBody {
			body = body[:maxErrorBody]
		}
		return &HTTPError{Op: "create database", StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(body))}
	}
	var ans struct {
		Error   string `json:"error"`
		Results []struct {
			Error string `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return fmt.Errorf("create database: decode answer: %w", err)
	}
	if ans.Error != "" {
		return &HTTPError{Op: "create database", StatusCode: resp.StatusCode, Body: ans.Error}
	}
	for _, r := range ans.Results {
		if r.Error != "" {
			return &HTTPError{Op: "create database", StatusCode: resp.StatusCode, Body: r.Error}
		}
	}
	return nil
}

// quoteIdent double-quotes an InfluxQL identifier.
func quoteIdent(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
