// Package vdso matches a restored task's kernel special mappings (the
// vdso and the vvar pages) with the dumped ones: Targets says where each
// of the new task's mappings moves so that the areas are where the
// images put them, for our images and CRIU's (which records the vvar
// run as one area), and refuses another kernel's layout.
package vdso
