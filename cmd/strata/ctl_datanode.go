package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/internal/nodeauth"
	"github.com/strata-db/strata/meta"
)

// dataNodeClient is how ctl calls the operator endpoints (/strata/v1/…) on
// the data nodes' client HTTP API. It speaks HTTPS when any of --tls,
// --ca-cert or --insecure-skip-verify is given (data nodes with [http]
// https-enabled), signs every request with the internal shared secret
// (which a data node accepts as the operator's proof, as meta does), and
// sends --user/--pwd as HTTP Basic credentials when given (for data nodes
// with auth-enabled whose secret ctl does not hold). Safe for concurrent
// use.
type dataNodeClient struct {
	client         *http.Client
	scheme         string
	user, password string
}

// newDataNodeClient returns a client over TLS config tc (nil: plain HTTP),
// signing with secret ("": unsigned) and sending user and password when
// user is not empty.
func newDataNodeClient(tc *tls.Config, secret, user, password string) *dataNodeClient {
	tr := &http.Transport{
		DialContext:     (&net.Dialer{Timeout: ctlDialTimeout}).DialContext,
		TLSClientConfig: tc,
	}
	c := &dataNodeClient{client: &http.Client{Transport: nodeauth.New(secret).Transport(tr)}, scheme: "http", user: user, password: password}
	if tc != nil {
		c.scheme = "https"
	}
	return c
}

// dataNodeError is a data node's non-2xx answer, with the message of its
// {"error": …} body.
type dataNodeError struct {
	Addr       string
	StatusCode int
	Message    string
}

func (e *dataNodeError) Error() string {
	return fmt.Sprintf("%s answered %d: %s", e.Addr, e.StatusCode, e.Message)
}

// call sends method path (with its query) to the data node at httpAddr and
// decodes the JSON answer into v (when not nil). A non-2xx answer is a
// *dataNodeError.
func (c *dataNodeClient) call(ctx context.Context, method, httpAddr, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.scheme+"://"+httpAddr+path, nil)
	if err != nil {
		return fmt.Errorf("build request to %s: %w", httpAddr, err)
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = string(b)
		}
		return &dataNodeError{Addr: httpAddr, StatusCode: resp.StatusCode, Message: e.Error}
	}
	if v == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("decode answer of %s: %w", httpAddr, err)
	}
	return nil
}

// nodeAnswer is one data node's answer in askDataNodes: the decoded Value,
// or the Err that kept the node from giving one.
type nodeAnswer[T any] struct {
	Node  uint64
	Value T
	Err   error
}

// askDataNodes sends method path to every node in nodes at once, each
// request bounded by --timeout, and returns the answers in nodes' order.
func askDataNodes[T any](cmd *cobra.Command, o *ctlOptions, nodes []meta.NodeInfo, method, path string) []nodeAnswer[T] {
	answers := make([]nodeAnswer[T], len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			ctx, cancel := o.context(cmd)
			defer cancel()
			answers[i].Node = n.ID
			answers[i].Err = o.dataNodes.call(ctx, method, n.HTTPAddr, path, &answers[i].Value)
		})
	}
	wg.Wait()
	return answers
}

// unanswered lists the nodes whose answer is an error.
func unanswered[T any](answers []nodeAnswer[T]) []uint64 {
	var down []uint64
	for _, a := range answers {
		if a.Err != nil {
			down = append(down, a.Node)
		}
	}
	return down
}

// printUnanswered adds a line to a table for each node whose answer is an
// error.
func printUnanswered[T any](w io.Writer, answers []nodeAnswer[T]) {
	for _, a := range answers {
		if a.Err != nil {
			fmt.Fprintf(w, "\ndata node %d did not answer: %v\n", a.Node, a.Err)
		}
	}
}
