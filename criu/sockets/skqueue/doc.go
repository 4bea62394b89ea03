// Package skqueue saves and refills the messages queued on UNIX sockets,
// both halves, and the descriptors passed in them (SCM_RIGHTS).
//
// Dump (peek.go): Peek reads a socket's receive queue through a copy of
// the socket without consuming it (MSG_PEEK under SO_PEEK_OFF), one
// Packet a message (a stream: a run of bytes), with its datagram
// sender's name and this process's copies of the descriptors it carries.
// Package sockets hands those copies to the dumper, which saves each file
// like a task's fd (also one that no task holds any more: it exists only
// in flight) and gives back its file id (Packet.Rights). Write writes the
// image.
//
// Restore (refill.go): Read reads the image; Refiller sends each message
// again from the socket that sent it, in order, with the restorer's
// descriptions of the passed files (sendmsg with SCM_RIGHTS), once those
// files are open.
//
// Package sockets owns the sockets themselves (their entries, peers and
// names); this package owns their queues' format and facts.
//
// # Image
//
// sk-queues.img (CRIU's, magic SK_QUEUES): after the two magics, per
// queued message, in queue order:
//
//	u32 length of the entry | SkPacketEntry | length bytes of data
//
//	SkPacketEntry{
//	    1 id_for  the file id of the socket it is queued on
//	    2 length  its bytes (0: an empty datagram or seqpacket message)
//	    3 addr    a datagram's sender name (our use of CRIU's reserved
//	              field; absent for a stream and in CRIU's images)
//	    4 scm     [ ScmEntry{1 type = SCM_RIGHTS (1), 2 rights = the
//	              file ids of the passed files, in order} ]
//	}
//
// A passed file is an entry of files.img like any other, with the id
// rights names.
package skqueue
