// Command criu checkpoints a running Linux process tree into images and
// restores it from them, locally or through a remote image cache.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/criugo/criu/criu/config"
	"github.com/criugo/criu/criu/netlock"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// criuVersion is the CRIU release whose interface this criu implements
// (its options, images and RPC): what --version prints as CRIU's
// "Version:" line, which tools compare as a CRIU version (LXC wants at
// least 2.0, 2.4 for --skip-in-flight, 2.8 for --external veth[]).
// Our own build follows on CRIU's "GitID:" line.
const criuVersion = "4.2"

// env is what a subcommand gets to run: its logger and standard streams.
// Only main decides the log destination and level.
type env struct {
	Log    zerolog.Logger
	Stdout io.Writer
	Stderr io.Writer
	// Verbosity is the -v level (0..4) the user asked for.
	Verbosity int
}

// sweepsNetlocks are the commands that first remove the network locks
// of a criu that died before finishing (package netlock).
var sweepsNetlocks = map[string]bool{"dump": true, "pre-dump": true, "restore": true, "check": true, "swrk": true}

// command is one subcommand. setup adds the subcommand's own flags to fs
// and returns the function that runs it once flags are parsed.
type command struct {
	name    string
	usage   string // arguments after the name, e.g. "-t PID -D DIR"
	summary string
	setup   func(fs *pflag.FlagSet) func(ctx context.Context, e *env, args []string) error
}

var commands = map[string]*command{}

// register adds a subcommand; called from init in each subcommand's file.
func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("criu: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// usageError is an error in the command line; it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef returns a usageError.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

func main() {
	tuneGC()
	// At once: a signal before the command's own handling must not kill
	// criu (interrupt.go).
	earlySignals = make(chan os.Signal, 4)
	notifyInterrupts(earlySignals)
	if status, ok := supervise(os.Args[1:]); ok {
		os.Exit(status)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// gcPercent is criu's GOGC. A dump or restore allocates much and keeps
// little (a 50-task dump: ~160 MB allocated, a live heap of 1-2 MB), so
// with Go's default of 100 the collector ran 54-58 times in that dump
// (every 4 MB), inside the frozen time; with 400, 8 times (a 16 MB
// goal), and the dump froze the tree 280 ms against 320-380 ms. The
// heap may grow to five times what is live between collections.
const gcPercent = 400

// tuneGC sets gcPercent unless the environment sets GOGC or GOMEMLIMIT.
func tuneGC() {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printHelp(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fs, _, _ := newFlagSet(c)
				printCommandHelp(stdout, c, fs)
				return 0
			}
		}
		printHelp(stdout)
		return 0
	case "-V", "--version", "version":
		fmt.Fprintf(stdout, "Version: %s\nGitID: criu-go-%s\n", criuVersion, version)
		return 0
	}
	// CRIU accepts global options before the command too: find the
	// first word that names a command.
	idx := -1
	for i, a := range args {
		if _, ok := commands[a]; ok {
			idx = i
			break
		}
	}
	if idx < 0 {
		fmt.Fprintf(stderr, "criu: unknown command %q (see criu --help)\n", args[0])
		return 2
	}
	c := commands[args[idx]]
	rest := append(append([]string{}, args[:idx]...), args[idx+1:]...)

	fs, lo, runFn := newFlagSet(c)
	fs.SetOutput(io.Discard)
	conf, err := configArgs(rest, fs, os.Getenv) // before the command line, which wins
	if err != nil {
		fmt.Fprintf(stderr, "criu %s: %v\n", c.name, err)
		return 2
	}
	if err := fs.Parse(fixVerbosity(append(conf, rest...))); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			printCommandHelp(stdout, c, fs)
			return 0
		}
		fmt.Fprintf(stderr, "criu %s: %v (see criu %s --help)\n", c.name, err, c.name)
		return 2
	}
	if help, _ := fs.GetBool("help"); help {
		printCommandHelp(stdout, c, fs)
		return 0
	}
	resolveInWorkDir(fs)
	logger, closeLog, err := lo.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "criu %s: %v\n", c.name, err)
		return 1
	}
	defer closeLog()

	// SIGHUP too: a dumper killed by a closing terminal in the middle of
	// an injected syscall would leave its task with injected registers
	// (interrupt.go).
	ctx, stop := interruptible(&logger)
	defer stop()
	e := &env{Log: logger, Stdout: stdout, Stderr: stderr, Verbosity: lo.verbosity}
	if sweepsNetlocks[c.name] {
		netlock.Sweep(ctx, logger) // the locks of a criu that died mid-dump
	}
	err = runFn(ctx, e, fs.Args())
	if ie, ok := interrupted(ctx); ok {
		if err == nil {
			// After the commit point: the command's result stands.
			logger.Warn().Str("signal", signalName(ie.sig)).Msgf("%s came after the %s was complete: not undone", signalName(ie.sig), c.name)
			return 0
		}
		// What failed is the interruption; the engine's own words (a
		// remote store says "unavailable") go to the log.
		logger.Debug().Err(err).Msg("interrupted")
		msg := ie.Error()
		var d *interruptDetail
		if errors.As(err, &d) {
			msg += ": " + d.msg
		} else if w := interruptedWhat[c.name]; w != "" {
			msg += ": " + w
		}
		if lo.file != "" && lo.file != "-" || lo.format == "json" {
			logger.Error().Msg(msg)
		}
		fmt.Fprintf(stderr, "criu %s: %s\n", c.name, msg)
		return 128 + int(ie.sig)
	}
	if err != nil {
		if lo.file != "" && lo.file != "-" || lo.format == "json" {
			logger.Error().Msg(err.Error())
		}
		fmt.Fprintf(stderr, "criu %s: %v\n", c.name, err)
		var ue *usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

func newFlagSet(c *command) (*pflag.FlagSet, *logOptions, func(context.Context, *env, []string) error) {
	fs := pflag.NewFlagSet("criu "+c.name, pflag.ContinueOnError)
	fs.SortFlags = false
	runFn := c.setup(fs)
	fs.String("config", "", "read options from `FILE` (CRIU's format); the default files are then not read")
	fs.Bool("no-default-config", false, "do not read "+config.Global+" and $HOME/"+config.User)
	lo := addLogFlags(fs)
	fs.BoolP("help", "h", false, "show this help")
	if compatCommands[c.name] {
		check := addCompatFlags(fs)
		inner := runFn
		runFn = func(ctx context.Context, e *env, args []string) error {
			if err := check(); err != nil {
				return err
			}
			return inner(ctx, e, args)
		}
	}
	return fs, lo, runFn
}

func printHelp(w io.Writer) {
	fmt.Fprintf(w, `Usage: criu COMMAND [OPTIONS]

Checkpoint a running process tree into images and restore it, on this host
or on another one through criu image-proxy and criu image-cache.

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, `
Logging options (every command):
  -v, --verbosity N     0 errors only, 1 warnings, 2 info (default), 3 debug, 4 all
  -o, --log-file FILE   write the log to FILE (default: standard error)
      --log-format F    text (default) or json
  -V, --version         print the version

Run "criu COMMAND --help" for a command's options.
`)
}

func printCommandHelp(w io.Writer, c *command, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "Usage: criu %s %s\n\n%s\n\nOptions:\n%s", c.name, c.usage, c.summary, fs.FlagUsages())
}

// fixVerbosity rewrites CRIU's short forms of -v with an attached value
// into "--verbosity=N", which pflag would read as -v followed by more
// short flags. CRIU's -v takes an optional argument: "-v4" sets 4, "-vvv"
// adds one per v to the default level 2, and anything else attached is
// read as a number with atoi, so that "-verbosity=0" (what zdtm.py passes
// to `criu check --feature`) sets 0. Levels above 4 are 4.
func fixVerbosity(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && strings.HasPrefix(a, "-v") {
			a = "--verbosity=" + strconv.Itoa(attachedVerbosity(a[2:]))
		}
		out = append(out, a)
	}
	return out
}

// attachedVerbosity is the level CRIU gives "-v" followed by s.
func attachedVerbosity(s string) int {
	n := 0
	if strings.Trim(s, "v") == "" {
		n = 2 + len(s) + 1
	} else {
		for _, c := range s {
			if c < '0' || c > '9' || n > 4 {
				break
			}
			n = n*10 + int(c-'0')
		}
	}
	return min(n, 4)
}

// resolveInWorkDir applies CRIU's rule for relative paths: the log file
// (-o) and --pidfile are taken relative to the work dir (-W), which is
// the images dir (-D) unless given. With --remote, -D names a snapshot,
// not a directory, and such paths stay relative to the current one.
func resolveInWorkDir(fs *pflag.FlagSet) {
	dir := ""
	if f := fs.Lookup("work-dir"); f != nil && f.Value.String() != "" {
		dir = f.Value.String()
	} else if f := fs.Lookup("images-dir"); f != nil && f.Value.String() != "" {
		if r := fs.Lookup("remote"); r == nil || r.Value.String() != "true" {
			dir = f.Value.String()
		}
	}
	if dir == "" {
		return
	}
	for _, name := range []string{"log-file", "pidfile"} {
		f := fs.Lookup(name)
		if f == nil || !f.Changed {
			continue
		}
		v := f.Value.String()
		if v == "" || v == "-" || filepath.IsAbs(v) {
			continue
		}
		fs.Set(name, filepath.Join(dir, v))
	}
}
