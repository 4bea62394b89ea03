// Package pagemap holds what a pagemap-PID.img says of a task's pages:
// which of them follow in this dump's pages-N.img (PE_PRESENT) and which
// were left in the parent images (PE_PARENT, or the old in_parent
// field), and the walk up the parent chain that finds the latter. The
// parent is found as CRIU finds it, through the images' parent link
// (image.Chained: the `parent` symlink of an images directory). There a
// page is either present, at its place in that dump's pages-N.img, or
// PE_PARENT again, one level further up. Where the pages go (a task's
// mappings) is package mm's.
package pagemap
