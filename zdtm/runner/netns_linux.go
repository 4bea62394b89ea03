package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// twoHosts is a pair of network namespaces joined by a veth pair: the
// source side (the test, criu dump and the image-proxy) and the
// destination side (the image-cache and criu restore). The addresses
// come from 198.18.0.0/15, reserved for benchmarking, and exist only
// inside these namespaces.
type twoHosts struct {
	src, dst         string // namespace names (ip netns)
	srcAddr, dstAddr string
	made             []string // namespaces created, for cleanup
}

func (h *twoHosts) srcPath() string { return filepath.Join("/var/run/netns", h.src) }
func (h *twoHosts) dstPath() string { return filepath.Join("/var/run/netns", h.dst) }

// setupTwoHosts creates the namespaces. On error the returned value, if
// not nil, still needs cleanup.
func setupTwoHosts(ctx context.Context, r *reaper, timeout time.Duration) (*twoHosts, error) {
	id := os.Getpid()
	h := &twoHosts{
		src: fmt.Sprintf("zdtm-src-%d", id), dst: fmt.Sprintf("zdtm-dst-%d", id),
		srcAddr: "198.18.0.1", dstAddr: "198.18.0.2",
	}
	vs, vd := fmt.Sprintf("zs%d", id), fmt.Sprintf("zd%d", id)
	if len(vs) > 15 {
		vs, vd = vs[:15], vd[:15]
	}
	ip := func(args ...string) error {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		log, err := os.CreateTemp("", "zdtm-ip-")
		if err != nil {
			return err
		}
		name := log.Name()
		log.Close()
		defer os.Remove(name)
		if err := r.run(cctx, spec{argv: append([]string{"ip"}, args...), stdout: name}); err != nil {
			out, _ := os.ReadFile(name)
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	for _, ns := range []string{h.src, h.dst} {
		if err := ip("netns", "add", ns); err != nil {
			return h, err
		}
		h.made = append(h.made, ns)
	}
	steps := [][]string{
		{"link", "add", vs, "type", "veth", "peer", "name", vd},
		{"link", "set", vs, "netns", h.src},
		{"link", "set", vd, "netns", h.dst},
		{"-n", h.src, "addr", "add", h.srcAddr + "/24", "dev", vs},
		{"-n", h.dst, "addr", "add", h.dstAddr + "/24", "dev", vd},
		{"-n", h.src, "link", "set", vs, "up"},
		{"-n", h.dst, "link", "set", vd, "up"},
		{"-n", h.src, "link", "set", "lo", "up"},
		{"-n", h.dst, "link", "set", "lo", "up"},
		// Both sides let any group make ping sockets, as systemd sets a
		// host up: the h flavor's icmp_ping00 allows them in the source
		// side, and restore makes them in the destination's.
		{"netns", "exec", h.src, "sh", "-c", pingRange},
		{"netns", "exec", h.dst, "sh", "-c", pingRange},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			// A veth left in the host namespace would outlive us.
			ip("link", "del", vs)
			return h, err
		}
	}
	return h, nil
}

const pingRange = "echo 0 2147483647 >/proc/sys/net/ipv4/ping_group_range"

// cleanup deletes the namespaces (and with them the veth pair).
func (h *twoHosts) cleanup(r *reaper) {
	for _, ns := range h.made {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r.run(ctx, spec{argv: []string{"ip", "netns", "del", ns}})
		cancel()
	}
	h.made = nil
}
