package image

import (
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

// ipcShmPayload is the size of the contents that follow an IpcShmEntry.
func ipcShmPayload(e *images.IpcShmEntry) int64 {
	if e.GetInPagemaps() {
		return 0
	}
	return int64((e.GetSize() + 3) &^ 3)
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
	// System V shared memory: each IpcShmEntry is followed by the
	// segment's bytes, its size rounded up to 4 (unless InPagemaps).
	{
		Prefix: "ipcns-shm-", Numbered: true, Magic: magicIPCShm, Name: "IPCNS_SHM", New: newOf[images.IpcShmEntry](),
		Payload: func(m proto.Message) int64 { return ipcShmPayload(m.(*images.IpcShmEntry)) },
	},
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
	// Our own JSON list of links (netns.LinksImage); CRIU has netdev-N.img.
	{Prefix: "iplinks-", Numbered: true, Raw: true},

	// Service images: header MagicService, then the magic.
	{Prefix: "stats-dump", Magic: magicStats, Name: "STATS", Service: true, New: newOf[images.StatsEntry]()},
	{Prefix: "stats-restore", Magic: magicStats, Name: "STATS", Service: true, New: newOf[images.StatsEntry]()},
}
