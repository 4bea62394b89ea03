package tty

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Unix98 pseudo-terminals: /dev/ptmx (5:2) opens a master, whose
// slave is /dev/pts/N (majors 136-143). CRIU numbers a pty's two
// tty_info entries index*2 (slave) and index*2+1 (master).
const (
	ptmxMajor, ptmxMinor = 5, 2
	ptsMajorFirst        = 136
	ptsMajorLast         = 143
)

// The images this package reads and writes.
const (
	// InfoImage holds a tty_info entry per terminal the tree held.
	InfoImage = "tty-info.img"
	// DataImage holds the bytes that waited in a pty's buffers.
	DataImage = "tty-data.img"
)

func isPtmx(rdev uint64) bool {
	return unix.Major(rdev) == ptmxMajor && unix.Minor(rdev) == ptmxMinor
}

func isPts(rdev uint64) bool {
	maj := unix.Major(rdev)
	return maj >= ptsMajorFirst && maj <= ptsMajorLast
}

// IsPty reports an end of a Unix98 pty: /dev/ptmx or a /dev/pts/N.
func IsPty(rdev uint64) bool { return isPtmx(rdev) || isPts(rdev) }

// IsTTY reports a terminal device by its major number.
func IsTTY(rdev uint64) bool {
	maj := unix.Major(rdev)
	return maj == 4 || maj == 5 || (maj >= 136 && maj <= 143)
}

// ptsIndex is the index N of the slave /dev/pts/N with device rdev.
func ptsIndex(rdev uint64) uint32 {
	return (unix.Major(rdev)-ptsMajorFirst)*256 + unix.Minor(rdev)
}

// ttyName names a terminal by its device number (the tty_nr of stat).
func ttyName(dev uint64) string {
	maj, min := unix.Major(dev), unix.Minor(dev)
	if maj >= 136 && maj <= 143 {
		return fmt.Sprintf("/dev/pts/%d", (maj-136)*256+min)
	}
	return fmt.Sprintf("tty %d:%d", maj, min)
}

// CRIU's indexes of external terminals (ETTY_INDEX+1 .. ETTY_INDEX_MAX).
const (
	extTTYIndexFirst = 1013
	extTTYIndexLast  = 1076
)

// TTYKey is CRIU's name of a terminal, for --external and --inherit-fd:
// tty[RDEV:DEV], the device of the terminal and the device of its file
// (its devpts instance), in hex as CRIU prints them (lower case, no
// leading zeros): /dev/pts/1 of devpts 0:26 is tty[8801:1a].
func TTYKey(rdev, dev uint64) string { return fmt.Sprintf("tty[%x:%x]", rdev, dev) }

// ParseTTYKey reads tty[RDEV:DEV] (RDEV and DEV in hex) and returns it
// as TTYKey writes it. ok is false when s is not of the tty form.
func ParseTTYKey(s string) (key string, ok bool, err error) {
	rest, found := strings.CutPrefix(s, "tty[")
	if !found {
		return "", false, nil
	}
	inner, found := strings.CutSuffix(rest, "]")
	a, b, found2 := strings.Cut(inner, ":")
	if !found || !found2 {
		return "", true, fmt.Errorf("%q: want tty[RDEV:DEV], the terminal's device and its file's device in hex", s)
	}
	rdev, err1 := strconv.ParseUint(strings.TrimPrefix(a, "0x"), 16, 32)
	dev, err2 := strconv.ParseUint(strings.TrimPrefix(b, "0x"), 16, 32)
	if err1 != nil || err2 != nil {
		return "", true, fmt.Errorf("%q: RDEV and DEV must be 32-bit hex numbers", s)
	}
	return TTYKey(rdev, dev), true, nil
}
