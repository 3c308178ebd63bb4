package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/pflag"

	"github.com/strata-db/strata/internal/gcpace"
)

// lifecycle is a server as the process runs it.
type lifecycle interface {
	Open() error
	Close() error
}

// openCanceller is a server whose Open may wait long (a new data node
// waiting for meta) and can be told to give up.
type openCanceller interface {
	CancelOpen()
}

// override copies each set flag's value into its config field: flags win
// over the config file. The map is flag name → apply function.
func override(fs *pflag.FlagSet, set map[string]func()) {
	for name, apply := range set {
		if fs.Changed(name) {
			apply()
		}
	}
}

// processRegistry is a registry with the Go runtime and process metrics
// every node exports.
func processRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// serve opens srv, waits for SIGINT or SIGTERM, then closes it (a graceful
// stop: in-flight work drains, a meta leader hands over leadership).
// started, if not nil, logs what the node is once it is open. A signal
// while Open still waits (a new data node waiting for meta) reaches a
// server that can give up its start (an openCanceller); others finish
// opening first.
func serve(logger *slog.Logger, what string, srv lifecycle, started func()) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opened := make(chan error, 1)
	go func() { opened <- srv.Open() }()
	var err error
	select {
	case err = <-opened:
	case <-ctx.Done():
		logger.Info("stopping " + what + " before it started")
		if c, ok := srv.(openCanceller); ok {
			c.CancelOpen()
		}
		if err = <-opened; err != nil {
			logger.Info(what+" stopped before it started", "reason", err)
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", what, err)
	}
	if started != nil {
		started()
	}
	<-ctx.Done()
	logger.Info("shutting down " + what)
	if err := srv.Close(); err != nil {
		return fmt.Errorf("stop %s: %w", what, err)
	}
	logger.Info(what + " stopped")
	return nil
}

// setGCPercent sets the process's garbage collector target from a data
// node's config, percent and queryPercent while queries run (gcpace),
// unless the operator set GOGC, which wins.
func setGCPercent(logger *slog.Logger, percent, queryPercent int) {
	if env := os.Getenv("GOGC"); env != "" {
		logger.Info("GOGC is set; gc-percent and query-gc-percent ignored", "GOGC", env)
		return
	}
	gcpace.Configure(percent, queryPercent)
}
