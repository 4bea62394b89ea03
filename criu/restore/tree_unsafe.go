package restore

import "unsafe"

func ptrOf(v *int32) unsafe.Pointer { return unsafe.Pointer(v) }

func unsafeAddr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }
