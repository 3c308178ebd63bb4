package data

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/strata-db/strata/meta"
)

// NodeClient calls the backup and restore endpoints of data nodes' client
// APIs; it implements ShardSource and ShardSink. Safe for concurrent use.
type NodeClient struct {
	// HTTP sends the requests (nil: http.DefaultClient).
	HTTP *http.Client
	// Scheme is "http" or "https" ("" means http).
	Scheme string
	// User and Password, when User is set, are sent as HTTP Basic
	// credentials.
	User, Password string
}

// NodeError is a data node's answer other than 2xx.
type NodeError struct {
	Node       uint64
	StatusCode int
	Message    string
}

// Error implements error.
func (e *NodeError) Error() string {
	return fmt.Sprintf("data node %d answered %d: %s", e.Node, e.StatusCode, e.Message)
}

// do sends a request to node and returns a 2xx answer, or a *NodeError.
func (c *NodeClient) do(ctx context.Context, node meta.NodeInfo, method, path string, q url.Values, body io.Reader) (*http.Response, error) {
	scheme := c.Scheme
	if scheme == "" {
		scheme = "http"
	}
	u := url.URL{Scheme: scheme, Host: node.HTTPAddr, Path: path, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("request to data node %d: %w", node.ID, err)
	}
	if c.User != "" {
		req.SetBasicAuth(c.User, c.Password)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("request to data node %d: %w", node.ID, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var e struct{ Error string }
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(b))
	}
	return nil, &NodeError{Node: node.ID, StatusCode: resp.StatusCode, Message: e.Error}
}

// OpenShard implements ShardSource.
func (c *NodeClient) OpenShard(ctx context.Context, node meta.NodeInfo, shard uint64, digest string) (*ShardBackup, error) {
	q := url.Values{"shard": {strconv.FormatUint(shard, 10)}}
	if digest != "" {
		q.Set("digest", digest)
	}
	resp, err := c.do(ctx, node, http.MethodGet, BackupShardPath, q, nil)
	if err != nil {
		return nil, err
	}
	ans := &ShardBackup{Digest: resp.Header.Get(BackupDigestHeader)}
	for _, id := range strings.Split(resp.Header.Get(BackupUnreconciledHeader), ",") {
		if n, err := strconv.ParseUint(strings.TrimSpace(id), 10, 64); err == nil {
			ans.Unreconciled = append(ans.Unreconciled, n)
		}
	}
	if ans.Digest == "" {
		resp.Body.Close()
		return nil, fmt.Errorf("data node %d sent shard %d without %s", node.ID, shard, BackupDigestHeader)
	}
	if resp.StatusCode == http.StatusNoContent {
		resp.Body.Close()
		return ans, nil
	}
	ans.Body = resp.Body
	ans.Totals = func() (int, int, error) {
		values, err1 := strconv.Atoi(resp.Trailer.Get(BackupValuesTrailer))
		tombs, err2 := strconv.Atoi(resp.Trailer.Get(BackupTombstonesTrailer))
		if err := errors.Join(err1, err2); err != nil {
			return 0, 0, fmt.Errorf("data node %d cut the stream of shard %d short (no totals after it): %w", node.ID, shard, err)
		}
		return values, tombs, nil
	}
	return ans, nil
}

// RestoreShard implements ShardSink.
func (c *NodeClient) RestoreShard(ctx context.Context, node meta.NodeInfo, db, rp string, body io.Reader) (RestoreResult, error) {
	var res RestoreResult
	resp, err := c.do(ctx, node, http.MethodPost, RestorePath, url.Values{"db": {db}, "rp": {rp}}, body)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return res, fmt.Errorf("answer of data node %d: %w", node.ID, err)
	}
	return res, nil
}
