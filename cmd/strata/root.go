package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
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
		Use:   "strata",
		Short: "Strata: a clustered time-series database that speaks the InfluxDB 1.x API",
		Example: `  strata local                          # a whole cluster on this machine
  strata meta --dir /var/lib/strata/meta
  strata data --meta meta1:8091 --dir /var/lib/strata/data
  strata ctl --meta meta1 show
  strata version`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(newMetaCommand(), newDataCommand(), newCtlCommand(), newLocalCommand(), newBenchCommand(), newHealthcheckCommand(), newVersionCommand())
	root.SetFlagErrorFunc(flagError)
	strictArgs(root)
	return root
}

// versionString is what `strata version` and `strata --version` print:
// the release, the commit it was built from and the Go version.
func versionString() string {
	commit := Build
	if commit == "unknown" {
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, s := range info.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 7 {
					commit = s.Value[:7]
				}
			}
		}
	}
	return fmt.Sprintf("strata %s (commit %s, %s %s/%s)", Version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version, commit and Go version strata was built with",
		Example: "  strata version\n  strata --version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionString())
			return err
		},
	}
}

// usageError is a mistake in how a command was called (an unknown command
// or flag, a wrong number of arguments, a missing required flag): strata
// exits 2 on it, other failures exit 1.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// strictArgs makes every command of the tree under cmd reject what it
// does not know as a usage error: a command with subcommands names the
// closest ones for an unknown word (and prints its help when given none);
// an argument-count or required-flag failure names the command's help.
func strictArgs(cmd *cobra.Command) {
	switch {
	case cmd.HasSubCommands() && cmd.Run == nil && cmd.RunE == nil:
		cmd.Args = unknownCommand
		cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	default:
		check := cmd.Args
		cmd.Args = func(cmd *cobra.Command, args []string) error {
			if check != nil {
				if err := check(cmd, args); err != nil {
					return usagef(cmd, "%w", err)
				}
			}
			if err := cmd.ValidateRequiredFlags(); err != nil {
				return usagef(cmd, "%w", err)
			}
			return nil
		}
	}
	for _, c := range cmd.Commands() {
		strictArgs(c)
	}
}

// usagef builds a usageError that ends by pointing at cmd's help.
func usagef(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format+"\nRun '%s --help' for usage.", append(args, cmd.CommandPath())...)}
}

// unknownCommand is the Args check of a command that only groups others.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		return usagef(cmd, "unknown command %q for %q; did you mean %q?", args[0], cmd.CommandPath(), s[0])
	}
	return usagef(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
}

// flagError turns a flag parse failure into a usageError, naming the
// closest known flag for an unknown one.
func flagError(cmd *cobra.Command, err error) error {
	name, unknown := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !unknown {
		return usagef(cmd, "%w", err)
	}
	best, bestDist := "", 3 // suggest only close names
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		d := editDistance(name, f.Name)
		if strings.HasPrefix(f.Name, name) {
			d = min(d, 1)
		}
		if d < bestDist && !f.Hidden {
			best, bestDist = f.Name, d
		}
	})
	if best == "" {
		return usagef(cmd, "%w", err)
	}
	return usagef(cmd, "%w; did you mean --%s?", err, best)
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
