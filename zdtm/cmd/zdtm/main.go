// Command zdtm runs the zdtm tests, checkpointing and restoring each one
// with criu in between.
//
//	zdtm list
//	zdtm run -t static/NAME [-t ...] [-f h|ns|ct|h,ns,ct] [--iters N] [--pre N] [--nocr]
//	         [--remote] [--two-hosts] [--keep-going] [--criu PATH]
//	         [--dump-criu PATH] [--restore-criu PATH]
//	zdtm run -a
//	zdtm run --bin PATH [-- ARGS]
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/criugo/criu/zdtm/runner"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage:
  zdtm list                      list the tests
  zdtm run -t static/NAME ...    run tests (-a: all of them)
  zdtm run --bin PATH [-- ARGS]  run any binary that speaks the zdtm protocol

Options of run:
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "list":
		return list(args[1:], stdout, stderr)
	case "run":
		return runCmd(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		fs, _ := runFlags()
		fmt.Fprint(stdout, fs.FlagUsages())
		return 0
	}
	fmt.Fprintf(stderr, "zdtm: unknown command %q (want list or run)\n", args[0])
	return 2
}

type runOpts struct {
	tests    []string
	all      bool
	bin      string
	flavor   string
	exclude  []string
	zdtmDir  string
	criu     string
	dumpCriu string
	rstCriu  string
	dumpRoot string
	iters    int
	pre      int
	nocr     bool
	remote   bool
	twoHosts bool
	keep     bool
	corrupt  bool
	timeout  time.Duration
	verbose  bool
}

func runFlags() (*pflag.FlagSet, *runOpts) {
	o := &runOpts{}
	fs := pflag.NewFlagSet("zdtm run", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringArrayVarP(&o.tests, "test", "t", nil, "run test `NAME` (static/NAME); repeatable")
	fs.BoolVarP(&o.all, "all", "a", false, "run every test")
	fs.StringVar(&o.bin, "bin", "", "run the zdtm-protocol binary `PATH`; its own args follow --")
	fs.StringArrayVarP(&o.exclude, "exclude", "x", nil, "skip tests whose name contains `STR`; repeatable")
	fs.StringVarP(&o.flavor, "flavor", "f", "h", "flavor: h (host), ns (each test pid 1 of new pid, net, uts, ipc and mount namespaces), ct (as ns, pivot_root'ed into a container's rootfs; dumped with --external mnt[] for its binds, restored with --root), or a list such as h,ns,ct")
	fs.IntVar(&o.iters, "iters", 1, "dump/restore cycles of the same task")
	fs.IntVar(&o.pre, "pre", 0, "pre-dumps before each dump")
	fs.BoolVar(&o.nocr, "nocr", false, "run without checkpoint/restore")
	fs.BoolVar(&o.remote, "remote", false, "dump and restore through criu image-proxy and image-cache")
	fs.BoolVar(&o.twoHosts, "two-hosts", false, "put the proxy and the cache in two network namespaces (implies --remote)")
	fs.BoolVarP(&o.keep, "keep-going", "k", false, "run the remaining tests after a failure")
	fs.StringVar(&o.criu, "criu", "", "criu binary (default: criu next to this zdtm binary)")
	fs.StringVar(&o.dumpCriu, "dump-criu", "", "dump with this criu `PATH` (default: --criu); for images of one tool restored by another, such as CRIU 4.2")
	fs.StringVar(&o.rstCriu, "restore-criu", "", "restore with this criu `PATH` (default: --criu)")
	fs.StringVar(&o.zdtmDir, "zdtm-dir", "", "the zdtm directory (default: found from the binary or working dir)")
	fs.StringVar(&o.dumpRoot, "dump-root", "", "where to keep images and logs (default: ZDTM_DIR/dump)")
	fs.DurationVar(&o.timeout, "timeout", 120*time.Second, "time limit of each step")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "print each command")
	fs.BoolVar(&o.corrupt, "inject-corruption", false, "start tests with ZDTM_CORRUPT=1 so each corrupts its state before its check (every test must then FAIL)")
	return fs, o
}

func runCmd(args []string, stdout, stderr io.Writer) int {
	fs, o := runFlags()
	fs.SetOutput(io.Discard)
	// Arguments after "--" belong to the --bin test.
	var binArgs []string
	for i, a := range args {
		if a == "--" {
			args, binArgs = args[:i], args[i+1:]
			break
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(stdout, usage, fs.FlagUsages())
			return 0
		}
		fmt.Fprintf(stderr, "zdtm run: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "zdtm run: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if len(binArgs) > 0 && o.bin == "" {
		fmt.Fprintln(stderr, "zdtm run: arguments after -- need --bin")
		return 2
	}
	n := 0
	for _, b := range []bool{o.all, len(o.tests) > 0, o.bin != ""} {
		if b {
			n++
		}
	}
	if n != 1 {
		fmt.Fprintln(stderr, "zdtm run: give exactly one of -t NAME, -a or --bin PATH")
		return 2
	}

	zdtmDir := o.zdtmDir
	var tests []runner.Test
	if o.bin != "" {
		t, err := runner.BinaryTest(o.bin, binArgs)
		if err != nil {
			fmt.Fprintf(stderr, "zdtm run: %v\n", err)
			return 2
		}
		tests = []runner.Test{t}
		if zdtmDir == "" {
			zdtmDir, _ = runner.FindZdtmDir()
		}
	} else {
		var err error
		if zdtmDir == "" {
			if zdtmDir, err = runner.FindZdtmDir(); err != nil {
				fmt.Fprintf(stderr, "zdtm run: %v\n", err)
				return 2
			}
		}
		suite, err := runner.Suite(zdtmDir)
		if err != nil {
			fmt.Fprintf(stderr, "zdtm run: %v\n", err)
			return 2
		}
		if o.all {
			tests = suite
		} else if tests, err = runner.Find(suite, o.tests); err != nil {
			fmt.Fprintf(stderr, "zdtm run: %v\n", err)
			return 2
		}
		tests = exclude(tests, o.exclude)
		for _, t := range tests {
			if _, err := os.Stat(t.Path); err != nil {
				fmt.Fprintf(stderr, "zdtm run: %s is not built (run make -C %s)\n", t.Path, zdtmDir)
				return 2
			}
		}
	}
	dumpRoot := o.dumpRoot
	if dumpRoot == "" {
		if zdtmDir != "" {
			dumpRoot = filepath.Join(zdtmDir, "dump")
		} else {
			dumpRoot = "zdtm-dump"
		}
	}
	criu := o.criu
	if criu == "" {
		if exe, err := os.Executable(); err == nil {
			criu = filepath.Join(filepath.Dir(exe), "criu")
		}
	}
	r, err := runner.New(runner.Options{
		ZdtmDir: zdtmDir, Criu: criu, DumpCriu: o.dumpCriu, RestoreCriu: o.rstCriu, DumpRoot: dumpRoot, Flavor: o.flavor,
		Iters: o.iters, PreDumps: o.pre, NoCR: o.nocr, Remote: o.remote, TwoHosts: o.twoHosts,
		KeepGoing: o.keep, Corrupt: o.corrupt, Timeout: o.timeout, Verbose: o.verbose, Out: stdout,
	})
	if err != nil {
		fmt.Fprintf(stderr, "zdtm run: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := r.Run(ctx, tests)
	if err != nil {
		fmt.Fprintf(stderr, "zdtm run: %v\n", err)
		return 1
	}
	if sum.Failed > 0 || sum.Passed+sum.Skipped < len(tests) {
		return 1
	}
	return 0
}

func exclude(tests []runner.Test, pats []string) []runner.Test {
	if len(pats) == 0 {
		return tests
	}
	var out []runner.Test
next:
	for _, t := range tests {
		for _, p := range pats {
			if strings.Contains(t.Name, p) {
				continue next
			}
		}
		out = append(out, t)
	}
	return out
}

func list(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("zdtm list", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("zdtm-dir", "", "the zdtm directory")
	long := fs.BoolP("long", "l", false, "show each test's arguments")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "zdtm list: %v\n", err)
		return 2
	}
	zdtmDir := *dir
	if zdtmDir == "" {
		var err error
		if zdtmDir, err = runner.FindZdtmDir(); err != nil {
			fmt.Fprintf(stderr, "zdtm list: %v\n", err)
			return 2
		}
	}
	suite, err := runner.Suite(zdtmDir)
	if err != nil {
		fmt.Fprintf(stderr, "zdtm list: %v\n", err)
		return 2
	}
	for _, t := range suite {
		if *long && len(t.Args) > 0 {
			fmt.Fprintf(stdout, "%s %s\n", t.Name, strings.Join(t.Args, " "))
		} else {
			fmt.Fprintln(stdout, t.Name)
		}
	}
	return 0
}
