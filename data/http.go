package data

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/strata-db/strata/internal/nodeauth"
	"github.com/strata-db/strata/meta"
)

// InfluxDBVersion is what /ping and every response report in
// X-Influxdb-Version: the InfluxDB 1.x API level Strata speaks, so client
// libraries that branch on it pick their 1.x code paths.
const InfluxDBVersion = "1.8.10"

// metaView is what the client API needs from the meta client.
type metaView interface {
	Data() *meta.Data
	// Refresh reads the current state from meta into the cache.
	Refresh(ctx context.Context) (*meta.Data, error)
	CreateDatabase(ctx context.Context, name string, spec *meta.RetentionPolicySpec) (*meta.DatabaseInfo, error)
}

// handler serves the InfluxDB 1.x client HTTP API.
type handler struct {
	cfg     Config
	build   string
	meta    metaView
	writer  pointsWriter
	gather  prometheus.Gatherer
	logger  *slog.Logger
	metrics *httpMetrics
	mux     *http.ServeMux
	auth    authCache
	// nodeKey verifies requests signed with the internal shared secret,
	// which the operator endpoints accept (nil: no secret).
	nodeKey *nodeauth.Key
	writes  *writeLimiter
	// shards lists the node's shards for ShardsPath (nil: none).
	shards func() []ShardStatus
	// ddl runs cluster-state statements; queries runs SELECT and SHOW over
	// the data; deletes runs DROP/DELETE on the owners. Nil disables them.
	ddl metaDDL
	// users runs the user and privilege statements (nil: unsupported).
	users   userAdmin
	queries queryRunner
	deletes deleter
}

func newHandler(cfg Config, build string, mv metaView, w pointsWriter, gather prometheus.Gatherer, logger *slog.Logger, m *httpMetrics) *handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{cfg: cfg, build: build, meta: mv, writer: w, gather: gather, logger: logger, metrics: m, writes: newWriteLimiter(cfg.HTTP, m)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /write", h.serveWrite)
	mux.HandleFunc("POST /api/v2/write", h.serveWriteV2)
	mux.Handle("GET /query", pacedQueries(http.HandlerFunc(h.serveQuery)))
	mux.Handle("POST /query", pacedQueries(http.HandlerFunc(h.serveQuery)))
	mux.HandleFunc("POST /api/v2/query", func(w http.ResponseWriter, _ *http.Request) {
		httpError(w, http.StatusNotImplemented, "Flux is not supported: send InfluxQL to /query (InfluxDB 1.x API)")
	})
	mux.HandleFunc("GET /ping", h.servePing)
	mux.HandleFunc("HEAD /ping", h.servePing)
	mux.HandleFunc("GET /health", h.serveHealth)
	mux.Handle("GET /metrics", promhttp.HandlerFor(gather, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET "+ShardsPath, h.serveShards)
	mux.HandleFunc("GET /debug/vars", h.serveDebugVars)
	if cfg.HTTP.PprofEnabled {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	h.mux = mux
	return h
}

// ServeHTTP sets InfluxDB's headers on every answer and dispatches.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Influxdb-Version", InfluxDBVersion)
	hdr.Set("X-Influxdb-Build", "ENT")
	hdr.Set("X-Strata-Build", h.build)
	h.mux.ServeHTTP(w, r)
}

// httpError writes InfluxDB's error answer: {"error": msg} and the
// X-Influxdb-Error header.
func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Influxdb-Error", strings.ReplaceAll(msg, "\n", " "))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// readQueryForm parses /query's parameters, from the URL and a form body
// of at most maxQueryBytes. It answers 413 for a larger body (rather than
// reading on as if q were missing) and 400 for a malformed one, and then
// returns false.
func readQueryForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxQueryBytes)
	err := r.ParseForm()
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large: /query takes at most %d bytes", maxQueryBytes))
		return false
	case err != nil:
		httpError(w, http.StatusBadRequest, "read query parameters: "+err.Error())
		return false
	}
	return true
}

func (h *handler) servePing(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("verbose") == "true" {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"version": InfluxDBVersion})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveHealth answers InfluxDB 1.8's /health body; a node that has not yet
// learnt the cluster state from meta is not ready.
func (h *handler) serveHealth(w http.ResponseWriter, _ *http.Request) {
	body := map[string]any{"name": "strata", "version": InfluxDBVersion, "checks": []any{}}
	status := http.StatusOK
	if h.meta.Data() == nil {
		status = http.StatusServiceUnavailable
		body["status"], body["message"] = "fail", "no cluster state from the meta nodes yet"
	} else {
		body["status"], body["message"] = "pass", "ready for queries and writes"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
