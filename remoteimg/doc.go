// Package remoteimg is the wire protocol between criu, the image proxy and
// the image cache.
//
// Daemons live in imgproxy (source host) and imgcache (target host), the
// client through which criu dump writes images to the proxy and criu
// restore reads them from the cache in criu/image/remote (remote.Store).
// This package holds what all three parties share: framing, messages,
// error codes and their sentinels, the version handshake, name checks and
// snapshot ids, the default socket names. The plumbing both daemons share
// (accept loop and connection set, the owner-only UNIX socket and its
// peer check, TLS, TCP liveness) is in internal/daemon.
//
// What belongs here: the protocol only. It imports nothing of the engine
// (criu/...) nor of proto/images (deps_test.go checks it): it is the
// bottom of the house, and the daemons link it without the engine.
//
//	source host                                       target host
//	criu dump ──UNIX──▶ image-proxy ══TCP(+TLS)══▶ image-cache ◀──UNIX── criu restore
//	(RoleWriter)        (RoleProxy, one connection,    (serves images
//	                     images multiplexed on it)      while arriving)  (RoleReader)
//
// # Frames
//
// Every message on every leg is one frame. Integers are little-endian.
//
//	0        4      5       6          8                    16
//	+--------+------+-------+----------+--------------------+----------------+
//	| u32 len| type | flags | reserved |   u64 stream id    | len bytes      |
//	|        |  u8  | u8 =0 | u16 = 0  |                    | payload        |
//	+--------+------+-------+----------+--------------------+----------------+
//
// len is the payload length and is capped at MaxPayload (the first frame of
// a connection, the Hello, at MaxHelloPayload). An unknown type, non-zero
// flags or reserved bits, an oversized length or a payload that does not
// decode exactly (trailing bytes included) is a protocol error: the
// receiver logs the reason and drops that connection only.
//
// Payload fields are u8/u16/u32/u64, and strings as u16 length + bytes
// (capped at MaxNameLen for names). Snapshot ids and image names must pass
// CheckName: 1..MaxNameLen bytes, no '/', no NUL, no "..", not starting
// with '.'; the cache refuses anything else with CodeBadName, so no name
// from the wire can become a path outside the cache's directory.
//
// Default snapshot ids (SnapshotID) are the images directory's base
// name, a hash of its path and a tag of the source host (HostTag), so
// two hosts dumping one path do not share an id; a restore on another
// host finds the snapshot by the rest (remote.ResolveSnapshot).
//
// # Handshake
//
// The connecting side sends Hello{magic "CRIUGOIM", version, role}; the
// accepting side answers Hello{magic, version, its role} or a Result with
// CodeVersion (other version) or CodePermission (role not served on that
// socket) and closes. Version is 2 (1 had no late image in Confirm); a
// peer of another version is refused at the handshake, never
// half-understood.
//
// # Writing a snapshot (dump → proxy → cache)
//
// The stream id of Put/Data/Commit/Abort/Ack is a transfer id: unique per
// image transfer, chosen by the sender (the proxy draws a random 64-bit
// base per process, so ids never repeat across proxy restarts). Data
// carries its image offset, so a resend is idempotent: the cache ignores
// bytes it already holds and refuses a gap.
//
//	criu dump              image-proxy                   image-cache
//	   │ Hello(writer)          │                              │
//	   │───────────────────────▶│ Hello(proxy)  (at start and  │
//	   │◀──────── Hello ────────│─────────────────────────────▶│ after each
//	   │ Put(s1,snap,par,name)  │◀────────── Hello ────────────│ reconnect)
//	   │───────────────────────▶│                              │
//	   │◀── Result(s1, ok) ─────│ Put(x7, snap, parent, name)  │
//	   │ Data(s1, off, bytes)…  │─────────────────────────────▶│
//	   │───────────────────────▶│ Data(x7, off, bytes)…        │
//	   │                        │─────────────────────────────▶│ stores, then
//	   │                        │◀──────── Ack(x7, off) ───────│ acks: proxy
//	   │ Commit(s1, size, crc)  │                              │ frees ≤ off
//	   │───────────────────────▶│ proxy checks size+crc        │
//	   │◀── Result(s1, ok) ─────│ Commit(x7, size, crc)        │
//	   │  (Writer.Close = nil)  │─────────────────────────────▶│ checks size,
//	   │                        │◀──── Result(x7, ok|code) ────│ crc; fsync
//	   │ … more images, several in flight, interleaved on the TCP leg …
//	   │ Finish(f, snap, parent, manifest[name,size,crc])      │
//	   │───────────────────────▶│ waits until every image of   │
//	   │                        │ snap is acked by the cache   │
//	   │                        │ Finish(f', …same manifest)   │
//	   │                        │─────────────────────────────▶│ checks each
//	   │                        │◀──── Result(f', ok|code) ────│ entry; holds
//	   │◀── Result(f, ok|code) ─│                              │ snap (not served)
//	   │ (frozen time taken:    │                              │
//	   │  stats-dump)       │                              │
//	   │ Confirm(f, snap,       │                              │
//	   │   late stats-dump) │ Confirm(c', snap, late img)  │
//	   │───────────────────────▶│─────────────────────────────▶│ stores the late
//	   │                        │                              │ image, then snap
//	   │                        │                              │ finished: served
//	   │                        │◀──── Result(c', ok|code) ────│ from now
//	   │◀── Result(f, ok|code) ─│                              │
//	   │ (remote.Store.Finish = nil only now; the dump kills its tasks after it)
//
// Commit's ok from the proxy means the proxy holds the whole image with the
// right size and checksum (it will deliver it or fail the Finish). Only the
// Finish result says the cache holds the snapshot. Abort(x) discards an
// image in flight.
//
// The finish has two phases so that the dump's outcome and the
// snapshot's state agree. Finish's ok says the cache holds the snapshot
// whole ("held", durable); the dump then sends Confirm, and only a
// confirmed snapshot is served: a reader of a held snapshot gets an
// image's bytes but its End only once the snapshot is confirmed, so no
// restore started after a failed dump completes from its snapshot. (A
// restore that reads a snapshot while it still arrives gets each image
// whole as soon as it is committed, as before: one racing ahead of a
// dump that then fails is not prevented.) A held
// snapshot that is not confirmed within the cache's resume timeout is
// dropped (its readers get CodeAborted). A Finish the cache refuses
// drops the snapshot at once. The proxy answers a writer before a drain
// closes its connection, and keeps a connection whose Finish it
// answered ok open until its Confirm is answered.
//
// The late image: a snapshot is sealed by its Confirm, yet the dump's
// stats-dump must count the time its tasks stay frozen, which runs
// through the Finish's round trip (the proxy's wait for the cache's
// acks, the cache's fsyncs). So the dump takes its frozen time once
// Finish is answered and sends stats-dump inside the Confirm
// (Name LateImage, CRC, at most MaxLateSize bytes; the only image that
// may come late, and one the manifest does not hold). The cache stores
// it into the held snapshot (its file synced and renamed, then one
// journal line records it with the confirmation) before it serves the
// snapshot: a restore sees the snapshot with its stats whole or not at
// all, and a Get of stats-dump in a held snapshot waits for the
// Confirm. A Confirm resent after a reconnect carries the same bytes
// (idempotent). What the frozen time still leaves out is the Confirm's
// own round trip and the kill (a local dump's stats include both).
//
// One window remains:
// the cache confirmed but the answer did not reach the dump (the proxy
// died just then); the dump fails, resumes its tasks and says that the
// cache may serve the snapshot.
//
// Backpressure: the proxy reads a writer's socket only while it holds less
// than its memory limit of unacknowledged bytes; the cache acknowledges
// data once stored (memory, or a file under -D). A slow link or disk
// therefore stalls the dump instead of growing either daemon. Without a
// directory the cache never stops reading the TCP leg for memory (that
// would stall every snapshot on it): a snapshot its budget cannot hold
// is dropped, its transfers answered CodeNoSpace, and its dump fails.
//
// Refusals a dump turns into its failure (the Result of a Put, Commit or
// Finish): CodeExist (a finished snapshot no restore released, or one a
// restore reads, holds the id), CodeNoSpace (the cache's memory budget),
// CodeShutdown (the cache drains: no new snapshot; without -D no Finish
// either), CodeAborted (the snapshot was given up: no activity for the
// cache's resume timeout, or a new dump under its id).
//
// Data frames carry up to MaxChunk (1 MiB) of image bytes. The writer
// (remote.Writer) sends full chunks straight from the caller's buffer
// (header and bytes in one writev), and never keeps more than 256 KiB
// waiting for the next Write, so a reader of an arriving image is never
// far behind.
//
// Liveness: the proxy's connection to the cache (and the cache's
// accepted ones) set TCP_USER_TIMEOUT and keepalives (daemon.TCPDialer,
// daemon.TCPListenConfig, in internal/daemon), and the proxy drops a
// connection on which a Finish or Confirm has waited its reply timeout
// while the cache sent nothing: a black-holed link fails the dump after
// those and the reconnect timeout. A refusal that retrying cannot heal
// (the proxy's permanent: a TLS certificate or alert, another version, a
// role refused) fails at once.
// Before it freezes, a dump asks the proxy whether the cache is
// reachable (remote.Store.CheckCache: a reader relay, a List).
//
// Reconnect: when the TCP leg drops, the proxy redials with backoff and,
// for every unfinished transfer, resends Put and the Data from the last
// acknowledged offset, then Commit; and any Finish not yet answered. The
// cache deduplicates by transfer id: a Put for a transfer it holds resumes
// it, a Commit for a committed transfer answers ok again, Finish is
// idempotent. If the proxy cannot reconnect within its reconnect timeout,
// the pending images fail with CodeUnavailable and so does Finish. A cache
// that loses its proxy keeps partial images for its resume timeout, then
// fails them (CodeAborted) so their readers are not left waiting.
//
// # Reading (restore → cache)
//
//	criu restore                                image-cache
//	   │ Hello(reader) ──────────────────────────────▶│
//	   │◀──────────────────────────────────── Hello ──│
//	   │ Get(g, snap, name, wait ms) ────────────────▶│ unknown snapshot: waits
//	   │◀──────────────── Result(g, ok | NotExist) ───│ up to wait ms, then
//	   │◀──────────────── Data(g, off, bytes) … ──────│ NotExist; image not yet
//	   │◀──────────────── End(g, size, crc) ──────────│ there: waits for it, or
//	   │   or Result(g, Corrupt|Truncated|Aborted)    │ NotExist at Finish;
//	   │                                              │ End after Confirm;
//	   │                                              │ an image on disk is
//	   │                                              │ checked whole (CRC)
//	   │                                              │ before the Result ok
//	   │ Release(r, snap) ───────────────────────────▶│ frees it unless --keep
//	   │◀─────────────────────── Result(r, ok) ───────│
//	   │ List(l) ────────────────────────────────────▶│
//	   │◀──────────────────── ListReply(l, [...]) ────│
//
// Data is sent as it arrives; the reader returns io.EOF only after End with
// the size and CRC it computed itself. A connection that ends before End is
// an error (ErrTruncated), never a short image. The reader bounds each
// of its waits by remote.Options.WaitSnapshot (restore's --remote-wait):
// for the Get's answer, and for each next frame; when it expires the error
// (ErrUnavailable) names the image and what the cache holds of the
// snapshot (unknown, arriving, held unconfirmed).
//
// # Pre-dump chains
//
// Put and Finish name the snapshot's parent; the cache records it (the
// Finish has the last word) and List reports it. criu dump needs the
// parent's pagemaps to leave unchanged pages there, and only the cache
// holds them, so the proxy also accepts RoleReader on its UNIX socket and
// relays it: a new TCP connection to the cache, handshake as a reader,
// Get and List passed through frame by frame (nothing else). Over TCP the
// cache serves readers Get and List only; Release needs its UNIX socket.
//
//	criu dump ──Hello(reader), List, Get(parent…)──▶ image-proxy
//	          ◀── ListReply, Result, Data…, End ─── ══TCP══▶ image-cache
//
// remote.Store.Parent checks that the cache holds the parent finished
// and returns a read Store on it; restore walks the chain the same way on
// the cache's socket. Release frees the snapshot and then each ancestor no
// remaining snapshot names as its parent; an ancestor still named stays
// (marked released) until its last child goes. --keep keeps everything.
//
// # Checksums
//
// CRC-32C (Castagnoli) of the image bytes, computed by the writer, checked
// by the proxy, the cache and every reader (hash/crc32 with the one
// Castagnoli table: SSE4.2 on amd64, some 10 GB/s, a few percent of a
// transfer's CPU).
package remoteimg
