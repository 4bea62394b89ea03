package mem

import "sort"

// Range lists below are sorted by Start, disjoint and non-empty.

// Intersect returns the parts of a that are also in b.
func Intersect(a, b []Range) []Range {
	var out []Range
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		s, e := max(a[i].Start, b[j].Start), min(a[i].End, b[j].End)
		if s < e {
			out = append(out, Range{s, e})
		}
		if a[i].End < b[j].End {
			i++
		} else {
			j++
		}
	}
	return out
}

// Subtract returns the parts of a that are not in b.
func Subtract(a, b []Range) []Range {
	var out []Range
	j := 0
	for _, r := range a {
		s := r.Start
		for j < len(b) && b[j].End <= s {
			j++
		}
		for k := j; k < len(b) && b[k].Start < r.End; k++ {
			if b[k].Start > s {
				out = append(out, Range{s, b[k].Start})
			}
			s = max(s, b[k].End)
		}
		if s < r.End {
			out = append(out, Range{s, r.End})
		}
	}
	return out
}

// Pages is the number of pages in rs.
func Pages(rs []Range) uint64 {
	var n uint64
	for _, r := range rs {
		n += r.Len() / PageSize
	}
	return n
}

// Merge sorts rs and joins touching or overlapping ranges.
func Merge(rs []Range) []Range {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Start < rs[j].Start })
	var out []Range
	for _, r := range rs {
		if k := len(out); k > 0 && out[k-1].End >= r.Start {
			out[k-1].End = max(out[k-1].End, r.End)
		} else {
			out = append(out, r)
		}
	}
	return out
}
