package image

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/proto/images"
)

// smokeImage frames entries by hand: the header words, then per entry a
// u32 little-endian length and the marshalled message. It deliberately
// does not use the package's Encoder, to check our reading of the format
// independently of it.
func smokeImage(t *testing.T, magics []uint32, msgs ...proto.Message) []byte {
	t.Helper()
	var b []byte
	for _, m := range magics {
		b = binary.LittleEndian.AppendUint32(b, m)
	}
	for _, m := range msgs {
		p, err := proto.Marshal(m)
		if err != nil {
			t.Fatalf("marshal %s: %v", proto.MessageName(m), err)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

// smokeCrit runs crit with args and returns its standard output.
func smokeCrit(t *testing.T, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath("crit")
	if err != nil {
		t.Skip("crit not in PATH (Debian package criu)")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(path, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("crit %q: %v\n%s", args, err, stderr.Bytes())
	}
	return out
}

// smokeDecode writes img under dir as name, decodes it with crit and
// returns the JSON document.
func smokeDecode(t *testing.T, dir, name string, img []byte) map[string]any {
	t.Helper()
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, img, 0o600); err != nil {
		t.Fatal(err)
	}
	out := smokeCrit(t, "decode", "-i", file, "--pretty")
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(out))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		t.Fatalf("crit output of %s is not JSON: %v\n%s", name, err, out)
	}
	return doc
}

// smokeGet walks doc along keys (string for objects, int for arrays).
func smokeGet(t *testing.T, doc any, keys ...any) any {
	t.Helper()
	v := doc
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not an object at %q", keys, k)
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("%v: no member %q in %v", keys, k, m)
			}
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("%v: no element %d", keys, k)
			}
			v = a[k]
		}
	}
	return v
}

func smokeWant(t *testing.T, doc any, want string, keys ...any) {
	t.Helper()
	got := smokeGet(t, doc, keys...)
	if s := smokeString(got); s != want {
		t.Errorf("%v = %s, want %s", keys, s, want)
	}
}

func smokeString(v any) string {
	switch v := v.(type) {
	case json.Number:
		return v.String()
	case string:
		return v
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

func smokeCore() *images.CoreEntry {
	gp := &images.UserX86RegsEntry{
		R15: proto.Uint64(15), R14: proto.Uint64(14), R13: proto.Uint64(13), R12: proto.Uint64(12),
		Bp: proto.Uint64(0x7ffc0000), Bx: proto.Uint64(6), R11: proto.Uint64(0x246), R10: proto.Uint64(10),
		R9: proto.Uint64(9), R8: proto.Uint64(8), Ax: proto.Uint64(0xfffffffffffffdfc), Cx: proto.Uint64(12),
		Dx: proto.Uint64(13), Si: proto.Uint64(14), Di: proto.Uint64(15), OrigAx: proto.Uint64(35),
		Ip: proto.Uint64(0x401000), Cs: proto.Uint64(0x33), Flags: proto.Uint64(0x246), Sp: proto.Uint64(0x7ffc1000),
		Ss: proto.Uint64(0x2b), FsBase: proto.Uint64(0x7f0000001740), GsBase: proto.Uint64(0),
		Ds: proto.Uint64(0), Es: proto.Uint64(0), Fs: proto.Uint64(0), Gs: proto.Uint64(0),
		Mode: images.UserX86RegsMode_NATIVE.Enum(),
	}
	fp := &images.UserX86FpregsEntry{
		Cwd: proto.Uint32(0x37f), Swd: proto.Uint32(0), Twd: proto.Uint32(0), Fop: proto.Uint32(0),
		Rip: proto.Uint64(0), Rdp: proto.Uint64(0), Mxcsr: proto.Uint32(0x1f80), MxcsrMask: proto.Uint32(0xffff),
		StSpace:  make([]uint32, 32),
		XmmSpace: make([]uint32, 64),
		Xsave: &images.UserX86XsaveEntry{
			XstateBv:  proto.Uint64(7),
			YmmhSpace: make([]uint32, 64),
		},
	}
	return &images.CoreEntry{
		Mtype: images.CoreEntry_X86_64.Enum(),
		ThreadInfo: &images.ThreadInfoX86{
			ClearTidAddr: proto.Uint64(0x7f0000001a10),
			Gpregs:       gp,
			Fpregs:       fp,
		},
		Tc: &images.TaskCoreEntry{
			TaskState:   proto.Uint32(1),
			ExitCode:    proto.Uint32(0),
			Personality: proto.Uint32(0),
			Flags:       proto.Uint32(0x400100),
			BlkSigset:   proto.Uint64(0),
			Comm:        proto.String("sleeper"),
			Timers: &images.TaskTimersEntry{
				Real: &images.ItimerEntry{Isec: proto.Uint64(0), Iusec: proto.Uint64(0), Vsec: proto.Uint64(3), Vusec: proto.Uint64(500)},
				Virt: &images.ItimerEntry{Isec: proto.Uint64(0), Iusec: proto.Uint64(0), Vsec: proto.Uint64(0), Vusec: proto.Uint64(0)},
				Prof: &images.ItimerEntry{Isec: proto.Uint64(0), Iusec: proto.Uint64(0), Vsec: proto.Uint64(0), Vusec: proto.Uint64(0)},
			},
			Rlimits: &images.TaskRlimitsEntry{Rlimits: []*images.RlimitEntry{
				{Cur: proto.Uint64(8 << 20), Max: proto.Uint64(^uint64(0))},
			}},
			Sigactions: []*images.SaEntry{{
				Sigaction: proto.Uint64(0x401200), Flags: proto.Uint64(0x4000000), Restorer: proto.Uint64(0x401300),
				Mask: proto.Uint64(0), CompatSigaction: proto.Bool(false),
			}},
			OldSeccompMode: images.SeccompMode_disabled.Enum(),
			OomScoreAdj:    proto.Int32(-100),
		},
		ThreadCore: &images.ThreadCoreEntry{
			FutexRla:    proto.Uint64(0x7f0000001a20),
			FutexRlaLen: proto.Uint32(24),
			SchedNice:   proto.Int32(-5),
			BlkSigset:   proto.Uint64(1 << 9),
			Creds: &images.CredsEntry{
				Uid: proto.Uint32(1000), Gid: proto.Uint32(1000), Euid: proto.Uint32(1000), Egid: proto.Uint32(1000),
				Suid: proto.Uint32(1000), Sgid: proto.Uint32(1000), Fsuid: proto.Uint32(1000), Fsgid: proto.Uint32(1000),
				CapEff: []uint32{0, 0}, CapBnd: []uint32{0xffffffff, 0x1ff},
				Secbits: proto.Uint32(0), Groups: []uint32{24, 27},
			},
			Comm: proto.String("sleeper"),
		},
	}
}

// TestCritSmoke checks that CRIU's crit reads images framed from our
// generated types, and that we read what crit encodes.
func TestCritSmoke(t *testing.T) {
	if _, err := exec.LookPath("crit"); err != nil {
		t.Skip("crit not in PATH (Debian package criu)")
	}
	dir := t.TempDir()

	inv := &images.InventoryEntry{
		ImgVersion:  proto.Uint32(2),
		FdinfoPerId: proto.Bool(true),
		RootIds: &images.TaskKobjIdsEntry{
			VmId: proto.Uint32(1), FilesId: proto.Uint32(2), FsId: proto.Uint32(3), SighandId: proto.Uint32(4),
			PidNsId: proto.Uint32(5),
		},
		NsPerId:    proto.Bool(true),
		Lsmtype:    images.Lsmtype_NO_LSM.Enum(),
		DumpUptime: proto.Uint64(123456789),
	}
	doc := smokeDecode(t, dir, "inventory.img", smokeImage(t, []uint32{MagicInventory}, inv))
	smokeWant(t, doc, "INVENTORY", "magic")
	smokeWant(t, doc, "2", "entries", 0, "img_version")
	smokeWant(t, doc, "true", "entries", 0, "fdinfo_per_id")
	smokeWant(t, doc, "2", "entries", 0, "root_ids", "files_id")
	smokeWant(t, doc, "5", "entries", 0, "root_ids", "pid_ns_id")
	smokeWant(t, doc, "NO_LSM", "entries", 0, "lsmtype")
	smokeWant(t, doc, "123456789", "entries", 0, "dump_uptime")

	core := smokeCore()
	doc = smokeDecode(t, dir, "core-42.img", smokeImage(t, []uint32{MagicCommon, magicCore}, core))
	smokeWant(t, doc, "CORE", "magic")
	e := smokeGet(t, doc, "entries", 0)
	smokeWant(t, e, "X86_64", "mtype")
	smokeWant(t, e, "0x401000", "thread_info", "gpregs", "ip")
	smokeWant(t, e, "0xfffffffffffffdfc", "thread_info", "gpregs", "ax")
	smokeWant(t, e, "NATIVE", "thread_info", "gpregs", "mode")
	smokeWant(t, e, "8064", "thread_info", "fpregs", "mxcsr")
	smokeWant(t, e, "7", "thread_info", "fpregs", "xsave", "xstate_bv")
	smokeWant(t, e, "sleeper", "tc", "comm")
	smokeWant(t, e, "500", "tc", "timers", "real", "vusec")
	smokeWant(t, e, "18446744073709551615", "tc", "rlimits", "rlimits", 0, "max")
	smokeWant(t, e, "0x401200", "tc", "sigactions", 0, "sigaction")
	smokeWant(t, e, "-100", "tc", "oom_score_adj")
	smokeWant(t, e, "-5", "thread_core", "sched_nice")
	smokeWant(t, e, "1000", "thread_core", "creds", "euid")
	smokeWant(t, e, "[24,27]", "thread_core", "creds", "groups")

	pm := smokeImage(t, []uint32{MagicCommon, magicPagemap},
		&images.PagemapHead{PagesId: proto.Uint32(1)},
		&images.PagemapEntry{Vaddr: proto.Uint64(0x400000), CompatNrPages: proto.Uint32(3), Flags: proto.Uint32(4), NrPages: proto.Uint64(3)},
	)
	doc = smokeDecode(t, dir, "pagemap-42.img", pm)
	smokeWant(t, doc, "1", "entries", 0, "pages_id")
	smokeWant(t, doc, "0x400000", "entries", 1, "vaddr")
	// Debian's crit predates field 5 and names field 2 nr_pages.
	smokeWant(t, doc, "3", "entries", 1, "nr_pages")

	stats := &images.StatsEntry{Dump: &images.DumpStatsEntry{
		FreezingTime: proto.Uint32(10), FrozenTime: proto.Uint32(2500), MemdumpTime: proto.Uint32(30),
		MemwriteTime: proto.Uint32(40), PagesScanned: proto.Uint64(100), PagesSkippedParent: proto.Uint64(0),
		PagesWritten: proto.Uint64(90), PagesLazy: proto.Uint64(0),
	}}
	doc = smokeDecode(t, dir, "stats-dump", smokeImage(t, []uint32{MagicService, magicStats}, stats))
	smokeWant(t, doc, "STATS", "magic")
	smokeWant(t, doc, "2500", "entries", 0, "dump", "frozen_time")

	// The other way: crit re-encodes its JSON of the core image, and we
	// must read back the same message.
	js := filepath.Join(dir, "core.json")
	if err := os.WriteFile(js, smokeCrit(t, "decode", "-i", filepath.Join(dir, "core-42.img")), 0o600); err != nil {
		t.Fatal(err)
	}
	back := filepath.Join(dir, "core-back.img")
	smokeCrit(t, "encode", "-i", js, "-o", back)
	img, err := os.ReadFile(back)
	if err != nil {
		t.Fatal(err)
	}
	if len(img) < 12 || binary.LittleEndian.Uint32(img) != MagicCommon || binary.LittleEndian.Uint32(img[4:]) != magicCore {
		t.Fatalf("crit encode header: % x", img[:min(len(img), 12)])
	}
	n := binary.LittleEndian.Uint32(img[8:])
	if int(n) != len(img)-12 {
		t.Fatalf("crit encode: entry length %d, %d bytes follow", n, len(img)-12)
	}
	var got images.CoreEntry
	if err := proto.Unmarshal(img[12:], &got); err != nil {
		t.Fatalf("unmarshal crit's core: %v", err)
	}
	if !proto.Equal(&got, core) {
		t.Errorf("core after crit encode differs:\n got  %v\n want %v", &got, core)
	}
}
