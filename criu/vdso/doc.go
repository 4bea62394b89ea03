// Package vdso puts the kernel's special mappings of a restored task,
// its [vdso] and its vvar pages, where the dumped task had them.
//
// What belongs here: matching the new task's vdso and vvar mappings
// with the dumped VMAs (ours and CRIU 4.2's records: CRIU records the
// adjacent [vvar] and [vvar_vclock] of 6.x kernels as one VVAR area,
// which our dump now does too) and moving them with mremap. What does
// not: the dump's records of them (package mm's Collect), the pages of
// the other mappings (package mm).
package vdso
