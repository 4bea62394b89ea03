package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The default files: the global one, and the user's under $HOME.
const (
	Global = "/etc/criu/default.conf"
	User   = ".criu/default.conf"
)

// Files are the configuration files for the command line args, in
// CRIU's order: Global and $HOME/User (neither with --no-default-config
// or --config), then $CRIU_CONFIG_FILE, then --config FILE.
func Files(args []string, getenv func(string) string) []string {
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
		files = append(files, Global)
		if home := getenv("HOME"); home != "" {
			files = append(files, filepath.Join(home, User))
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

// Kind says what a command makes of an option name.
type Kind int

const (
	// Unknown: no command has it (an error).
	Unknown Kind = iota
	// Other: another command has it (the line is skipped: CRIU's
	// options are common to all commands).
	Other
	// Takes: this command has it.
	Takes
	// TakesOptional: this command has it, with an optional value
	// (verbosity, manage-cgroups): the line's second word is its value.
	TakesOptional
)

// Args are the options of the configuration files for the command line
// args (Files; a missing one is skipped, as CRIU's) as command-line
// words, each option's name judged by kind; none with -h or --help.
func Args(args []string, getenv func(string) string, kind func(name string) Kind) ([]string, error) {
	for _, a := range args {
		if a == "-h" || a == "--help" {
			return nil, nil
		}
	}
	var out []string
	for _, f := range Files(args, getenv) {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("configuration file: %w", err)
		}
		lines, err := Parse(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, l := range lines {
			name, _, hasValue := strings.Cut(strings.TrimPrefix(l.Words[0], "--"), "=")
			switch kind(name) {
			case Unknown:
				return nil, fmt.Errorf("%s:%d: unknown option %q", f, l.N, name)
			case TakesOptional:
				if len(l.Words) == 2 && !hasValue {
					out = append(out, l.Words[0]+"="+l.Words[1])
					continue
				}
				out = append(out, l.Words...)
			case Takes:
				out = append(out, l.Words...)
			}
		}
	}
	return out, nil
}

// Line is one option of a configuration file: its words, the first
// with "--", and its line number.
type Line struct {
	Words []string
	N     int
}

// Parse splits a configuration file into its options.
func Parse(text string) ([]Line, error) {
	var lines []Line
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
		lines = append(lines, Line{words, i + 1})
	}
	return lines, nil
}
