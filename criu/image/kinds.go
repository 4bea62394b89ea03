package image

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/proto/images"
)

// Image magics: the second header word of each kind (CRIU's
// criu/include/magic.h). Several kinds share one magic when they hold the
// same entry type (pagemap and pagemap-shmem; stats-dump and stats-restore).
const (
	magicPstree        uint32 = 0x50273030
	magicFdinfo        uint32 = 0x56213732
	magicPagemap       uint32 = 0x56084025
	magicCore          uint32 = 0x55053847
	magicIDs           uint32 = 0x54432030
	magicVmas          uint32 = 0x54123737
	magicPipes         uint32 = 0x56513555
	magicPipesData     uint32 = 0x56453709
	magicFifo          uint32 = 0x58364939
	magicFifoData      uint32 = 0x59333054
	magicSigact        uint32 = 0x55344201
	magicUnixSk        uint32 = 0x54373943
	magicInetSk        uint32 = 0x56443851
	magicPacketSk      uint32 = 0x60454618
	magicItimers       uint32 = 0x57464056
	magicPosixTimers   uint32 = 0x52603957
	magicSkQueues      uint32 = 0x56264026
	magicCreds         uint32 = 0x54023547
	magicRegFiles      uint32 = 0x50363636
	magicExtFiles      uint32 = 0x59255641
	magicFS            uint32 = 0x51403912
	magicMM            uint32 = 0x57492820
	magicRemapFpath    uint32 = 0x59133954
	magicGhostFile     uint32 = 0x52583605
	magicTCPStream     uint32 = 0x51465506
	magicEventfdFile   uint32 = 0x44523722
	magicEventpollFile uint32 = 0x45023858
	magicEventpollTfd  uint32 = 0x44433746
	magicSignalfd      uint32 = 0x57323820
	magicTTYFiles      uint32 = 0x59433025
	magicTTYInfo       uint32 = 0x59453036
	magicTTYData       uint32 = 0x59413026
	magicRlimit        uint32 = 0x57113925
	magicNsFiles       uint32 = 0x61394011
	magicTimerfd       uint32 = 0x50493712
	magicFiles         uint32 = 0x56303138
	magicMemfdInode    uint32 = 0x48453499
	magicPidfd         uint32 = 0x54435556
	magicFileLocks     uint32 = 0x54323616
	magicIPCShm        uint32 = 0x46283044
	magicIPCVar        uint32 = 0x53115007
	magicIPCMsg        uint32 = 0x55453737
	magicIPCSem        uint32 = 0x59573019
	magicUtsns         uint32 = 0x54473203
	magicMnts          uint32 = 0x55563928
	magicNetdev        uint32 = 0x57373951
	magicNetns         uint32 = 0x55933752
	magicSeccomp       uint32 = 0x64413049
	magicTimens        uint32 = 0x43114433
	magicCgroup        uint32 = 0x59383330
	magicStats         uint32 = 0x57093306 // behind MagicService
)

// newOf returns a Kind.New for entry type T.
func newOf[T any, PT interface {
	*T
	proto.Message
}]() func() proto.Message {
	return func() proto.Message { return PT(new(T)) }
}

// pipeDataPayload returns the size of the pipe or fifo contents that
// follow a PipeDataEntry.
func pipeDataPayload(m proto.Message) int64 {
	return int64(m.(*images.PipeDataEntry).GetBytes())
}

// Limits on the sizes that IPC images give, so that a corrupt image
// cannot make a reader allocate without bound. The kernel's own limits
// are lower (SEMMSL, msgmax, msgmnb) unless raised far beyond use.
const (
	MaxSemValues = 1 << 20  // semaphores in one set
	MaxIPCMsg    = 64 << 20 // bytes of one message's text
)

// ipcShmExtra shows the contents that follow an IpcShmEntry (its size
// rounded up to 4, unless InPagemaps) as crit does: base64 of the
// segment's bytes without the padding.
func ipcShmExtra(dec *Decoder, m proto.Message) ([]byte, error) {
	e := m.(*images.IpcShmEntry)
	if e.GetInPagemaps() {
		return []byte(`""`), nil
	}
	var buf bytes.Buffer
	if err := dec.CopyPayload(&buf, int64((e.GetSize()+3)&^3)); err != nil {
		return nil, err
	}
	return strconv.AppendQuote(nil, base64.StdEncoding.EncodeToString(buf.Bytes()[:e.GetSize()])), nil
}

// ReadSemValues reads the values that follow IpcSemEntry e: Nsems
// little-endian u16, padded to a multiple of 8 bytes.
func ReadSemValues(dec *Decoder, e *images.IpcSemEntry) ([]uint16, error) {
	n := e.GetNsems()
	if n > MaxSemValues {
		return nil, dec.fail(fmt.Errorf("%w: semaphore set %d has %d semaphores (max %d)", ErrBadEntry, e.GetDesc().GetId(), n, MaxSemValues))
	}
	var buf bytes.Buffer
	if err := dec.CopyPayload(&buf, int64((2*n+7)&^7)); err != nil {
		return nil, err
	}
	vals := make([]uint16, n)
	for i := range vals {
		vals[i] = binary.LittleEndian.Uint16(buf.Bytes()[2*i:])
	}
	return vals, nil
}

// AppendSemValues appends the payload of a set with values vals:
// little-endian u16 each, zero-padded to a multiple of 8 bytes.
func AppendSemValues(b []byte, vals []uint16) []byte {
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// semExtra shows a set's values as crit does: a list of numbers.
func semExtra(dec *Decoder, m proto.Message) ([]byte, error) {
	vals, err := ReadSemValues(dec, m.(*images.IpcSemEntry))
	if err != nil {
		return nil, err
	}
	b := []byte{'['}
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(v), 10)
	}
	return append(b, ']'), nil
}

// ReadIPCMsg reads one message of a queue from dec: an IpcMsg entry,
// then Msize bytes of text padded to a multiple of 8. It returns the
// header and the text without the padding.
func ReadIPCMsg(dec *Decoder) (*images.IpcMsg, []byte, error) {
	h := &images.IpcMsg{}
	if err := dec.Decode(h); err != nil {
		if err == io.EOF {
			return nil, nil, dec.fail(fmt.Errorf("%w: message header: %v", ErrShortEntry, io.ErrUnexpectedEOF))
		}
		return nil, nil, err
	}
	n := h.GetMsize()
	if n > MaxIPCMsg {
		return nil, nil, dec.fail(fmt.Errorf("%w: message of %d bytes (max %d)", ErrBadEntry, n, MaxIPCMsg))
	}
	var buf bytes.Buffer
	if err := dec.CopyPayload(&buf, int64(n+7)&^7); err != nil {
		return nil, nil, err
	}
	return h, buf.Bytes()[:n], nil
}

// IPCMsgPadding is the number of zero bytes that follow a message text
// of n bytes in a queue image.
func IPCMsgPadding(n int) int { return (n+7)&^7 - n }

// msgExtra shows a queue's messages as crit does: a list alternating
// each message's header object and its text in base64.
func msgExtra(dec *Decoder, m proto.Message) ([]byte, error) {
	b := []byte{'['}
	for i := uint32(0); i < m.(*images.IpcMsgEntry).GetQnum(); i++ {
		h, text, err := ReadIPCMsg(dec)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = appendMessage(b, h.ProtoReflect(), "", "")
		b = append(b, ',')
		b = strconv.AppendQuote(b, base64.StdEncoding.EncodeToString(text))
	}
	return append(b, ']'), nil
}

// kinds lists every image file this tool reads or writes, named as CRIU
// names them (criu/image-desc.c). "N" below is the per-object id: a pid,
// tid or object id in decimal, or in hex for ghost-file and tcp-stream.
var kinds = []Kind{
	// The header of inventory.img is the single u32 MagicInventory.
	{Prefix: "inventory", Magic: MagicInventory, New: newOf[images.InventoryEntry]()},

	// Process tree and per-task state.
	{Prefix: "pstree", Magic: magicPstree, New: newOf[images.PstreeEntry]()},
	{Prefix: "core-", Numbered: true, Magic: magicCore, New: newOf[images.CoreEntry]()},
	// One SeccompEntry: every thread's filters (package seccomp).
	{Prefix: "seccomp", Magic: magicSeccomp, New: newOf[images.SeccompEntry]()},
	{Prefix: "ids-", Numbered: true, Magic: magicIDs, New: newOf[images.TaskKobjIdsEntry]()},
	{Prefix: "fs-", Numbered: true, Magic: magicFS, New: newOf[images.FsEntry]()},

	// Memory. A pagemap image's first entry is a PagemapHead naming the
	// pages-N.img; every later entry is a PagemapEntry.
	{Prefix: "mm-", Numbered: true, Magic: magicMM, New: newOf[images.MmEntry]()},
	{Prefix: "pagemap-", Numbered: true, Magic: magicPagemap, Head: newOf[images.PagemapHead](), New: newOf[images.PagemapEntry]()},
	{Prefix: "pagemap-shmem-", Numbered: true, Magic: magicPagemap, Name: "PAGEMAP", Head: newOf[images.PagemapHead](), New: newOf[images.PagemapEntry]()},
	{Prefix: "pages-", Numbered: true, Raw: true},

	// Files: files.img holds every open file description, fdinfo-N.img
	// each files table (N is the files_id of TaskKobjIdsEntry).
	{Prefix: "files", Magic: magicFiles, New: newOf[images.FileEntry]()},
	{Prefix: "fdinfo-", Numbered: true, Magic: magicFdinfo, New: newOf[images.FdinfoEntry]()},
	{Prefix: "remap-fpath", Magic: magicRemapFpath, New: newOf[images.RemapFilePathEntry]()},
	// One GhostFileEntry, then the file's bytes. With Chunks set (CRIU
	// does so for regular files of 1 MiB and more) they come as
	// GhostChunkEntry records each followed by Len bytes, as described
	// here; without it the bytes simply run to the end of the image, which
	// Head/New/Payload cannot say: readers must check Chunks themselves.
	{
		Prefix: "ghost-file-", Numbered: true, Magic: magicGhostFile,
		Head: newOf[images.GhostFileEntry](), New: newOf[images.GhostChunkEntry](),
		Payload: func(m proto.Message) int64 { return int64(m.(*images.GhostChunkEntry).GetLen()) },
		// Without chunks, the file's contents follow the head to the end.
		RestIsPayload: func(m proto.Message) bool { return !m.(*images.GhostFileEntry).GetChunks() },
	},
	// Each PipeDataEntry is followed by its Bytes raw bytes.
	{Prefix: "pipes-data", Magic: magicPipesData, New: newOf[images.PipeDataEntry](), Payload: pipeDataPayload},
	{Prefix: "fifo-data", Magic: magicFifoData, New: newOf[images.PipeDataEntry](), Payload: pipeDataPayload},
	{Prefix: "tty-info", Magic: magicTTYInfo, New: newOf[images.TtyInfoEntry]()},
	{Prefix: "tty-data", Magic: magicTTYData, New: newOf[images.TtyDataEntry]()},
	{Prefix: "memfd", Magic: magicMemfdInode, Name: "MEMFD_INODE", New: newOf[images.MemfdInodeEntry]()},
	// Each SkPacketEntry is followed by its Length raw bytes.
	{
		Prefix: "sk-queues", Magic: magicSkQueues, New: newOf[images.SkPacketEntry](),
		Payload: func(m proto.Message) int64 { return int64(m.(*images.SkPacketEntry).GetLength()) },
	},
	// One TcpStreamEntry, then InqLen then OutqLen raw queue bytes.
	{
		Prefix: "tcp-stream-", Numbered: true, Magic: magicTCPStream, New: newOf[images.TcpStreamEntry](),
		Payload: func(m proto.Message) int64 {
			e := m.(*images.TcpStreamEntry)
			return int64(e.GetInqLen()) + int64(e.GetOutqLen())
		},
	},

	// Per-kind file images. Current CRIU writes these descriptions into
	// files.img instead; they are read for older images.
	{Prefix: "reg-files", Magic: magicRegFiles, New: newOf[images.RegFileEntry]()},
	{Prefix: "ext-files", Magic: magicExtFiles, New: newOf[images.ExtFileEntry]()},
	{Prefix: "ns-files", Magic: magicNsFiles, New: newOf[images.NsFileEntry]()},
	{Prefix: "pipes", Magic: magicPipes, New: newOf[images.PipeEntry]()},
	{Prefix: "fifo", Magic: magicFifo, New: newOf[images.FifoEntry]()},
	{Prefix: "unixsk", Magic: magicUnixSk, New: newOf[images.UnixSkEntry]()},
	{Prefix: "inetsk", Magic: magicInetSk, New: newOf[images.InetSkEntry]()},
	{Prefix: "packetsk", Magic: magicPacketSk, New: newOf[images.PacketSockEntry]()},
	{Prefix: "eventfd", Magic: magicEventfdFile, Name: "EVENTFD_FILE", New: newOf[images.EventfdFileEntry]()},
	{Prefix: "eventpoll", Magic: magicEventpollFile, Name: "EVENTPOLL_FILE", New: newOf[images.EventpollFileEntry]()},
	{Prefix: "eventpoll-tfd", Magic: magicEventpollTfd, New: newOf[images.EventpollTfdEntry]()},
	{Prefix: "signalfd", Magic: magicSignalfd, New: newOf[images.SignalfdEntry]()},
	{Prefix: "timerfd", Magic: magicTimerfd, New: newOf[images.TimerfdEntry]()},
	// IPC namespace N (package ipcns). Each IpcShmEntry is followed by
	// the segment's bytes, its size rounded up to 4 (unless InPagemaps);
	// the host's segments that a tree attached are saved as namespace 0.
	{
		Prefix: "ipcns-shm-", Numbered: true, Magic: magicIPCShm, Name: "IPCNS_SHM", New: newOf[images.IpcShmEntry](),
		Extra: ipcShmExtra,
	},
	// One IpcVarEntry: the namespace's sysctls.
	{Prefix: "ipcns-var-", Numbered: true, Magic: magicIPCVar, Name: "IPC_VAR", New: newOf[images.IpcVarEntry]()},
	// Each IpcSemEntry is followed by its values (ReadSemValues).
	{Prefix: "ipcns-sem-", Numbered: true, Magic: magicIPCSem, Name: "IPCNS_SEM", New: newOf[images.IpcSemEntry](), Extra: semExtra},
	// Each IpcMsgEntry is followed by its Qnum messages (ReadIPCMsg).
	{Prefix: "ipcns-msg-", Numbered: true, Magic: magicIPCMsg, Name: "IPCNS_MSG", New: newOf[images.IpcMsgEntry](), Extra: msgExtra},
	// Mount namespace N (package mntns): one MntEntry a mount, parents
	// first; a tmpfs's files as a gzip'ed tar, named by the mount's
	// device (CRIU: RAW_IMAGE_MAGIC, no header).
	{Prefix: "mountpoints-", Numbered: true, Magic: magicMnts, Name: "MNTS", New: newOf[images.MntEntry]()},
	{Prefix: "tmpfs-dev-", Numbered: true, Suffix: ".tar.gz", Raw: true},
	// UTS namespace N (package utsns): one UtsnsEntry.
	{Prefix: "utsns-", Numbered: true, Magic: magicUtsns, New: newOf[images.UtsnsEntry]()},

	// Time namespace N (package timens): one TimensEntry; timens-0.img
	// for a tree in criu's time namespace.
	{Prefix: "timens-", Numbered: true, Magic: magicTimens, New: newOf[images.TimensEntry]()},
	// The tree's cgroups (package cgroup): one CgroupEntry.
	{Prefix: "cgroup", Magic: magicCgroup, New: newOf[images.CgroupEntry]()},

	// File locks of every task: CRIU names it filelocks.img.
	{Prefix: "filelocks", Magic: magicFileLocks, Name: "FILE_LOCKS", New: newOf[images.FileLockEntry]()},
	{Prefix: "tty", Magic: magicTTYFiles, Name: "TTY_FILES", New: newOf[images.TtyFileEntry]()},
	// Newer than Debian 12's crit (3.17), which rejects its magic.
	{Prefix: "pidfd", Magic: magicPidfd, New: newOf[images.PidfdEntry]()},

	// Per-task images of old CRIU versions; current ones keep this state
	// in CoreEntry (vmas in MmEntry).
	{Prefix: "vmas-", Numbered: true, Magic: magicVmas, New: newOf[images.VmaEntry]()},
	{Prefix: "sigacts-", Numbered: true, Magic: magicSigact, Name: "SIGACT", New: newOf[images.SaEntry]()},
	{Prefix: "itimers-", Numbered: true, Magic: magicItimers, New: newOf[images.ItimerEntry]()},
	{Prefix: "posix-timers-", Numbered: true, Magic: magicPosixTimers, New: newOf[images.PosixTimerEntry]()},
	{Prefix: "creds-", Numbered: true, Magic: magicCreds, New: newOf[images.CredsEntry]()},
	{Prefix: "rlimit-", Numbered: true, Magic: magicRlimit, New: newOf[images.RlimitEntry]()},

	// Network namespace N, saved with the ip tool (package netns). CRIU
	// stores the tool's output as is (RAW_IMAGE_MAGIC: no header).
	{Prefix: "ifaddr-", Numbered: true, Raw: true},
	{Prefix: "route-", Numbered: true, Raw: true},
	{Prefix: "route6-", Numbered: true, Raw: true},
	{Prefix: "rule-", Numbered: true, Raw: true},
	// IPv6 rules (`ip -6 rule save`): ours; CRIU saves IPv4 rules only.
	{Prefix: "rule6-", Numbered: true, Raw: true},
	// Our own JSON list of links (netns.LinksImage), which our restore
	// reads; the same links for CRIU in netdev-N.img.
	{Prefix: "iplinks-", Numbered: true, Raw: true},
	{Prefix: "netdev-", Numbered: true, Magic: magicNetdev, New: newOf[images.NetDeviceEntry]()},
	// One NetnsEntry: the namespace's ids of other namespaces and sysctls.
	{Prefix: "netns-", Numbered: true, Magic: magicNetns, New: newOf[images.NetnsEntry]()},

	// Service images: header MagicService, then the magic.
	{Prefix: "stats-dump", Magic: magicStats, Name: "STATS", Service: true, New: newOf[images.StatsEntry]()},
	{Prefix: "stats-restore", Magic: magicStats, Name: "STATS", Service: true, New: newOf[images.StatsEntry]()},
}
