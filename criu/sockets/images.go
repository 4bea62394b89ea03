package sockets

// QueuesImage is the image of the messages queued on the tree's sockets
// (CRIU: sk-queues.img, magic SK_QUEUES): per message an SkPacketEntry
// {id_for = the file id of the socket it is queued on, length, addr =
// a datagram's sender name} followed by its length bytes (queue.go).
const QueuesImage = "sk-queues.img"

// Socket states as the kernel reports them (include/net/tcp_states.h);
// UNIX sockets use the same numbers.
const (
	tcpEstablished = 1
	tcpClose       = 7
	tcpListen      = 10
)

// usk_entry uflags (CRIU's USK_*).
const (
	// uskExtern: a socket outside the dumped tree, written with its name
	// and no fd.
	uskExtern = 1 << 0
)
