package cleanup

import (
	"slices"
	"testing"
)

func TestRunReverseAndRelease(t *testing.T) {
	var got []int
	var c Cleanup
	c.Add(func() { got = append(got, 1) })
	c.Add(func() { got = append(got, 2) })
	c.Run()
	c.Run() // forgotten: runs nothing again
	if !slices.Equal(got, []int{2, 1}) {
		t.Fatalf("ran %v, want [2 1]", got)
	}
	got = nil
	c.Add(func() { got = append(got, 3) })
	c.Release()
	c.Run()
	if got != nil {
		t.Fatalf("released undo ran: %v", got)
	}
}
