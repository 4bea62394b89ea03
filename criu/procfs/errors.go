package procfs

import (
	"errors"
	"fmt"
)

// ErrFormat is wrapped by every parse error.
var ErrFormat = errors.New("bad /proc format")

// ParseError names the file and line that did not parse.
type ParseError struct {
	File string
	Line int
	Text string
	Err  error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("parse %s line %d %q: %v", e.File, e.Line, e.Text, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

func parseErr(file string, line int, text string, format string, a ...any) error {
	return &ParseError{File: file, Line: line, Text: text, Err: fmt.Errorf("%w: "+format, append([]any{ErrFormat}, a...)...)}
}
