// Package image reads and writes checkpoint images in CRIU's on-disk
// format, and defines the Store through which dump and restore reach them
// (a local directory here, the remote image cache in package remoteimg).
//
// Byte layout of an image file (all integers little-endian):
//
//	+-------------+-------------+----------+-----------------+----------+-----
//	| u32 magic1  | u32 magic2  | u32 len  | len bytes proto | u32 len  | ...
//	+-------------+-------------+----------+-----------------+----------+-----
//	  MagicCommon   image magic   entry 1                     entry 2
//
// magic1 is MagicService for stats-* images. inventory.img has a single
// header word, MagicInventory. Raw images (pages-N.img) have no header and
// no entries: they are the bytes themselves. An image with a header and no
// entries is valid.
//
// Decoders cap every length at MaxEntrySize, read with io.ReadFull and
// report a short or bad image with the file name and byte offset.
//
// An image read from a Store is a stream (a remote one arrives over a
// socket); SeekableCopy gives a consumer that must seek (ip ... restore,
// in package netns) an unlinked temporary file holding its bytes.
package image
