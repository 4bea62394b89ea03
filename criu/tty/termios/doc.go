// Package termios holds a terminal's settings as CRIU's tty_info entries
// keep them: termios and its locked bits (termios_entry, with CRIU's
// packing of c_cc), the window size and exclusive mode, read from a
// terminal (Read) and set on one (Set); and which waiting input can be
// put back in a terminal's buffer as it was (ReplayableInput). Package
// tty, which checkpoints the terminals, uses it.
package termios
