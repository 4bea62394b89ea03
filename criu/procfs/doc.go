// Package procfs parses the /proc files that dump needs: maps and smaps
// (with VmFlags), stat, status, fdinfo, auxv, timers and the task list.
//
// Parsers are pure functions over an io.Reader or a byte slice so they can be
// table-tested without privileges; the Read* helpers only open the file under
// /proc and hand it to the parser.
//
// Parsers are strict: a field that is missing or malformed is an error
// wrapping ErrFormat that names the file and the field (a *FieldError,
// "parse /proc/123/status: field CapEff "zz": ...", or a *ParseError
// naming the line), never a zero value. The Read* helpers put the real
// path in the error; a Status remembers its path for its accessors.
package procfs
