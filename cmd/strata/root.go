package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Version and Build are stamped at link time with
// -ldflags "-X main.Version=... -X main.Build=...".
var (
	Version = "0.1.0-dev"
	Build   = "unknown"
)

// logOptions are the logging flags every server command shares.
type logOptions struct {
	level  string
	format string
}

func (o *logOptions) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.level, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.format, "log-format", "text", "log format: text or json")
}

// logger builds the process logger writing to w.
func (o *logOptions) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.level)); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q: want debug, info, warn or error", o.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(o.format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("invalid --log-format %q: want text or json", o.format)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "strata",
		Short:         "Strata: a clustered time-series database that speaks the InfluxDB 1.x API",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version + " (" + Build + ")",
	}
	root.AddCommand(newMetaCommand(), newDataCommand(), newCtlCommand(), newLocalCommand(), newBenchCommand(), newHealthcheckCommand())
	return root
}

// applyEnv gives every flag of cmd that was not set on the command line the
// value of its environment variable, if any: prefix + the flag name in upper
// case with dashes as underscores (--http-addr of `strata meta` is
// STRATA_META_HTTP_ADDR).
func applyEnv(fs *pflag.FlagSet, prefix string) error {
	var firstErr error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || firstErr != nil {
			return
		}
		name := prefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v, ok := os.LookupEnv(name)
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			firstErr = fmt.Errorf("environment variable %s: %w", name, err)
		}
	})
	return firstErr
}
