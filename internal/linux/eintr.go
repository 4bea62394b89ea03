package linux

import (
	"errors"

	"golang.org/x/sys/unix"
)

// How many times RetryEINTR calls fn again after an EINTR.
const (
	Once   = 1  // one retry: the call is not expected to be interrupted twice
	Always = -1 // until it is not interrupted: a call that may block
)

// RetryEINTR calls fn and calls it again, up to retries more times
// (without limit if retries is Always), while it fails with EINTR. It
// returns what the last call returned.
func RetryEINTR[T any](retries int, fn func() (T, error)) (T, error) {
	for i := 0; ; i++ {
		v, err := fn()
		if !errors.Is(err, unix.EINTR) || (retries >= 0 && i >= retries) {
			return v, err
		}
	}
}

// retryErr is RetryEINTR for a call with only an error.
func retryErr(retries int, fn func() error) error {
	_, err := RetryEINTR(retries, func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// errno turns the errno of a raw system call into an error (nil for 0).
func errno(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}
