package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// QueryTarget is one InfluxDB 1.x compatible server a query benchmark
// sends its queries to.
type QueryTarget struct {
	// Name labels the target's figures ("strata", "influxd").
	Name string
	// URL is the server's client API base, e.g. http://127.0.0.1:8086.
	URL string
}

// QueryConfig says where and how a query benchmark runs.
type QueryConfig struct {
	// Targets are the servers, each holding the same data; every one is
	// sent the very same queries.
	Targets []QueryTarget
	// Database is the db parameter of every query.
	Database string
	// Username and Password, when Username is set, go in HTTP basic auth.
	Username, Password string
	// TLS, if set, sends every request over TLS with it.
	TLS *tls.Config
	// Workers is the number of concurrent clients, one keep-alive
	// connection each (TSBS's runner uses 2).
	Workers int
	// Queries is how many queries of each type each target is sent.
	Queries int
	// Timeout bounds each query.
	Timeout time.Duration
	// Seed draws the queries' hosts and time ranges.
	Seed uint64
	// Space is the extent of the data.
	Space QuerySpace
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c QueryConfig) Validate() error {
	switch {
	case len(c.Targets) == 0:
		return fmt.Errorf("%w: no target URL", ErrInvalidConfig)
	case c.Database == "":
		return fmt.Errorf("%w: no database", ErrInvalidConfig)
	case c.Workers < 1:
		return fmt.Errorf("%w: workers = %d, want >= 1", ErrInvalidConfig, c.Workers)
	case c.Queries < 1:
		return fmt.Errorf("%w: queries = %d, want >= 1", ErrInvalidConfig, c.Queries)
	case c.Timeout <= 0:
		return fmt.Errorf("%w: timeout = %s, want > 0", ErrInvalidConfig, c.Timeout)
	case c.Space.Hosts < 1 || !c.Space.End.After(c.Space.Start):
		return fmt.Errorf("%w: the data's extent needs at least one host and a start before its end", ErrInvalidConfig)
	}
	for _, t := range c.Targets {
		if u, err := url.Parse(t.URL); err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("%w: target %s: url %q is not an absolute URL", ErrInvalidConfig, t.Name, t.URL)
		}
	}
	return nil
}

// QueryStats are the latencies of one batch of queries on one target, each
// measured from sending the request until the whole answer was read.
type QueryStats struct {
	Target  string `json:"target"`
	Workers int    `json:"workers"`
	// Queries counts the queries sent; Errors those that failed (a
	// transport error, a status other than 200 or an "error" in the answer).
	Queries    int    `json:"queries"`
	Errors     int    `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	// Elapsed is the batch's wall time; Rate is Queries/Elapsed.
	Elapsed time.Duration `json:"elapsed_ns"`
	Rate    float64       `json:"queries_per_s"`
	// Mean and the percentiles are over the answered queries.
	Mean time.Duration `json:"mean_ns"`
	P50  time.Duration `json:"p50_ns"`
	P90  time.Duration `json:"p90_ns"`
	P99  time.Duration `json:"p99_ns"`
	Max  time.Duration `json:"max_ns"`
}

// ShapeResult is one query type's figures on every target.
type ShapeResult struct {
	Shape string `json:"query_type"`
	// Example is the first query sent.
	Example string `json:"example"`
	// Stats has one entry per target, in the configuration's order.
	Stats []QueryStats `json:"targets"`
	// Mismatch, when not empty, says how the targets' answers to the
	// first query differed.
	Mismatch string `json:"mismatch,omitempty"`
}

// MixResult is a mix of query types sent by one client and then by many.
type MixResult struct {
	Target string `json:"target"`
	// Single is the mix sent by one client, Concurrent by Workers clients.
	Single     QueryStats `json:"single"`
	Concurrent QueryStats `json:"concurrent"`
	// Shapes breaks both down by query type.
	Shapes []MixShape `json:"query_types"`
}

// MixShape is one query type's share of a MixResult.
type MixShape struct {
	Shape      string     `json:"query_type"`
	Single     QueryStats `json:"single"`
	Concurrent QueryStats `json:"concurrent"`
}

// P99Ratio is the concurrent p99 over the one-client mean.
func (m MixShape) P99Ratio() float64 {
	if m.Single.Mean == 0 {
		return 0
	}
	return float64(m.Concurrent.P99) / float64(m.Single.Mean)
}

// P99Ratio is the concurrent p99 over the one-client mean.
func (m MixResult) P99Ratio() float64 {
	if m.Single.Mean == 0 {
		return 0
	}
	return float64(m.Concurrent.P99) / float64(m.Single.Mean)
}

// QueryBench sends TSBS-style queries to one or more servers.
type QueryBench struct {
	cfg     QueryConfig
	clients []*queryClient
}

// NewQueryBench validates cfg and returns a QueryBench; Close it.
func NewQueryBench(cfg QueryConfig) (*QueryBench, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &QueryBench{cfg: cfg}
	for _, t := range cfg.Targets {
		b.clients = append(b.clients, newQueryClient(cfg, t))
	}
	return b, nil
}

// Close drops the idle keep-alive connections.
func (b *QueryBench) Close() {
	for _, c := range b.clients {
		c.transport.CloseIdleConnections()
	}
}

// RunShapes sends Queries queries of each shape to every target with
// Workers clients, one shape and one target at a time (the target that
// goes first rotates from shape to shape, so drift in the machine's load
// is shared). The first query of each shape is sent once to every target
// untimed, and the answers compared. progress, when not nil, gets a line
// per shape.
func (b *QueryBench) RunShapes(ctx context.Context, shapes []QueryShape, progress io.Writer) ([]ShapeResult, error) {
	var out []ShapeResult
	for si, shape := range shapes {
		queries, err := shape.Generate(b.cfg.Space, b.cfg.Queries, b.cfg.Seed)
		if err != nil {
			return out, err
		}
		res := ShapeResult{Shape: shape.Name, Example: queries[0], Stats: make([]QueryStats, len(b.clients))}
		res.Mismatch = b.compareAnswers(ctx, queries[0])
		for k := range b.clients {
			ti := (si + k) % len(b.clients)
			res.Stats[ti] = b.clients[ti].run(ctx, queries, b.cfg.Workers)
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		out = append(out, res)
		if progress != nil {
			fmt.Fprintf(progress, "%-24s", shape.Name)
			for _, st := range res.Stats {
				fmt.Fprintf(progress, "  %s %s", st.Target, formatLatency(st.Mean))
			}
			fmt.Fprintln(progress)
		}
	}
	return out, nil
}

// RunMix sends Queries queries of each shape, interleaved (one of each
// shape in turn), to every target: first from one client, then from
// Workers clients at once.
func (b *QueryBench) RunMix(ctx context.Context, shapes []QueryShape) ([]MixResult, error) {
	perShape := make([][]string, len(shapes))
	for i, s := range shapes {
		q, err := s.Generate(b.cfg.Space, b.cfg.Queries, b.cfg.Seed)
		if err != nil {
			return nil, err
		}
		perShape[i] = q
	}
	var mix []string
	var kinds []int
	for j := range b.cfg.Queries {
		for i := range shapes {
			mix = append(mix, perShape[i][j])
			kinds = append(kinds, i)
		}
	}
	out := make([]MixResult, len(b.clients))
	for i, c := range b.clients {
		single, t1 := c.send(ctx, mix, 1)
		conc, tn := c.send(ctx, mix, b.cfg.Workers)
		r := MixResult{Target: c.target.Name, Single: single.stats(c.target.Name, 1, t1), Concurrent: conc.stats(c.target.Name, b.cfg.Workers, tn)}
		for k, s := range shapes {
			of := func(ls latencies) latencies {
				var sub latencies
				for q, kind := range kinds {
					if kind == k {
						sub.d = append(sub.d, ls.d[q])
					}
				}
				sub.firstErr = ls.firstErr
				return sub
			}
			r.Shapes = append(r.Shapes, MixShape{Shape: s.Name,
				Single: of(single).stats(c.target.Name, 1, t1), Concurrent: of(conc).stats(c.target.Name, b.cfg.Workers, tn)})
		}
		out[i] = r
		if err := ctx.Err(); err != nil {
			return out[:i], err
		}
	}
	return out, nil
}

// compareAnswers sends q to every target and says how the answers differ
// ("" when they decode to the same JSON).
func (b *QueryBench) compareAnswers(ctx context.Context, q string) string {
	var first any
	for i, c := range b.clients {
		body, err := c.query(ctx, q)
		if err != nil {
			return fmt.Sprintf("%s: %v", c.target.Name, err)
		}
		var ans any
		if err := json.Unmarshal(body, &ans); err != nil {
			return fmt.Sprintf("%s: answer is not JSON: %v", c.target.Name, err)
		}
		if i == 0 {
			first = ans
			continue
		}
		if !reflect.DeepEqual(first, ans) {
			return fmt.Sprintf("%s and %s answer differently", b.clients[0].target.Name, c.target.Name)
		}
	}
	return ""
}

// queryClient sends queries to one target over keep-alive connections.
type queryClient struct {
	cfg       QueryConfig
	target    QueryTarget
	http      *http.Client
	transport *http.Transport
	base      string
}

func newQueryClient(cfg QueryConfig, t QueryTarget) *queryClient {
	tr := newTransport(cfg.Workers, cfg.TLS)
	base := strings.TrimRight(t.URL, "/") + "/query?" + url.Values{"db": {cfg.Database}}.Encode() + "&q="
	return &queryClient{cfg: cfg, target: t, http: &http.Client{Transport: tr}, transport: tr, base: base}
}

// query GETs /query?db=…&q=q, as TSBS's runner does, and returns the
// whole answer; a status other than 200 or an "error" in the answer is an
// error.
func (c *queryClient) query(ctx context.Context, q string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+url.QueryEscape(q), nil)
	if err != nil {
		return nil, err
	}
	if c.cfg.Username != "" {
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPError{Op: "query", StatusCode: resp.StatusCode, Body: string(body[:min(len(body), maxErrorBody)])}
	}
	if bytes.Contains(body, []byte(`"error"`)) {
		return nil, &HTTPError{Op: "query", StatusCode: resp.StatusCode, Body: string(body[:min(len(body), maxErrorBody)])}
	}
	return body, nil
}

// latencies are the times of a batch of queries, in the batch's order:
// -1 for a query that failed, 0 for one not sent.
type latencies struct {
	d        []time.Duration
	firstErr string
}

// send sends every query once with workers clients and times each; it
// returns the latencies and the batch's wall time.
func (c *queryClient) send(ctx context.Context, queries []string, workers int) (latencies, time.Duration) {
	lat := make([]time.Duration, len(queries))
	var (
		next     atomic.Int64
		firstErr sync.Once
		first    string
		wg       sync.WaitGroup
	)
	t0 := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(queries) || ctx.Err() != nil {
					return
				}
				s := time.Now()
				_, err := c.query(ctx, queries[i])
				lat[i] = max(time.Since(s), 1)
				if err != nil {
					lat[i] = -1
					firstErr.Do(func() { first = err.Error() })
				}
			}
		})
	}
	wg.Wait()
	return latencies{d: lat, firstErr: first}, time.Since(t0)
}

// run sends every query once with workers clients and times each.
func (c *queryClient) run(ctx context.Context, queries []string, workers int) QueryStats {
	ls, elapsed := c.send(ctx, queries, workers)
	return ls.stats(c.target.Name, workers, elapsed)
}

// stats summarizes the latencies of a batch that took elapsed.
func (ls latencies) stats(target string, workers int, elapsed time.Duration) QueryStats {
	st := QueryStats{Target: target, Workers: workers, Elapsed: elapsed}
	var ok []time.Duration
	for _, d := range ls.d {
		switch {
		case d < 0:
			st.Errors++
		case d > 0:
			ok = append(ok, d)
		}
	}
	if st.Errors > 0 {
		st.FirstError = ls.firstErr
	}
	st.Queries = len(ok) + st.Errors
	st.Rate = float64(st.Queries) / elapsed.Seconds()
	if len(ok) == 0 {
		return st
	}
	slices.Sort(ok)
	var sum time.Duration
	for _, d := range ok {
		sum += d
	}
	st.Mean = sum / time.Duration(len(ok))
	// Nearest rank: the smallest latency at least q of the queries had.
	at := func(q float64) time.Duration { return ok[max(0, int(math.Ceil(q*float64(len(ok))))-1)] }
	st.P50, st.P90, st.P99, st.Max = at(0.50), at(0.90), at(0.99), ok[len(ok)-1]
	return st
}
