// Package tty checkpoints terminals: Unix98 ptys whose master the tree
// holds, external terminals whose other end is outside the tree, and
// the controlling terminals of the tree's sessions. Both halves live
// here, with the images they use (tty-info.img, tty-data.img) and their
// format facts (CRIU's tty_info numbering; a terminal's settings, its
// packing of c_cc and ReplayableInput are the subpackage termios's);
// the orchestrators (criu/dump, criu/restore) call it.
//
// What belongs here: anything about a terminal device, its settings and
// its buffers, which session has it as its controlling terminal and how
// that is given back. What does not: the sessions and groups themselves
// (the tree's), the other shell-job rules (the root's session, stdio
// pipes: criu/dump's shelljob.go, criu/restore's shelljob.go).
//
// # Dump (Set)
//
// The dumped tree holds a Set (NewSet), which sees the tree through Tree
// (its tasks with their stat and their ids inside the tree's pid
// namespace) and the dump's file table through Files. Scan finds, once
// the tree is frozen, the ptys whose master it holds and the terminals
// Options.ExternalTTY names; AddPty and AddExternal record an fd; Write
// writes the images at the end. CheckShellJob is the terminals' part of
// the shell-job rules.
//
// Unix98 ptys whose master and slaves are all in the tree (tty-info.img:
// termios and its locked bits, their c_cc packed four to an entry as
// CRIU writes them (PackCc), window size, lock, packet and exclusive
// modes). A pty whose master the tree holds is the tree's own (a
// terminal multiplexer's pane), not a shell's, at any fd. When it is a
// session's controlling terminal (TIOCGSID and TIOCGPGRP on the master),
// the session's leader and foreground group must be in the tree and
// every live task of that session must have it as its terminal (restore
// gives it to all of them); the session and group go in both ends'
// entries, as in CRIU. Bytes waiting in a master's buffer (written to
// the slave, not yet read) are copied to tty-data.img and put back at
// once with TIOCSTI, which hands them to the master's line discipline,
// always raw: nothing is lost if the dump fails. A master in packet
// mode (TIOCPKT) is copied with packet mode off, so that no status byte
// is taken for data (CRIU 4.2 keeps one: its restore gives the reader a
// NUL more), and restore turns packet mode on last, after the slave's
// termios, whose flow control change would otherwise be a status change
// to read. Input waiting in a
// slave's buffer is kept the same way (read from a slave the master
// opens with TIOCGPTPEER, put back with TIOCSTI) when the slave's mode
// stores input as it comes (ReplayableInput: no ICANON, no ECHO, and
// none of the bytes special in that mode, as for readline or a
// full-screen program); bytes that turn out special go back under a
// mode without them, and the dump is refused. Refused, by name: input
// waiting in canonical mode or with echo (CRIU replays it through the
// line discipline a second time: echoed and edited again), more than
// 2048 waiting bytes on an end, a status change not yet read from a
// master in packet mode (poll's POLLPRI: reading it clears it, and the
// images have no field for it). Not seen
// by any interface, and so neither saved nor refused (as in CRIU): a
// partial canonical input line (typed, no newline yet; TIOCINQ counts
// whole lines only) and a tty stopped by ^S.
//
// External terminals (Options.ExternalTTY, criu dump --external
// tty[RDEV:DEV], CRIU's; dump_ext.go): a terminal whose other end is
// outside the tree, such as a container's console (runc's terminal:
// true, conmon), whose pty master the supervisor holds, or a tmux pane
// dumped by its shell. It cannot be made anew: restore is given the
// terminal that takes its place (criu restore --inherit-fd
// fd[N]:tty[RDEV:DEV]). Without --external such a terminal is refused,
// naming its key (TTYKey).
//
// As CRIU, each such terminal is one tty_info entry of type EXT_TTY,
// with its device (rdev) and its file's device (dev), termios, locked
// termios, window size and exclusive mode, numbered from CRIU's first
// external index 1013 (tty_info id index*2); its files (TtyFileEntry)
// have no regf_id. Unlike CRIU, who asks the task (TIOCGSID through its
// parasite), the session whose controlling terminal it is and its
// foreground group are read from the tasks' /proc stat (tty_nr, tpgid;
// the dumper cannot ask the slave: TIOCGSID answers only a task of that
// session): a session of the tree with its leader in it
// (checkExtCttys), which restore gives the terminal back (TIOCSCTTY,
// TIOCSPGRP), as CRIU does; its leader and group must be in the tree,
// and every task of the session have it.
//
// Refused by name: a pty master or /dev/tty given as external (neither
// is a terminal a caller can hand over), input waiting unread on the
// terminal (it stays in the old terminal, which the restored task will
// not have; a partial line in canonical mode is not counted by the
// kernel and is lost, as in CRIU), a controlling terminal the tree's
// fds cannot tell from another terminal of the same device number, and
// more than CRIU's 64 external terminals.
//
// The console, the virtual terminals (simple.go) and /dev/tty, the alias
// of a task's controlling terminal (alias.go), as CRIU's CONSOLE, VT and
// CTTY: the first two opened again by path at restore, /dev/tty by the
// session leader right after it has taken its terminal back (SetCtty).
//
// Shell jobs (CheckShellJob): a task tied to the shell that started it
// holds the shell's terminal (at fds 0-2, or as its controlling
// terminal). Without Options.ShellJob that fails with ErrShellJob,
// naming the fd or the task; with it the dumper records fds 0-2 as
// external (the restorer's own stdio takes their place), and a session
// leader whose controlling terminal is not the tree's is warned of:
// restore gives it a new session without one.
//
// # Restore (Terminals)
//
// ReadInfo reads tty-info.img with the other images. Open, before the
// tree is created, opens every terminal the tasks' fds lead to in the
// restorer, and gives each to the tree restorer (Restorer: Hold, Share)
// to hand to the tasks; SetCtty, right after a session leader's setsid,
// and SetForeground, once every group exists, give the sessions their
// controlling terminals back, by syscalls injected into the task
// (Remote). TakeForeground gives a shell job the restorer's terminal.
//
// Ptys are opened from /dev/ptmx at their index (devpts hands out the
// lowest free index, so lower ones are held open meanwhile), then their
// slaves, with termios, locked termios and window size, before the tree
// is created, and bytes that waited in a master's buffer are put back
// with TIOCSTI on it (a slave's unread input only when ReplayableInput
// says it comes back as it was; CRIU's images may hold any: refused).
// A pty that was a session's controlling terminal is taken by the
// session leader (TIOCSCTTY on a copy of the restorer's slave) right
// after its setsid, before it forks the tasks of its session, which so
// inherit it; its foreground group is set (TIOCSPGRP) once every group
// is made.
//
// An external terminal (EXT_TTY in tty-info.img; restore_ext.go) is not
// made anew: the restore must be given the terminal that takes its
// place, with --inherit-fd fd[N]:tty[RDEV:DEV] (the key of the dumped
// one, as CRIU names it); without it the restore fails naming the key,
// the task and the fd. Each file of such a terminal is criu's fd N
// opened anew through /proc/self/fd/N (O_NOCTTY), with the dumped access
// mode and status flags: a description of its own, which the task's
// fcntls do not share with the caller's (CRIU hands over a copy of fd N
// itself). As CRIU, the terminal is then given the dumped termios,
// locked termios and window size, and its exclusive mode; and when it
// was the controlling terminal of a session of the tree, its leader
// takes it again right after its setsid (SetCtty, TIOCSCTTY) and its
// foreground group is set back (SetForeground), as for a pty of the
// tree's own; taken, as CRIU, even from a session whose controlling
// terminal it is now (criu's own, when criu runs in the terminal it
// hands over: tmux new-window 'criu restore --inherit-fd
// fd[0]:tty[...]'). fd N must be a terminal; a pty master or /dev/tty is
// refused (reopened, either would be another terminal).
package tty
