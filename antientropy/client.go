package antientropy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// RPC paths the Handler serves (docs/wire.md); every one is a POST.
const (
	// PathPrefix is the prefix data mounts the Handler under.
	PathPrefix = "/rpc/v1/ae/"
	// RootPath answers a RootRequest with a RootResponse.
	RootPath = PathPrefix + "root"
	// NodesPath answers a NodesRequest with a NodesResponse.
	NodesPath = PathPrefix + "nodes"
	// SeriesPath answers a SeriesRequest with a SeriesResponse.
	SeriesPath = PathPrefix + "series"
	// SlicesPath answers a SlicesRequest with a SlicesResponse.
	SlicesPath = PathPrefix + "slices"
	// FetchPath answers a FetchRequest with a FetchResponse.
	FetchPath = PathPrefix + "fetch"
	// ApplyPath applies an ApplyRequest and answers an ApplyResponse.
	ApplyPath = PathPrefix + "apply"
	// ShardSendPath answers a StreamRequest with the shard's stream.
	ShardSendPath = PathPrefix + "shard/send"
	// ShardReceivePath (?shard=ID) applies the shard stream in the body and
	// answers an ApplyResponse.
	ShardReceivePath = PathPrefix + "shard/receive"
)

// ContentType is the media type of anti-entropy bodies.
const ContentType = "application/x-strata-ae"

// PeerError is an answer other than 2xx from a peer's Handler. It unwraps
// to ErrShardNotFound, ErrCorruptMessage or ErrLayoutMismatch when its code
// says so.
type PeerError struct {
	Node       uint64
	StatusCode int
	Code       string
	Message    string
}

// Error implements error.
func (e *PeerError) Error() string {
	return fmt.Sprintf("node %d answered %d %s: %s", e.Node, e.StatusCode, e.Code, e.Message)
}

// Unwrap returns the sentinel of Code, or nil.
func (e *PeerError) Unwrap() error {
	switch e.Code {
	case codeShardNotFound:
		return ErrShardNotFound
	case codeCorrupt:
		return ErrCorruptMessage
	case codeLayout:
		return ErrLayoutMismatch
	case codeDisabled:
		return ErrDisabled
	}
	return nil
}

// HTTPPeers implements Peers over HTTP to each node's internode RPC
// address, looked up in the meta state on every call. Safe for concurrent
// use.
type HTTPPeers struct {
	meta   MetaView
	client *http.Client
	tr     *http.Transport
}

// NewHTTPPeers returns peers reached through meta's node addresses;
// dialTimeout bounds connecting, headerTimeout waiting for an answer's
// headers, and maxConnsPerPeer (0: no bound) the connections open to one
// peer at once (more requests wait for one).
func NewHTTPPeers(meta MetaView, dialTimeout, headerTimeout time.Duration, maxConnsPerPeer int) *HTTPPeers {
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   4,
		MaxConnsPerHost:       maxConnsPerPeer,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: headerTimeout,
		DisableCompression:    true,
	}
	return &HTTPPeers{meta: meta, client: &http.Client{Transport: tr}, tr: tr}
}

// WrapTransport puts wrap around the peers' transport, e.g. to sign every
// request (internal/nodeauth). Call it before the first request.
func (p *HTTPPeers) WrapTransport(wrap func(http.RoundTripper) http.RoundTripper) {
	p.client.Transport = wrap(p.tr)
}

// Post implements Peers.
func (p *HTTPPeers) Post(ctx context.Context, node uint64, path string, body io.Reader) (io.ReadCloser, error) {
	d := p.meta.Data()
	if d == nil || d.DataNode(node) == nil {
		return nil, fmt.Errorf("anti-entropy peer %d: not a data node in the cluster state", node)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+d.DataNode(node).RPCAddr+path, body)
	if err != nil {
		return nil, fmt.Errorf("anti-entropy request to node %d: %w", node, err)
	}
	req.Header.Set("Content-Type", ContentType)
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("anti-entropy request to node %d: %w", node, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var a answer
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &a) != nil {
			a.Error = string(b)
		}
		return nil, &PeerError{Node: node, StatusCode: resp.StatusCode, Code: a.Code, Message: a.Error}
	}
	return resp.Body, nil
}

// Close drops pooled connections.
func (p *HTTPPeers) Close() { p.tr.CloseIdleConnections() }
