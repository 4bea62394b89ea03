package image

import (
	"testing"

	"google.golang.org/protobuf/proto"
)

func TestLookupKind(t *testing.T) {
	// Kinds whose first entry has its own type.
	heads := map[string]string{
		"pagemap-":       "criugo.images.pagemap_head",
		"pagemap-shmem-": "criugo.images.pagemap_head",
		"ghost-file-":    "criugo.images.ghost_file_entry",
	}
	tests := []struct {
		name    string
		prefix  string
		entry   string // full protobuf name of the (non-head) entry type; "" for raw
		service bool
	}{
		{"inventory.img", "inventory", "criugo.images.inventory_entry", false},
		{"pstree.img", "pstree", "criugo.images.pstree_entry", false},
		{"core-42.img", "core-", "criugo.images.core_entry", false},
		{"seccomp.img", "seccomp", "criugo.images.seccomp_entry", false},
		{"ids-42.img", "ids-", "criugo.images.task_kobj_ids_entry", false},
		{"fs-42.img", "fs-", "criugo.images.fs_entry", false},
		{"mm-42.img", "mm-", "criugo.images.mm_entry", false},
		{"pagemap-42.img", "pagemap-", "criugo.images.pagemap_entry", false},
		{"pagemap-shmem-1234.img", "pagemap-shmem-", "criugo.images.pagemap_entry", false},
		{"pages-1.img", "pages-", "", false},
		{"files.img", "files", "criugo.images.file_entry", false},
		{"fdinfo-2.img", "fdinfo-", "criugo.images.fdinfo_entry", false},
		{"remap-fpath.img", "remap-fpath", "criugo.images.remap_file_path_entry", false},
		{"ghost-file-1f.img", "ghost-file-", "criugo.images.ghost_chunk_entry", false},
		{"pipes-data.img", "pipes-data", "criugo.images.pipe_data_entry", false},
		{"fifo-data.img", "fifo-data", "criugo.images.pipe_data_entry", false},
		{"tty-info.img", "tty-info", "criugo.images.tty_info_entry", false},
		{"tty-data.img", "tty-data", "criugo.images.tty_data_entry", false},
		{"memfd.img", "memfd", "criugo.images.memfd_inode_entry", false},
		{"sk-queues.img", "sk-queues", "criugo.images.sk_packet_entry", false},
		{"tcp-stream-3a2b.img", "tcp-stream-", "criugo.images.tcp_stream_entry", false},
		{"reg-files.img", "reg-files", "criugo.images.reg_file_entry", false},
		{"ext-files.img", "ext-files", "criugo.images.ext_file_entry", false},
		{"ns-files.img", "ns-files", "criugo.images.ns_file_entry", false},
		{"pipes.img", "pipes", "criugo.images.pipe_entry", false},
		{"fifo.img", "fifo", "criugo.images.fifo_entry", false},
		{"unixsk.img", "unixsk", "criugo.images.unix_sk_entry", false},
		{"inetsk.img", "inetsk", "criugo.images.inet_sk_entry", false},
		{"packetsk.img", "packetsk", "criugo.images.packet_sock_entry", false},
		{"eventfd.img", "eventfd", "criugo.images.eventfd_file_entry", false},
		{"eventpoll.img", "eventpoll", "criugo.images.eventpoll_file_entry", false},
		{"eventpoll-tfd.img", "eventpoll-tfd", "criugo.images.eventpoll_tfd_entry", false},
		{"signalfd.img", "signalfd", "criugo.images.signalfd_entry", false},
		{"timerfd.img", "timerfd", "criugo.images.timerfd_entry", false},
		{"filelocks.img", "filelocks", "criugo.images.file_lock_entry", false},
		{"mountpoints-12.img", "mountpoints-", "criugo.images.mnt_entry", false},
		{"tmpfs-dev-70.tar.gz.img", "tmpfs-dev-", "", false},
		{"ipcns-shm-0.img", "ipcns-shm-", "criugo.images.ipc_shm_entry", false},
		{"ipcns-var-7.img", "ipcns-var-", "criugo.images.ipc_var_entry", false},
		{"ipcns-sem-7.img", "ipcns-sem-", "criugo.images.ipc_sem_entry", false},
		{"ipcns-msg-7.img", "ipcns-msg-", "criugo.images.ipc_msg_entry", false},
		{"utsns-7.img", "utsns-", "criugo.images.utsns_entry", false},
		{"timens-0.img", "timens-", "criugo.images.timens_entry", false},
		{"cgroup.img", "cgroup", "criugo.images.cgroup_entry", false},
		{"tty.img", "tty", "criugo.images.tty_file_entry", false},
		{"pidfd.img", "pidfd", "criugo.images.pidfd_entry", false},
		{"vmas-42.img", "vmas-", "criugo.images.vma_entry", false},
		{"sigacts-42.img", "sigacts-", "criugo.images.sa_entry", false},
		{"itimers-42.img", "itimers-", "criugo.images.itimer_entry", false},
		{"posix-timers-42.img", "posix-timers-", "criugo.images.posix_timer_entry", false},
		{"creds-42.img", "creds-", "criugo.images.creds_entry", false},
		{"rlimit-42.img", "rlimit-", "criugo.images.rlimit_entry", false},
		{"ifaddr-1.img", "ifaddr-", "", false},
		{"route-1.img", "route-", "", false},
		{"route6-1.img", "route6-", "", false},
		{"rule-1.img", "rule-", "", false},
		{"rule6-1.img", "rule6-", "", false},
		{"iplinks-1.img", "iplinks-", "", false},
		{"netdev-1.img", "netdev-", "criugo.images.net_device_entry", false},
		{"netns-1.img", "netns-", "criugo.images.netns_entry", false},
		{"stats-dump", "stats-dump", "criugo.images.stats_entry", true},
		{"stats-restore", "stats-restore", "criugo.images.stats_entry", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, ok := LookupKind(tt.name)
			if !ok {
				t.Fatalf("LookupKind(%q): not found", tt.name)
			}
			if k.Prefix != tt.prefix {
				t.Errorf("prefix = %q, want %q", k.Prefix, tt.prefix)
			}
			if k.Service != tt.service {
				t.Errorf("service = %v, want %v", k.Service, tt.service)
			}
			if tt.entry == "" {
				if !k.Raw || k.New != nil || k.Magic != 0 {
					t.Errorf("want raw kind without magic or New, got %+v", k)
				}
				return
			}
			if k.Raw || k.New == nil || k.Magic == 0 {
				t.Fatalf("want a framed kind with magic and New, got %+v", k)
			}
			if got := string(proto.MessageName(k.New())); got != tt.entry {
				t.Errorf("entry type = %s, want %s", got, tt.entry)
			}
			head := ""
			if k.Head != nil {
				head = string(proto.MessageName(k.Head()))
			}
			if want := heads[tt.prefix]; head != want {
				t.Errorf("head type = %q, want %q", head, want)
			}
		})
	}
	// Our stats images before 2026-12 had the suffix.
	if k, ok := LookupKind("stats-dump.img"); !ok || k.Prefix != "stats-dump" {
		t.Errorf("LookupKind(stats-dump.img) = %v, %v", k.Prefix, ok)
	}
	// Every row of the table is exercised above.
	if len(tests) != len(kinds) {
		t.Errorf("%d lookups tested, table has %d kinds", len(tests), len(kinds))
	}
}

func TestLookupKindUnknown(t *testing.T) {
	for _, name := range []string{
		"core-42", "core-.img", "core-4x2.img", "core.img", "pstree-1.img",
		"inventory-1.img", "nosuch.img", "stats.img", "pages-shmem-1.img", "",
	} {
		if k, ok := LookupKind(name); ok {
			t.Errorf("LookupKind(%q) = %q, want not found", name, k.Prefix)
		}
	}
}

// A magic identifies an image to readers that have only its bytes (crit),
// so two kinds share one only where CRIU does and the entry type agrees.
func TestKindMagicsUnique(t *testing.T) {
	shared := map[string]string{
		"pagemap-shmem-": "pagemap-",
		"stats-restore":  "stats-dump",
	}
	byMagic := map[uint32]Kind{}
	prefixes := map[string]bool{}
	for _, k := range kinds {
		if prefixes[k.Prefix] {
			t.Errorf("prefix %q listed twice", k.Prefix)
		}
		prefixes[k.Prefix] = true
		if k.Raw {
			continue
		}
		if k.Magic == MagicCommon || k.Magic == MagicService {
			t.Errorf("%s: image magic %#x is a header magic", k.Prefix, k.Magic)
		}
		prev, dup := byMagic[k.Magic]
		if !dup {
			byMagic[k.Magic] = k
			continue
		}
		if shared[k.Prefix] != prev.Prefix {
			t.Errorf("%s and %s share magic %#x", prev.Prefix, k.Prefix, k.Magic)
			continue
		}
		if a, b := proto.MessageName(prev.New()), proto.MessageName(k.New()); a != b {
			t.Errorf("%s and %s share magic %#x but hold %s and %s", prev.Prefix, k.Prefix, k.Magic, a, b)
		}
	}
}
