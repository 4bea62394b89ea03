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

// FieldError names the file and the field that is missing or does not
// parse: "parse /proc/123/status: field CapEff "zz": invalid syntax".
type FieldError struct {
	File  string
	Field string
	Value string // as read; empty when the field is missing
	Err   error
}

func (e *FieldError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("parse %s: field %s: %v", e.File, e.Field, e.Err)
	}
	return fmt.Sprintf("parse %s: field %s %q: %v", e.File, e.Field, e.Value, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(file, field, value string, format string, a ...any) error {
	return &FieldError{File: file, Field: field, Value: value, Err: fmt.Errorf("%w: "+format, append([]any{ErrFormat}, a...)...)}
}

// withFile names path as the file of a parse error, which the parsers
// (pure functions over bytes) name by kind only ("stat", "timers").
func withFile(err error, path string) error {
	var pe *ParseError
	if errors.As(err, &pe) {
		pe.File = path
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		fe.File = path
	}
	return err
}
