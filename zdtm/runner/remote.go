package runner

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// remote is a pair of image daemons for one test run.
type remote struct {
	dir         string
	cache       *daemon
	proxy       *daemon
	cacheSocket string
	proxySocket string
}

// daemon is a started `criu image-cache` or `criu image-proxy`.
type daemon struct {
	name string
	p    *proc
	log  string
	// pid and done track the daemon itself, which may differ from p if
	// it forked after writing its status byte.
	pid  int
	done <-chan unix.WaitStatus
}

const daemonReadyTimeout = 20 * time.Second

// startRemote starts the cache, then the proxy that connects to it,
// each waited for on its status fd.
func (ru *run) startRemote(ctx context.Context) (*remote, error) {
	rm := &remote{dir: filepath.Join(ru.dir, strconv.Itoa(ru.dumpedPid), "remote")}
	os.RemoveAll(rm.dir)
	for _, d := range []string{"cache", "proxy"} {
		if err := os.MkdirAll(filepath.Join(rm.dir, d), 0o700); err != nil {
			return nil, fail(StageRemote, err)
		}
	}
	// UNIX socket paths are short (108 bytes): keep them in /tmp.
	sockDir, err := os.MkdirTemp("", "zdtm-sock-")
	if err != nil {
		return nil, fail(StageRemote, err)
	}
	rm.cacheSocket = filepath.Join(sockDir, "cache.sock")
	rm.proxySocket = filepath.Join(sockDir, "proxy.sock")

	addr, listen, port := "127.0.0.1", "127.0.0.1", 0
	var cacheNS, proxyNS string
	if h := ru.r.hosts; h != nil {
		addr, listen, port = h.dstAddr, h.dstAddr, 27182
		cacheNS, proxyNS = h.dstPath(), h.srcPath()
	} else if port, err = freePort(); err != nil {
		os.RemoveAll(sockDir)
		return nil, fail(StageRemote, err)
	}
	rm.cache, err = ru.startDaemon(ctx, "image-cache", listen, port, rm.cacheSocket, filepath.Join(rm.dir, "cache"), cacheNS)
	if err != nil {
		os.RemoveAll(sockDir)
		return nil, err
	}
	rm.proxy, err = ru.startDaemon(ctx, "image-proxy", addr, port, rm.proxySocket, filepath.Join(rm.dir, "proxy"), proxyNS)
	if err != nil {
		rm.kill()
		return nil, err
	}
	return rm, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (ru *run) startDaemon(ctx context.Context, cmd, addr string, port int, socket, dir, netns string) (*daemon, error) {
	pidfile := filepath.Join(dir, cmd+".pid")
	rd, wr, err := os.Pipe()
	if err != nil {
		return nil, fail(StageRemote, err)
	}
	defer rd.Close()
	argv := daemonArgs(ru.r.opts.Criu, cmd, addr, port, socket, dir, pidfile)
	ru.logf("%v", argv)
	d := &daemon{name: cmd, log: filepath.Join(dir, cmd+".log")}
	p, err := ru.r.reaper.start(spec{argv: argv, dir: dir, stdout: filepath.Join(dir, "criu-"+cmd+".out"), extra: []*os.File{wr}, netns: netns})
	wr.Close()
	if err != nil {
		return nil, fail(StageRemote, err)
	}
	d.p, d.pid, d.done = p, p.pid, p.done

	ready := make(chan error, 1)
	go func() {
		var b [1]byte
		n, err := rd.Read(b[:])
		if n == 1 {
			ready <- nil
			return
		}
		ready <- fmt.Errorf("status fd closed without a byte (%v)", err)
	}()
	select {
	case err = <-ready:
	case ws := <-p.done:
		p.status, p.exited = ws, true
		err = fmt.Errorf("%s %s before it was ready", cmd, describe(ws))
	case <-time.After(daemonReadyTimeout):
		err = fmt.Errorf("%s not ready after %v", cmd, daemonReadyTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		p.kill()
		return nil, fail(StageRemote, err, d.details()...)
	}
	// A daemon that forked: follow the pid it wrote.
	if pid, err := readPid(pidfile); err == nil && pid != p.pid {
		if done, err := ru.r.reaper.watch(pid); err == nil {
			d.pid, d.done = pid, done
		}
	}
	return d, nil
}

func (d *daemon) details() []string {
	out := []string{d.name + " log " + d.log + ":"}
	for _, l := range errorLines(d.log, 20) {
		out = append(out, "  "+l)
	}
	o := filepath.Join(filepath.Dir(d.log), "criu-"+d.name+".out")
	if b, err := os.ReadFile(o); err == nil && len(b) > 0 {
		out = append(out, "  output: "+string(b))
	}
	return out
}

// stop asks both daemons to exit (SIGTERM) and checks that they exit 0
// with no error lines in their logs. It kills them on any failure.
func (rm *remote) stop(ctx context.Context, r *reaper) error {
	var errs []string
	var details []string
	for _, d := range []*daemon{rm.proxy, rm.cache} {
		if d == nil {
			continue
		}
		unix.Kill(d.pid, unix.SIGTERM)
		var ws unix.WaitStatus
		select {
		case ws = <-d.done:
			d.done = nil // reaped: kill must not wait for it again
		case <-time.After(10 * time.Second):
			unix.Kill(d.pid, unix.SIGKILL)
			errs = append(errs, d.name+" did not exit 10s after SIGTERM")
			details = append(details, d.details()...)
			continue
		}
		if !ws.Exited() || ws.ExitStatus() != 0 {
			errs = append(errs, fmt.Sprintf("%s %s after SIGTERM", d.name, describe(ws)))
			details = append(details, d.details()...)
		} else if hasErrorLines(d.log) {
			errs = append(errs, d.name+" logged errors")
			details = append(details, d.details()...)
		}
	}
	rm.kill()
	os.RemoveAll(filepath.Dir(rm.cacheSocket))
	if len(errs) > 0 {
		return fail(StageRemote, fmt.Errorf("%v", errs), details...)
	}
	return nil
}

// kill kills whatever daemon still runs.
func (rm *remote) kill() {
	for _, d := range []*daemon{rm.proxy, rm.cache} {
		if d == nil || d.done == nil {
			continue
		}
		select {
		case <-d.done:
			continue
		default:
		}
		unix.Kill(d.pid, unix.SIGKILL)
		select {
		case <-d.done:
		case <-time.After(5 * time.Second):
		}
	}
	if rm.cacheSocket != "" {
		os.RemoveAll(filepath.Dir(rm.cacheSocket))
	}
}
