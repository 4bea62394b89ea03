package image

import "unsafe"

// pageAligned reports whether p starts on a directAlign boundary.
func pageAligned(p []byte) bool {
	return uintptr(unsafe.Pointer(unsafe.SliceData(p)))%directAlign == 0
}
