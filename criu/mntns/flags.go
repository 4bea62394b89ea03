package mntns

import (
	"strings"

	"golang.org/x/sys/unix"
)

// mountFlags are the per-mount options of mountinfo as MS_* flags.
var mountFlags = map[string]uint32{
	"ro":          unix.MS_RDONLY,
	"nosuid":      unix.MS_NOSUID,
	"nodev":       unix.MS_NODEV,
	"noexec":      unix.MS_NOEXEC,
	"noatime":     unix.MS_NOATIME,
	"nodiratime":  unix.MS_NODIRATIME,
	"relatime":    unix.MS_RELATIME,
	"strictatime": unix.MS_STRICTATIME,
	"nosymfollow": unix.MS_NOSYMFOLLOW,
}

// sbFlags are the superblock options that are MS_* flags.
var sbFlags = map[string]uint32{
	"ro":       unix.MS_RDONLY,
	"sync":     unix.MS_SYNCHRONOUS,
	"dirsync":  unix.MS_DIRSYNC,
	"mand":     unix.MS_MANDLOCK,
	"lazytime": unix.MS_LAZYTIME,
}

// atimeMask are the flags of a mount's atime mode.
const atimeMask = unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME

// parseMountOpts turns per-mount options into flags. A mount that shows
// neither noatime nor relatime is strictatime.
func parseMountOpts(opts []string) (flags uint32, unknown []string) {
	for _, o := range opts {
		if f, ok := mountFlags[o]; ok {
			flags |= f
		} else if o != "rw" {
			unknown = append(unknown, o)
		}
	}
	if flags&(unix.MS_NOATIME|unix.MS_RELATIME) == 0 {
		flags |= unix.MS_STRICTATIME
	}
	return flags, unknown
}

// parseSuperOpts splits a filesystem's options into its MS_* flags and
// the rest, comma-separated as mount(2)'s data.
func parseSuperOpts(opts []string) (flags uint32, data string) {
	var rest []string
	for _, o := range opts {
		if f, ok := sbFlags[o]; ok {
			flags |= f
		} else if o != "rw" && o != "" {
			rest = append(rest, o)
		}
	}
	return flags, strings.Join(rest, ",")
}

// kdev is a device as the kernel's kdev_t, CRIU's encoding of root_dev.
func kdev(major, minor uint32) uint32 { return major<<20 | minor }

// fstypes are CRIU's numbers of the filesystems it names.
var fstypes = map[string]uint32{
	"proc": 1, "sysfs": 2, "devtmpfs": 3, "binfmt_misc": 4, "tmpfs": 5, "devpts": 6,
	"simfs": 7, "pstore": 8, "securityfs": 9, "fusectl": 10, "debugfs": 11, "cgroup": 12,
	"aufs": 13, "mqueue": 14, "fuse": 15, "overlay": 17, "autofs": 18, "tracefs": 19, "cgroup2": 23,
}

// fstypeAuto is CRIU's FSTYPE__AUTO: a filesystem named by fsname.
const fstypeAuto = 16

// newFS are the filesystems a restore mounts anew, whole: each has no
// contents of its own but what its namespace or the kernel gives it
// (a tmpfs's files come from its tar).
var newFS = map[string]bool{
	"proc": true, "sysfs": true, "devpts": true, "mqueue": true, "tmpfs": true,
	"cgroup": true, "cgroup2": true, "binfmt_misc": true,
}
