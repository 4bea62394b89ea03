package runner

import "strconv"

// The spellings of criu's remote-image options, in one place. dump and
// restore with --remote talk to a local daemon through a UNIX socket:
// the image-proxy for dump, the image-cache for restore.
const (
	flagRemote       = "--remote"
	flagRemoteSocket = "--remote-socket" // followed by the daemon's socket path

	// Options of `criu image-cache` and `criu image-proxy`.
	flagDaemonPort     = "--port"
	flagDaemonAddress  = "--address"
	flagDaemonSocket   = "--local-socket"
	flagDaemonDir      = "-D"
	flagDaemonStatusFd = "--status-fd"
	flagDaemonPidfile  = "--pidfile"
	flagDaemonInsecure = "--insecure" // plain TCP between the two namespaces of --two-hosts
)

// criuLogArgs are the logging options of every criu call.
func criuLogArgs(log string) []string {
	return []string{"--log-file", log, "-v4"}
}

// dumpArgs builds `criu dump` or `criu pre-dump` for pid into dir.
// prev is the previous pre-dump's directory relative to dir, or "".
func dumpArgs(criu, cmd string, pid int, dir, prev string, trackMem bool, remoteSocket string) []string {
	a := []string{criu, cmd, "--tree", strconv.Itoa(pid), "--images-dir", dir}
	a = append(a, criuLogArgs(cmd+".log")...)
	if prev != "" {
		a = append(a, "--prev-images-dir", prev)
	}
	if trackMem {
		a = append(a, "--track-mem")
	}
	if remoteSocket != "" {
		a = append(a, flagRemote, flagRemoteSocket, remoteSocket)
	}
	return a
}

// restoreArgs builds `criu restore` from dir, writing the restored
// root's pid to pidfile.
func restoreArgs(criu, dir, pidfile, remoteSocket string) []string {
	a := []string{criu, "restore", "--images-dir", dir}
	a = append(a, criuLogArgs("restore.log")...)
	a = append(a, "--restore-detached", "--pidfile", pidfile)
	if remoteSocket != "" {
		a = append(a, flagRemote, flagRemoteSocket, remoteSocket)
	}
	return a
}

// daemonArgs builds `criu image-cache` or `criu image-proxy`. The
// status pipe is the child's fd 3.
func daemonArgs(criu, cmd, addr string, port int, socket, dir, pidfile string) []string {
	a := []string{criu, cmd,
		flagDaemonPort, strconv.Itoa(port),
		flagDaemonAddress, addr,
		flagDaemonSocket, socket,
		flagDaemonDir, dir,
		flagDaemonStatusFd, "3",
		flagDaemonPidfile, pidfile,
		flagDaemonInsecure,
	}
	return append(a, criuLogArgs(cmd+".log")...)
}
