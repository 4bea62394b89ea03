// Package procfs parses the /proc files that dump needs: maps and smaps
// (with VmFlags), stat, status, fdinfo, auxv, timers and the task list.
//
// Parsers are pure functions over an io.Reader or a byte slice so they can be
// table-tested without privileges; the Read* helpers only open the file under
// /proc and hand it to the parser.
package procfs
