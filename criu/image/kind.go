package image

import (
	"strings"

	"google.golang.org/protobuf/proto"
)

// Magics at the start of image files (CRIU's magic.h values).
const (
	MagicCommon    uint32 = 0x54564319 // first u32 of every image but inventory and stats
	MagicService   uint32 = 0x55105940 // first u32 of stats-* images
	MagicInventory uint32 = 0x58313116 // inventory.img starts with this alone
)

// Kind describes one kind of image file.
type Kind struct {
	// Prefix is the file name up to the per-object id, e.g. "core-" for
	// "core-42.img", or the whole stem ("inventory") for single images.
	Prefix string
	// Numbered is true when the name is Prefix + id + Suffix + ".img".
	Numbered bool
	// Suffix follows the id of a Numbered name ("tmpfs-dev-5.tar.gz.img").
	Suffix string
	// Magic is the image's own magic (second u32 of the header).
	Magic uint32
	// Service is true for stats-* images (header starts with MagicService).
	Service bool
	// Raw is true for images that are raw bytes without header or
	// entries (pages-N.img, ghost file contents...).
	Raw bool
	// New returns an empty message of the entry type; nil for raw images.
	New func() proto.Message
	// Name is CRIU's name of the image's magic ("CORE", "REG_FILES"),
	// which crit prints as "magic".
	Name string
	// Head, if set, gives the type of the first entry (pagemap-N.img
	// starts with a PagemapHead); New gives the type of the rest.
	Head func() proto.Message
	// Payload, if set, returns how many raw bytes follow entry m in the
	// image (pipe data, ghost file contents).
	Payload func(m proto.Message) int64
	// RestIsPayload, if set, says whether everything after head entry m
	// is raw bytes (a ghost file stored without chunks).
	RestIsPayload func(head proto.Message) bool
	// Extra, if set, reads what follows entry m (semaphore values, a
	// queue's messages) and returns it as the JSON value crit shows as
	// the entry's "extra"; it stands in for Payload where crit shows
	// more than base64 bytes.
	Extra func(dec *Decoder, m proto.Message) ([]byte, error)
}

// LookupKind finds the kind of an image by its file name.
func LookupKind(name string) (Kind, bool) {
	stem, ok := strings.CutSuffix(name, ".img")
	if !ok {
		// CRIU names its stats images without the suffix (stats-dump,
		// stats-restore); our older images had it.
		for _, k := range kinds {
			if k.Service && name == k.Prefix {
				return k, true
			}
		}
		return Kind{}, false
	}
	var best Kind
	found := false
	for _, k := range kinds {
		if k.Numbered {
			rest, ok := strings.CutPrefix(stem, k.Prefix)
			if ok && k.Suffix != "" {
				rest, ok = strings.CutSuffix(rest, k.Suffix)
			} else if ok && strings.Contains(rest, ".") {
				ok = false
			}
			if !ok || rest == "" || !isID(rest) {
				continue
			}
		} else if stem != k.Prefix {
			continue
		}
		if !found || len(k.Prefix) > len(best.Prefix) {
			best, found = k, true
		}
	}
	return best, found
}

// isID reports whether s is a decimal or 0x-hex object id.
func isID(s string) bool {
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		s = h
	}
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// MagicName returns CRIU's name of the kind's magic, as crit prints it.
func (k Kind) MagicName() string {
	if k.Name != "" {
		return k.Name
	}
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSuffix(k.Prefix, "-"), "-", "_"))
}

// LookupMagic finds the kind of an image by its header words, for a file
// whose name does not say it.
func LookupMagic(first, second uint32) (Kind, bool) {
	for _, k := range kinds {
		switch {
		case k.Raw:
		case k.Magic == MagicInventory:
			if first == MagicInventory {
				return k, true
			}
		case k.Service && first == MagicService && second == k.Magic,
			!k.Service && first == MagicCommon && second == k.Magic:
			return k, true
		}
	}
	return Kind{}, false
}
