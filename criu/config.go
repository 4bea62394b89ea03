package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
)

// CRIU's configuration files (criu/config.c, criu.org/Configuration_files):
// one option a line without its leading dashes ("tcp-established",
// "log-file /x.log", "--" is added to the line's first word), words
// split at white space, a word in double quotes kept whole (\" inside),
// # to the end of the line a comment. They are read in this order, each
// overriding the one before, and the command line last, so it wins:
// /etc/criu/default.conf and $HOME/.criu/default.conf (neither with
// --no-default-config or --config), then $CRIU_CONFIG_FILE, then
// --config FILE. A file that does not exist is skipped, as CRIU's.
const (
	globalConfig = "/etc/criu/default.conf"
	userConfig   = ".criu/default.conf" // under $HOME
)

// addConfigFlags defines --config and --no-default-config on every
// command (configArgs has read them before the parse).
func addConfigFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "read options from `FILE` (CRIU's format: one option a line, no leading dashes); the default files are then not read")
	fs.Bool("no-default-config", false, "do not read "+globalConfig+" and $HOME/"+userConfig)
}

// configFiles are the configuration files for the command line args, in
// CRIU's order.
func configFiles(args []string, getenv func(string) string) []string {
	noDefault := false
	cfg := ""
scan:
	for i, a := range args {
		switch {
		case a == "--":
			break scan
		case a == "--no-default-config":
			noDefault = true
		case a == "--config" && i+1 < len(args):
			cfg, noDefault = args[i+1], true
		case strings.HasPrefix(a, "--config="):
			cfg, noDefault = strings.TrimPrefix(a, "--config="), true
		}
	}
	var files []string
	if !noDefault {
		files = append(files, globalConfig)
		if home := getenv("HOME"); home != "" {
			files = append(files, filepath.Join(home, userConfig))
		}
	}
	if env := getenv("CRIU_CONFIG_FILE"); env != "" {
		files = append(files, env)
	}
	if cfg != "" {
		files = append(files, cfg)
	}
	return files
}

// configArgs are the options of the configuration files for args, as
// command-line words to put before args. A line whose option this
// command does not define but another one does is skipped (CRIU's
// options are common to all commands, ours each command's own); an
// option no command knows is an error naming the file and line. With
// -h or --help no file is read.
func configArgs(args []string, cmd *pflag.FlagSet, getenv func(string) string) ([]string, error) {
	for _, a := range args {
		if a == "-h" || a == "--help" {
			return nil, nil
		}
	}
	var out []string
	for _, f := range configFiles(args, getenv) {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("configuration file: %w", err)
		}
		lines, err := parseConfig(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, l := range lines {
			name, _, _ := strings.Cut(strings.TrimPrefix(l.words[0], "--"), "=")
			if fl := cmd.Lookup(name); fl != nil {
				// One option a line: the word after an option whose
				// value is optional (verbosity, manage-cgroups) is
				// its value, not a command argument.
				if fl.NoOptDefVal != "" && len(l.words) == 2 && !strings.Contains(l.words[0], "=") {
					out = append(out, l.words[0]+"="+l.words[1])
				} else {
					out = append(out, l.words...)
				}
				continue
			}
			if !anyCommandFlag(name) {
				return nil, fmt.Errorf("%s:%d: unknown option %q", f, l.n, name)
			}
		}
	}
	return out, nil
}

// anyCommandFlag reports whether some command defines the option name.
func anyCommandFlag(name string) bool {
	for _, c := range commands {
		fs, _, _ := newFlagSet(c)
		if fs.Lookup(name) != nil {
			return true
		}
	}
	return false
}

// configLine is one option of a configuration file: its words, the
// first with "--", and its line number.
type configLine struct {
	words []string
	n     int
}

// parseConfig splits a configuration file into its options.
func parseConfig(text string) ([]configLine, error) {
	var lines []configLine
	for i, line := range strings.Split(text, "\n") {
		var words []string
		rest := line
		for {
			rest = strings.TrimLeft(rest, " \t\r\v\f")
			if rest == "" || rest[0] == '#' {
				break
			}
			var w string
			if rest[0] == '"' {
				var b strings.Builder
				j := 1
				for ; j < len(rest) && rest[j] != '"'; j++ {
					if rest[j] == '\\' && j+1 < len(rest) && rest[j+1] == '"' {
						j++
					}
					b.WriteByte(rest[j])
				}
				if j >= len(rest) {
					return nil, fmt.Errorf("line %d: unterminated quote", i+1)
				}
				w, rest = b.String(), rest[j+1:]
			} else {
				j := strings.IndexAny(rest, " \t\r\v\f")
				if j < 0 {
					j = len(rest)
				}
				w, rest = rest[:j], rest[j:]
			}
			words = append(words, w)
		}
		if len(words) == 0 {
			continue
		}
		words[0] = "--" + strings.TrimPrefix(words[0], "--")
		lines = append(lines, configLine{words, i + 1})
	}
	return lines, nil
}
