package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
)

// logOptions are CRIU's logging flags, accepted by every command.
type logOptions struct {
	verbosity int
	file      string
	format    string
}

// verbosityValue implements CRIU's -v: "-v" alone means 4, "-v4" or
// "--verbosity=4" set the level.
type verbosityValue struct{ p *int }

func (v verbosityValue) String() string { return strconv.Itoa(*v.p) }
func (v verbosityValue) Type() string   { return "level" }
func (v verbosityValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 4 {
		return fmt.Errorf("verbosity must be 0..4, got %q", s)
	}
	*v.p = n
	return nil
}

func addLogFlags(fs *pflag.FlagSet) *logOptions {
	lo := &logOptions{verbosity: 2, format: "text"}
	f := fs.VarPF(verbosityValue{&lo.verbosity}, "verbosity", "v", "log level 0..4 (-v alone: 4)")
	f.NoOptDefVal = "4"
	fs.StringVarP(&lo.file, "log-file", "o", "", "write the log to `FILE` instead of standard error")
	fs.StringVar(&lo.format, "log-format", "text", "log format: text or json")
	return lo
}

// logger builds the logger the flags ask for. The returned function
// closes the log file, if any.
func (lo *logOptions) logger(stderr io.Writer) (zerolog.Logger, func(), error) {
	var w io.Writer = stderr
	closeFn := func() {}
	if lo.file != "" && lo.file != "-" {
		f, err := os.OpenFile(lo.file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600) // truncated, as CRIU's
		if err != nil {
			return zerolog.Nop(), closeFn, fmt.Errorf("open log file: %w", err)
		}
		w = f
		closeFn = func() { f.Close() }
	}
	switch lo.format {
	case "json":
	case "text":
		w = zerolog.ConsoleWriter{Out: w, NoColor: true, TimeFormat: "15:04:05.000000"}
	default:
		closeFn()
		return zerolog.Nop(), func() {}, fmt.Errorf("--log-format must be text or json, got %q", lo.format)
	}
	levels := []zerolog.Level{zerolog.ErrorLevel, zerolog.WarnLevel, zerolog.InfoLevel, zerolog.DebugLevel, zerolog.TraceLevel}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	l := zerolog.New(w).Level(levels[lo.verbosity]).With().Timestamp().Logger()
	return l, closeFn, nil
}
