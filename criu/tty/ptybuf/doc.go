// Package ptybuf keeps the bytes waiting in a pty's buffers: at dump,
// what a slave's writer wrote and its master's reader has not read (the
// master's buffer), and the input its slave's reader has not read (the
// slave's), each read out and at once put back (TIOCSTI) so that the
// tree finds them where they were; at restore, the same put back in the
// new pty. What belongs here: the reading, putting back and the checks
// that the bytes come back as they were. What does not: the ptys
// themselves, their files and termios (package tty, tty/termios).
package ptybuf
