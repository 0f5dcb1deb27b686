// Command mr runs MapReduce jobs: a master, workers, a sequential reference
// run, or a whole local cluster in one command. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

const usage = `mr runs MapReduce jobs whose Map and Reduce come from a Go plugin (APP.so).

Usage:
  mr run    [flags] APP.so INPUTS...   master plus local worker processes, in one command
  mr master [flags] INPUTS...          coordinate a job; workers connect to it
  mr worker [flags] APP.so             run tasks for a master
  mr seq    [flags] APP.so INPUTS...   run a job sequentially in one process (the reference)
  mr gen    [flags]                    write deterministic test text
  mr status [flags] ADDR               show a running job (the master's --http address) or a finished one (its --out)

INPUTS are files, directories (every regular file below them) or globs.
Run 'mr COMMAND --help' for a command's flags.
`

// secondSignal is how long after a first signal another one counts as the
// same request to stop.
const secondSignal = 500 * time.Millisecond

// exitError carries an exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	commands := map[string]func(ctx context.Context, args []string) error{
		"run":    runCmd,
		"master": masterCmd,
		"worker": workerCmd,
		"seq":    seqCmd,
		"gen":    genCmd,
		"status": statusCmd,
	}
	name := os.Args[1]
	if name == "help" || name == "-h" || name == "--help" {
		fmt.Print(usage)
		return
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "mr: unknown command %q; run 'mr help' for the list\n", name)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A second Ctrl-C ends a process stuck in app code at once: a moment
	// after the first signal, the default action comes back. Not at once,
	// since one stop can arrive as two signals: timeout(1) signals its
	// child and then its whole process group, which holds the child too.
	context.AfterFunc(ctx, func() { time.AfterFunc(secondSignal, stop) })
	err := cmd(ctx, os.Args[2:])
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if errors.Is(err, pflag.ErrHelp) {
		code = 0
	} else if ctx.Err() != nil {
		fmt.Fprintf(os.Stderr, "mr %s: interrupted\n", name)
		code = 130
	} else {
		fmt.Fprintf(os.Stderr, "mr %s: %s\n", name, oneLine(err.Error()))
	}
	os.Exit(code)
}

// newFlags returns a flag set whose errors come back as one line with a
// pointer to --help, instead of a usage dump.
func newFlags(name, synopsis string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(os.Stderr)
	// Usage runs only for --help (mistakes get one line instead), so it
	// writes to stdout.
	fs.Usage = func() {
		fmt.Fprintf(os.Stdout, "Usage: mr %s %s\n\nFlags:\n%s", name, synopsis, fs.FlagUsages())
	}
	return fs
}

// parse parses args, turning a flag mistake into a usage error (exit 2).
func parse(fs *pflag.FlagSet, args []string) error {
	fs.SetOutput(discard{})
	err := fs.Parse(args)
	fs.SetOutput(os.Stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return err // pflag has shown the usage
	}
	if err != nil {
		return usageError(fs, "%v", err)
	}
	return nil
}

func usageError(fs *pflag.FlagSet, format string, args ...any) error {
	return &exitError{2, fmt.Errorf("%s; see 'mr %s --help'", fmt.Sprintf(format, args...), fs.Name())}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// parseParams turns repeated --param k=v into a map.
func parseParams(fs *pflag.FlagSet, kvs []string) (map[string]string, error) {
	params := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError(fs, "--param %q: want name=value", kv)
		}
		params[k] = v
	}
	return params, nil
}

// oneLine keeps a message on one line, as every error a user sees is.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
